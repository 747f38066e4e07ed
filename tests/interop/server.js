// The real Koa side of flask-koasession's interop tests.
//
// A small Koa 3 app with koa-session 7 (and koa-redis 4 in store mode), configured
// by environment variables, so the Python tests can drive it over real HTTP next to
// its Flask twin (tests/interop/flask_app.py) and check that both read and write
// the same sessions.
//
// Environment:
//   PORT       port to listen on; 0 (default) picks a free one. Once listening, the
//              server prints a line `LISTENING <port>` on stdout.
//   HOST       address to bind (default 127.0.0.1)
//   KEYS       JSON array of keys, the first signs (default ["interop-secret"])
//   DIGEST     keygrip HMAC algorithm (default sha1): app.keys = new Keygrip(KEYS, DIGEST)
//   KEY        cookie name (default koa.sess)
//   MAX_AGE    a number of ms or "session" (default: unset, koa-session's one day)
//   ROLLING, RENEW, SIGNED   "1"/"true" or "0"/"false" (koa-session's defaults when unset)
//   SAME_SITE  koa-session's sameSite option (unset by default)
//   PREFIX     koa-session's prefix option for generated store ids (store mode)
//   REDIS_URL  when set, sessions live in Redis through koa-redis (its defaults:
//              the id is the Redis key, no prefix of its own)
//   SEAL       JSON options for flask-koasession's sealedCodec (e.g.
//              {"encrypt":true,"compress":true}): koa-session's encode/decode
//              come from flask_koasession/js/koa-sealed.cjs, with KEYS and KEY
//
// Routes (every response is JSON):
//   GET /session, GET /touch   the session as it is: {session, isNew, maxAge,
//                              externalKey, populated, length}; /touch is meant
//                              for rolling/renew tests (reads, changes nothing)
//   GET /set?k=v&json={...}    set each query parameter as a string, and merge the
//                              JSON object in `json`; answers like /session
//   GET /incr                  the seed's counter: {views: n}
//   GET /cart?n=N              session.cart = N repetitive items (the same as the
//                              Flask twin's and devkit/payloads.py's): {items: N}
//   GET /destroy               ctx.session = null: {destroyed: true}
//   GET /regenerate            await ctx.session.regenerate(); answers like /session
//   GET /flash?msg=...         the seed's flash: sets ctx.session.flash, redirects to
//                              /show-flash
//   GET /show-flash            {flash: <message or null>}, then ctx.session.flash = null
//   GET /maxage?value=...      ctx.session.maxAge = value (a number, or "session")
//   GET /events                session:missed|expired|invalid events seen since the
//                              last call: [{event, key, value}], then clears them
//
// Stops cleanly on SIGTERM or SIGINT.

import http from 'node:http';
import { createRequire } from 'node:module';
import Koa from 'koa';
import Keygrip from 'keygrip';
import session from 'koa-session';
import redisStore from 'koa-redis';

function envBool(name) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return undefined;
  if (/^(1|true|yes|on)$/i.test(raw)) return true;
  if (/^(0|false|no|off)$/i.test(raw)) return false;
  throw new Error(`${name} must be a boolean (1/0/true/false), got ${JSON.stringify(raw)}`);
}

function parseMaxAge(raw, what) {
  if (raw === 'session') return 'session';
  const n = Number(raw);
  if (raw === '' || !Number.isFinite(n)) {
    throw new Error(`${what} must be a number of ms or "session", got ${JSON.stringify(raw)}`);
  }
  return n;
}

const keys = JSON.parse(process.env.KEYS || '["interop-secret"]');
if (!Array.isArray(keys) || keys.length === 0) throw new Error('KEYS must be a non-empty JSON array');
const digest = process.env.DIGEST || 'sha1';

const app = new Koa();
app.keys = new Keygrip(keys, digest);

const config = { key: process.env.KEY || 'koa.sess' };
if (process.env.MAX_AGE) config.maxAge = parseMaxAge(process.env.MAX_AGE, 'MAX_AGE');
for (const [env, opt] of [['ROLLING', 'rolling'], ['RENEW', 'renew'], ['SIGNED', 'signed']]) {
  const value = envBool(env);
  if (value !== undefined) config[opt] = value;
}
if (process.env.SAME_SITE) config.sameSite = process.env.SAME_SITE;
if (process.env.PREFIX) config.prefix = process.env.PREFIX;
if (process.env.SEAL) {
  const require = createRequire(import.meta.url);
  const { sealedCodec } = require('../../flask_koasession/js/koa-sealed.cjs');
  const codec = sealedCodec({ ...JSON.parse(process.env.SEAL), keys, key: config.key });
  config.encode = codec.encode;
  config.decode = codec.decode;
}

let store;
if (process.env.REDIS_URL) {
  store = redisStore({ url: process.env.REDIS_URL });
  // koa-redis re-emits the client's errors; without a listener they would crash.
  store.on('error', (err) => process.stderr.write(`koa-redis error: ${err.message || err}\n`));
  config.store = store;
}

app.use(session(config, app));

const events = [];
for (const name of ['missed', 'expired', 'invalid']) {
  app.on(`session:${name}`, ({ key, value }) => {
    events.push({ event: name, key: key ?? null, value: value ?? null });
  });
}

function state(ctx) {
  const sess = ctx.session;
  if (!sess) return { session: null, isNew: null, maxAge: null, externalKey: null };
  return {
    session: sess.toJSON(),
    isNew: sess.isNew,
    maxAge: sess.maxAge ?? null,
    externalKey: sess.externalKey ?? null,
    populated: sess.populated,
    length: sess.length,
  };
}

// The routes, by path. A few GET routes need no router package (@koa/router 15
// needs Node 20, and Debian 12's Node is 18).
const routes = new Map();
const router = {
  get(path, handler) {
    routes.set(path, handler);
  },
};

router.get('/session', (ctx) => {
  ctx.body = state(ctx);
});

router.get('/touch', (ctx) => {
  ctx.body = state(ctx);
});

router.get('/set', (ctx) => {
  for (const [name, value] of Object.entries(ctx.query)) {
    if (name === 'json') continue;
    ctx.session[name] = Array.isArray(value) ? value[value.length - 1] : value;
  }
  if (ctx.query.json !== undefined) {
    Object.assign(ctx.session, JSON.parse(ctx.query.json));
  }
  ctx.body = state(ctx);
});

router.get('/incr', (ctx) => {
  let n = ctx.session.views || 0;
  ctx.session.views = ++n;
  ctx.body = { views: n };
});

router.get('/cart', (ctx) => {
  const n = Number(ctx.query.n ?? 0);
  ctx.session.cart = Array.from({ length: n }, (_, i) => ({
    sku: `SKU-${String(i).padStart(5, '0')}`,
    name: 'Organic cotton T-shirt',
    size: 'M',
    qty: 1 + (i % 3),
    price: 19.99,
  }));
  ctx.body = { items: n };
});

router.get('/destroy', (ctx) => {
  ctx.session = null;
  ctx.body = { destroyed: true };
});

router.get('/regenerate', async (ctx) => {
  await ctx.session.regenerate();
  ctx.body = state(ctx);
});

router.get('/flash', (ctx) => {
  ctx.session.flash = ctx.query.msg ?? 'Flash Message Example';
  ctx.redirect('/show-flash');
});

router.get('/show-flash', (ctx) => {
  const message = ctx.session.flash;
  ctx.session.flash = null;
  ctx.body = { flash: message ?? null };
});

router.get('/maxage', (ctx) => {
  ctx.session.maxAge = parseMaxAge(ctx.query.value ?? '', 'value');
  ctx.body = state(ctx);
});

router.get('/events', (ctx) => {
  ctx.body = events.splice(0, events.length);
});

app.use(async (ctx, next) => {
  const handler = routes.get(ctx.path);
  if (handler === undefined) return next(); // koa's 404
  if (ctx.method !== 'GET' && ctx.method !== 'HEAD') {
    ctx.status = 405;
    ctx.set('Allow', 'GET, HEAD');
    return undefined;
  }
  return handler(ctx);
});

// Errors go to stderr (the harness shows them); the client gets a plain 500.
app.on('error', (err) => {
  process.stderr.write(`koa error: ${err.stack || err}\n`);
});

const server = http.createServer(app.callback());
server.keepAliveTimeout = 1000;
server.listen(Number(process.env.PORT || 0), process.env.HOST || '127.0.0.1', () => {
  process.stdout.write(`LISTENING ${server.address().port}\n`);
});

let stopping = false;
function stop(signal) {
  if (stopping) return;
  stopping = true;
  process.stderr.write(`koa interop server: ${signal}, stopping\n`);
  server.close();
  server.closeAllConnections();
  // Drop the Redis connection at once: Redis may already be gone at teardown.
  if (store) store.client.disconnect();
  process.exit(0);
}
process.on('SIGTERM', () => stop('SIGTERM'));
process.on('SIGINT', () => stop('SIGINT'));
