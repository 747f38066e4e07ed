// Run flask-koasession's JavaScript sealing module (koa-sealed.cjs) for the
// Python tests: read a batch of operations as JSON on stdin, print the results
// as JSON on stdout. Needs no node_modules.
//
// Usage: echo '{"module": "/path/to/koa-sealed.cjs", "ops": [...]}' | node sealed.js
//
// Each op: {"op": "seal" | "sealWithNonce" | "unseal" | "encode" | "decode" | "derive",
//           "options": {...sealedCodec options...}, "text", "value", "obj",
//           "nonce" (hex), "key"}
// A key (in options.keys, or "key" for derive) is a string, or {"hex": "..."}
// for bytes.
// Each result: {"ok": <result>} or {"error": {"name", "reason", "syntax", "message"}}
//   seal/sealWithNonce/encode -> the value; unseal -> {text, index};
//   decode -> the object; derive -> {aesKey, keyId} in hex.

import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';

const input = JSON.parse(readFileSync(0, 'utf8'));
const require = createRequire(import.meta.url);
const sealed = require(input.module);

function key(k) {
  return typeof k === 'object' && k !== null && 'hex' in k ? Buffer.from(k.hex, 'hex') : k;
}

function run(op) {
  if (op.op === 'derive') {
    const { aesKey, keyId } = sealed.derive(key(op.key));
    return { aesKey: aesKey.toString('hex'), keyId: keyId.toString('hex') };
  }
  const options = { ...op.options };
  if (Array.isArray(options.keys)) options.keys = options.keys.map(key);
  const codec = sealed.sealedCodec(options);
  switch (op.op) {
    case 'seal':
      return codec.seal(op.text);
    case 'sealWithNonce':
      return codec._sealWithNonce(op.text, Buffer.from(op.nonce, 'hex'));
    case 'unseal':
      return codec.unseal(op.value);
    case 'encode':
      return codec.encode(op.obj);
    case 'decode':
      return codec.decode(op.value);
    default:
      throw new Error(`unknown op ${op.op}`);
  }
}

const results = input.ops.map((op) => {
  try {
    return { ok: run(op) };
  } catch (err) {
    return {
      error: {
        name: err.name,
        reason: err.reason ?? null,
        syntax: err instanceof SyntaxError,
        message: err.message,
      },
    };
  }
});
process.stdout.write(JSON.stringify(results));
