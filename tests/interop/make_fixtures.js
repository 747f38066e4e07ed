// Regenerate tests/fixtures/koa_cookies.json: real cookies captured from the
// running Koa server (tests/interop/server.js, koa 3 + koa-session 7.0.2 + keygrip).
//
//   cd tests/interop && npm ci && node make_fixtures.js [output path]
//
// Each scenario starts server.js with its own environment, sends real HTTP
// requests to it and records the exact Set-Cookie lines. The result is a JSON
// object {generated_by, generated_at, versions, fixtures: [...]}; each fixture has
//   name, description, env (server.js environment), keys, digest, cookie_name,
//   max_age (the configured koa maxAge, or null when left to koa's default),
//   steps: [{path, request_cookie, status, set_cookie: [raw lines], body}],
//   set_cookie (the lines of the step that made the cookie), value (the value
//   cookie it set; when it re-issued only the .sig, as in key rotation, the value
//   the request sent; null when it set no value), signature (the .sig it set, ""
//   when it expired it), payload (the decoded value: data + _expire/_maxAge or
//   _session), data (payload without koa's bookkeeping), expires (the value
//   cookie's expires attribute, else the .sig's, else null).
// Fixtures use a ten-year maxAge so that they stay unexpired; the one that shows
// koa's default maxAge says so in its description (its _expire is one day after
// generation, so it is expired by the time a test reads it).

import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Keygrip from 'keygrip';

const here = dirname(fileURLToPath(import.meta.url));
const output = process.argv[2] ?? join(here, '..', 'fixtures', 'koa_cookies.json');
const TEN_YEARS = 10 * 365 * 24 * 3600 * 1000;
const BOOKKEEPING = new Set(['_expire', '_maxAge', '_session']);

function startServer(env) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(here, 'server.js')], {
      env: { ...process.env, PORT: '0', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    let stdout = '';
    const timer = setTimeout(() => {
      child.kill('SIGTERM');
      reject(new Error(`server.js did not start in 10 s: ${stderr}`));
    }, 10000);
    child.stderr.on('data', (chunk) => { stderr += chunk; });
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
      const match = /^LISTENING (\d+)$/m.exec(stdout);
      if (match) {
        clearTimeout(timer);
        resolve({ child, port: Number(match[1]) });
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`server.js exited with ${code}: ${stderr}`));
    });
  });
}

function stopServer({ child }) {
  return new Promise((resolve) => {
    child.removeAllListeners('exit');
    child.on('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

function get(port, path, cookie) {
  return new Promise((resolve, reject) => {
    const headers = cookie ? { Cookie: cookie } : {};
    const req = http.get({ host: '127.0.0.1', port, path, headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => { body += chunk; });
      res.on('end', () => {
        const setCookie = [];
        for (let i = 0; i < res.rawHeaders.length; i += 2) {
          if (res.rawHeaders[i].toLowerCase() === 'set-cookie') setCookie.push(res.rawHeaders[i + 1]);
        }
        let parsed = body;
        try { parsed = JSON.parse(body); } catch { /* keep text */ }
        resolve({ path, request_cookie: cookie ?? null, status: res.statusCode, set_cookie: setCookie, body: parsed });
      });
    });
    req.on('error', reject);
  });
}

function parseSetCookie(line) {
  const [pair, ...attrs] = line.split(/; */);
  const eq = pair.indexOf('=');
  const out = { name: pair.slice(0, eq), value: pair.slice(eq + 1), attrs: {} };
  for (const attr of attrs) {
    const i = attr.indexOf('=');
    if (i < 0) out.attrs[attr.toLowerCase()] = true;
    else out.attrs[attr.slice(0, i).toLowerCase()] = attr.slice(i + 1);
  }
  return out;
}

function cookieHeader(lines) {
  return lines.map((line) => line.split(';')[0]).join('; ');
}

// One scenario: start a server, run `steps` (a function of a `get` bound to it),
// and describe the cookie made at step index `cookieStep`.
async function scenario({ name, description, env, run }) {
  const server = await startServer(env);
  let steps;
  try {
    steps = await run((path, cookie) => get(server.port, path, cookie));
  } finally {
    await stopServer(server);
  }
  const keys = JSON.parse(env.KEYS);
  const digest = env.DIGEST ?? 'sha1';
  const cookieName = env.KEY ?? 'koa.sess';
  const made = steps.find((step) => step.makes) ?? steps[steps.length - 1];
  const cookies = made.set_cookie.map(parseSetCookie);
  const valueCookie = cookies.find((c) => c.name === cookieName);
  const sigCookie = cookies.find((c) => c.name === `${cookieName}.sig`);
  // A re-issued signature alone (key rotation) signs the value the request sent.
  let value = valueCookie ? valueCookie.value : null;
  if (!valueCookie && sigCookie && sigCookie.value && made.request_cookie) {
    const sent = made.request_cookie.split(/; */).find((pair) => pair.startsWith(`${cookieName}=`));
    value = sent ? sent.slice(cookieName.length + 1) : null;
  }
  const fixture = {
    name,
    description,
    env,
    keys,
    digest,
    cookie_name: cookieName,
    max_age: env.MAX_AGE === undefined ? null : (env.MAX_AGE === 'session' ? 'session' : Number(env.MAX_AGE)),
    steps: steps.map(({ makes, ...step }) => step),
    set_cookie: made.set_cookie,
    value,
    signature: sigCookie ? sigCookie.value : null,
    payload: null,
    data: null,
    expires: valueCookie ? (valueCookie.attrs.expires ?? null) : (sigCookie?.attrs.expires ?? null),
  };
  if (value) {
    fixture.payload = JSON.parse(Buffer.from(value, 'base64').toString('utf8'));
    fixture.data = Object.fromEntries(Object.entries(fixture.payload).filter(([k]) => !BOOKKEEPING.has(k)));
  }
  // Self-check: the signature is keygrip's over "name=value" with the first key.
  if (fixture.signature && fixture.value !== null) {
    const expected = new Keygrip(keys, digest).sign(`${cookieName}=${fixture.value}`);
    if (expected !== fixture.signature) throw new Error(`${name}: signature mismatch`);
  }
  return fixture;
}

const base = { KEYS: '["interop-secret"]', MAX_AGE: String(TEN_YEARS) };
const nested = {
  user: { name: 'Zoë Ångström', roles: ['admin', 'editor'], id: 42 },
  greeting: 'こんにちは, привет, مرحبا',
  emoji: '😀👍🏽🎉',
  list: [1, 2.5, -3, null, true, false, { deep: ['a', { deeper: 'ü' }] }],
  empty: { obj: {}, arr: [], str: '' },
  quotes: 'a "quoted" \\ back\\slash / slash <tag> & amp',
};

const scenarios = [
  {
    name: 'views',
    description: 'The seed counter: one GET /incr on a fresh client gives {"views":1}.',
    env: { ...base },
    run: async (get) => [await get('/incr')],
  },
  {
    name: 'views_twice',
    description: 'GET /incr twice with the cookie of the first response: {"views":2}.',
    env: { ...base },
    run: async (get) => {
      const first = await get('/incr');
      const second = await get('/incr', cookieHeader(first.set_cookie));
      return [first, { ...second, makes: true }];
    },
  },
  {
    name: 'nested_unicode',
    description: 'Nested objects and lists, non-ASCII text and emoji, set through /set?json=.',
    env: { ...base },
    run: async (get) => [await get(`/set?json=${encodeURIComponent(JSON.stringify(nested))}`)],
  },
  {
    name: 'max_age_session',
    description: 'MAX_AGE=session: the payload ends with "_session":true and the cookies have no expires.',
    env: { KEYS: '["interop-secret"]', MAX_AGE: 'session' },
    run: async (get) => [await get('/incr')],
  },
  {
    name: 'sha256',
    description: 'app.keys = new Keygrip(keys, "sha256"): a 43-character signature.',
    env: { ...base, DIGEST: 'sha256' },
    run: async (get) => [await get('/incr')],
  },
  {
    name: 'custom_name',
    description: 'Cookie name koa:sess (the seed\'s CONFIG.key).',
    env: { ...base, KEY: 'koa:sess' },
    run: async (get) => [await get('/set?user=1234&role=admin')],
  },
  {
    name: 'key_rotation',
    description: 'A cookie made with KEYS=["old-key"], then read by a server with KEYS=["new-key","old-key"]: '
      + 'the value is accepted and only koa.sess.sig is re-issued, signed with new-key (no expires attribute: '
      + 'a browser-session cookie). The first step comes from the old server.',
    env: { KEYS: '["new-key","old-key"]', MAX_AGE: String(TEN_YEARS) },
    run: async (get) => {
      const old = await startServer({ KEYS: '["old-key"]', MAX_AGE: String(TEN_YEARS) });
      let first;
      try {
        first = await getOn(old.port)('/set?user=alice');
      } finally {
        await stopServer(old);
      }
      const second = await get('/session', cookieHeader(first.set_cookie));
      return [first, { ...second, makes: true }];
    },
  },
  {
    name: 'rotation_then_change',
    description: 'Like key_rotation, but the new server also changes the session (/incr): both cookies '
      + 'are re-sent, signed with new-key, and koa.sess.sig appears once (overwrite).',
    env: { KEYS: '["new-key","old-key"]', MAX_AGE: String(TEN_YEARS) },
    run: async (get) => {
      const old = await startServer({ KEYS: '["old-key"]', MAX_AGE: String(TEN_YEARS) });
      let first;
      try {
        first = await getOn(old.port)('/incr');
      } finally {
        await stopServer(old);
      }
      const second = await get('/incr', cookieHeader(first.set_cookie));
      return [first, { ...second, makes: true }];
    },
  },
  {
    name: 'destroy',
    description: 'GET /destroy with a live session: both cookies removed (expires 1970), '
      + 'koa.sess.sig is the signature of "koa.sess=".',
    env: { ...base },
    run: async (get) => {
      const first = await get('/incr');
      const second = await get('/destroy', cookieHeader(first.set_cookie));
      return [first, { ...second, makes: true }];
    },
  },
  {
    name: 'bad_signature',
    description: 'A valid value with a wrong koa.sess.sig: koa ignores it (new session) and expires '
      + 'koa.sess.sig with only path=/ and httponly (cookies module defaults, not the session options).',
    env: { ...base },
    run: async (get) => {
      const first = await get('/incr');
      const value = first.set_cookie[0].split(';')[0];
      const second = await get('/session', `${value}; koa.sess.sig=AAAAAAAAAAAAAAAAAAAAAAAAAAA`);
      return [first, { ...second, makes: true }];
    },
  },
  {
    name: 'default_max_age',
    description: 'No MAX_AGE (koa-session\'s default of one day): the payload has _maxAge 86400000, '
      + 'but the first Set-Cookie of a new session has NO expires attribute (koa passes its '
      + 'unset maxAge option to the cookies module). _expire is one day after generation.',
    env: { KEYS: '["interop-secret"]' },
    run: async (get) => [await get('/incr')],
  },
  {
    name: 'same_site_lax',
    description: 'SAME_SITE=Lax: samesite=lax on both cookies.',
    env: { ...base, SAME_SITE: 'Lax' },
    run: async (get) => [await get('/incr')],
  },
  {
    name: 'flash',
    description: 'The seed\'s flash: /flash?msg=... sets flash and redirects (302); the cookie holds it.',
    env: { ...base },
    run: async (get) => [await get(`/flash?msg=${encodeURIComponent('Saved ✓')}`)],
  },
];

function getOn(port) {
  return (path, cookie) => get(port, path, cookie);
}

async function main() {
  const fixtures = [];
  for (const sc of scenarios) {
    fixtures.push(await scenario(sc));
  }
  const version = (name) => JSON.parse(readFileSync(join(here, 'node_modules', name, 'package.json'), 'utf8')).version;
  const doc = {
    generated_by: 'tests/interop/make_fixtures.js',
    generated_at: new Date().toISOString(),
    versions: {
      node: process.version,
      koa: version('koa'),
      'koa-session': version('koa-session'),
      cookies: version('cookies'),
      keygrip: version('keygrip'),
    },
    fixtures,
  };
  writeFileSync(output, JSON.stringify(doc, null, 2) + '\n');
  process.stdout.write(`wrote ${fixtures.length} fixtures to ${output}\n`);
}

await main();
