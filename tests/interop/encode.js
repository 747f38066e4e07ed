// Print what koa-session and keygrip produce for given inputs (to make test
// fixtures and to check a Python result against the real thing).
//
// Usage:
//   node encode.js '{"keys":["a"],"name":"koa.sess","payload":{"message":"hello"}}'
//   node encode.js '{"keys":["a"],"value":"eyJ...","sig":"-SZa..."}'
//   echo '{...}' | node encode.js -
//
// Input fields (all optional except keys):
//   keys     keygrip keys, the first signs
//   name     cookie name (default "koa.sess")
//   payload  an object: value = koa-session's util.encode(payload)
//   value    a cookie value to sign (and decode) as is, instead of a payload
//   sig      a signature to verify: its keygrip index for each digest (-1: none)
//   digests  digests to sign with (default ["sha1", "sha256"])
//
// Output (JSON on stdout):
//   {name, value, json, decoded, signed: "<name>=<value>",
//    signatures: {<digest>: <sig>}, index: {<digest>: n} (only with sig),
//    removal_signatures: {<digest>: <sig of "<name>=">}}
//
// koa-session's encode/decode are imported from its own dist (util.js is not in
// the package's exports map, so it is loaded by file URL).

import Keygrip from 'keygrip';
import { readFileSync } from 'node:fs';

const utilUrl = new URL('./util.js', import.meta.resolve('koa-session'));
const { default: util } = await import(utilUrl.href);

function main(argv) {
  let raw = argv[2];
  if (raw === undefined) {
    process.stderr.write('usage: node encode.js \'{"keys":["a"],"payload":{...}}\' (or - for stdin)\n');
    return 2;
  }
  if (raw === '-') raw = readFileSync(0, 'utf8');
  const input = JSON.parse(raw);
  const keys = input.keys;
  if (!Array.isArray(keys) || keys.length === 0) throw new Error('keys: a non-empty array is required');
  const name = input.name ?? 'koa.sess';
  const digests = input.digests ?? ['sha1', 'sha256'];

  let value;
  let json = null;
  if (input.payload !== undefined) {
    value = util.encode(input.payload);
    json = JSON.stringify(input.payload);
  } else if (typeof input.value === 'string') {
    value = input.value;
  } else {
    throw new Error('give payload (an object) or value (a string)');
  }

  let decoded = null;
  try {
    decoded = util.decode(value);
  } catch {
    decoded = null;
  }

  const out = {
    name,
    value,
    json,
    decoded,
    signed: `${name}=${value}`,
    signatures: {},
    removal_signatures: {},
  };
  for (const digest of digests) {
    const grip = new Keygrip(keys, digest);
    out.signatures[digest] = grip.sign(`${name}=${value}`);
    out.removal_signatures[digest] = grip.sign(`${name}=`);
    if (typeof input.sig === 'string') {
      out.index ??= {};
      out.index[digest] = grip.index(`${name}=${value}`, input.sig);
    }
  }
  process.stdout.write(JSON.stringify(out, null, 2) + '\n');
  return 0;
}

process.exitCode = main(process.argv);
