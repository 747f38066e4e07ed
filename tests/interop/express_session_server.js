// The real express-session side of flask-koasession's interop tests.
//
// A small Express 5 app with express-session 1 and connect-redis 9 (a node-redis
// 5 client), configured by environment variables, so the Python tests can drive
// it over real HTTP next to its Flask twin (tests/interop/flask_app.py with
// WIRE=express-session) and check that both read and write the same sessions in
// the same Redis database. EXPRESS_SESSION_WIRE.md describes what goes on the
// wire.
//
// Environment:
//   PORT       port to listen on; 0 (default) picks a free one. Once listening, the
//              server prints a line `LISTENING <port>` on stdout.
//   HOST       address to bind (default 127.0.0.1)
//   REDIS_URL  required: the Redis database of the sessions
//   PREFIX     connect-redis's prefix option (default: its own, "sess:")
//   KEYS       JSON array of secrets, express-session's `secret` array: the first
//              signs, all verify (default ["interop-secret"])
//   KEY        cookie name, express-session's `name` (default connect.sid)
//   MAX_AGE    cookie.maxAge, a number of ms; unset or "session": none (a
//              browser-session cookie, and connect-redis's one-day TTL)
//   ROLLING    "1"/"true" or "0"/"false": express-session's rolling (default false)
//   SAME_SITE  cookie.sameSite (unset by default)
//   SECURE     "1"/"true" or "0"/"false": cookie.secure (unset by default)
// resave and saveUninitialized are false.
//
// The app trusts X-Forwarded-Proto from the loopback address (`trust proxy`), so a
// test can make a plain-HTTP request count as HTTPS (express-session sends a
// secure cookie only then).
//
// Routes (every response is JSON but /flash's redirect):
//   GET /session, GET /touch   the session as it is: {session, isNew, maxAge,
//                              externalKey, populated, length, cookie}: session is
//                              the data (req.session less `cookie`), isNew true
//                              when this request generated the session (no
//                              cookie, an unknown id, or a regenerate), maxAge
//                              cookie.originalMaxAge or "session" when null,
//                              externalKey req.sessionID, cookie
//                              req.session.cookie.toJSON() (Node only)
//   GET /set?k=v&json={...}    set each query parameter as a string, and merge the
//                              JSON object in `json`; answers like /session
//   GET /incr                  the seed's counter: {views: n}
//   GET /login?user=...&json=  req.session.regenerate(), then sets user (and merges
//                              `json`); answers like /session
//   GET /logout, GET /destroy  req.session.destroy(): {destroyed: true}
//   GET /regenerate            req.session.regenerate(); answers like /session
//   GET /flash?msg=...         sets req.session.flash, redirects to /show-flash
//   GET /show-flash            {flash: <message or null>}, then req.session.flash = null
//   GET /maxage?value=...      req.session.cookie.maxAge = value (a number of ms, or
//                              "session" for null); answers like /session
//
// Stops cleanly on SIGTERM or SIGINT.

import http from 'node:http';
import express from 'express';
import session from 'express-session';
import { RedisStore } from 'connect-redis';
import { createClient } from 'redis';

function envBool(name) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return undefined;
  if (/^(1|true|yes|on)$/i.test(raw)) return true;
  if (/^(0|false|no|off)$/i.test(raw)) return false;
  throw new Error(`${name} must be a boolean (1/0/true/false), got ${JSON.stringify(raw)}`);
}

// A max age in ms, or null for "session" (no maxAge: a browser-session cookie).
function parseMaxAge(raw, what) {
  if (raw === 'session') return null;
  const n = Number(raw);
  if (raw === '' || !Number.isFinite(n)) {
    throw new Error(`${what} must be a number of ms or "session", got ${JSON.stringify(raw)}`);
  }
  return n;
}

if (!process.env.REDIS_URL) throw new Error('REDIS_URL is required');
const secrets = JSON.parse(process.env.KEYS || '["interop-secret"]');
if (!Array.isArray(secrets) || secrets.length === 0) {
  throw new Error('KEYS must be a non-empty JSON array');
}

const client = createClient({ url: process.env.REDIS_URL });
client.on('error', (err) => process.stderr.write(`redis error: ${err.message || err}\n`));
await client.connect();

const storeOptions = { client };
if (process.env.PREFIX !== undefined) storeOptions.prefix = process.env.PREFIX;
const store = new RedisStore(storeOptions);

const cookie = {};
if (process.env.MAX_AGE) {
  const maxAge = parseMaxAge(process.env.MAX_AGE, 'MAX_AGE');
  if (maxAge !== null) cookie.maxAge = maxAge;
}
if (process.env.SAME_SITE) cookie.sameSite = process.env.SAME_SITE;
const secure = envBool('SECURE');
if (secure !== undefined) cookie.secure = secure;

const config = {
  store,
  secret: secrets,
  name: process.env.KEY || 'connect.sid',
  cookie,
  resave: false,
  saveUninitialized: false,
  rolling: envBool('ROLLING') === true,
};

const app = express();
app.disable('x-powered-by');
app.set('trust proxy', 'loopback');
app.use(session(config));

// express-session sets store.generate when session() runs: mark the requests
// whose session it generates (no cookie, an unknown id, regenerate()).
const generate = store.generate;
store.generate = function markNew(req) {
  generate.call(this, req);
  Object.defineProperty(req, 'sessionIsNew', { value: true, configurable: true });
};

function state(req) {
  const sess = req.session;
  if (!sess) return { session: null, isNew: null, maxAge: null, externalKey: null };
  const data = {};
  for (const [name, value] of Object.entries(sess)) {
    if (name !== 'cookie') data[name] = value;
  }
  const maxAge = sess.cookie.originalMaxAge;
  return {
    session: data,
    isNew: req.sessionIsNew === true,
    maxAge: typeof maxAge === 'number' ? maxAge : 'session',
    externalKey: req.sessionID,
    populated: Object.keys(data).length > 0,
    length: Object.keys(data).length,
    cookie: sess.cookie.toJSON(),
  };
}

function setFromQuery(req) {
  for (const [name, value] of Object.entries(req.query)) {
    if (name === 'json') continue;
    req.session[name] = Array.isArray(value) ? value[value.length - 1] : value;
  }
  if (req.query.json !== undefined) {
    Object.assign(req.session, JSON.parse(req.query.json));
  }
}

// express-session's callback methods as promises.
function call(sess, method) {
  return new Promise((resolve, reject) => {
    sess[method]((err) => (err ? reject(err) : resolve()));
  });
}

app.get('/session', (req, res) => {
  res.json(state(req));
});

app.get('/touch', (req, res) => {
  res.json(state(req));
});

app.get('/set', (req, res) => {
  setFromQuery(req);
  res.json(state(req));
});

app.get('/incr', (req, res) => {
  let n = req.session.views || 0;
  req.session.views = ++n;
  res.json({ views: n });
});

app.get('/login', async (req, res) => {
  await call(req.session, 'regenerate');
  setFromQuery(req);
  res.json(state(req));
});

async function destroy(req, res) {
  await call(req.session, 'destroy');
  res.json({ destroyed: true });
}
app.get('/logout', destroy);
app.get('/destroy', destroy);

app.get('/regenerate', async (req, res) => {
  await call(req.session, 'regenerate');
  res.json(state(req));
});

app.get('/flash', (req, res) => {
  req.session.flash = req.query.msg ?? 'Flash Message Example';
  res.redirect('/show-flash');
});

app.get('/show-flash', (req, res) => {
  const message = req.session.flash;
  req.session.flash = null;
  res.json({ flash: message ?? null });
});

app.get('/maxage', (req, res) => {
  req.session.cookie.maxAge = parseMaxAge(req.query.value ?? '', 'value');
  res.json(state(req));
});

// Errors go to stderr (the harness shows them); the client gets a plain 500.
app.use((err, req, res, next) => {
  process.stderr.write(`express-session error: ${err.stack || err}\n`);
  if (res.headersSent) return next(err);
  res.status(500).json({ error: 'internal error' });
});

const server = http.createServer(app);
server.keepAliveTimeout = 1000;
server.listen(Number(process.env.PORT || 0), process.env.HOST || '127.0.0.1', () => {
  process.stdout.write(`LISTENING ${server.address().port}\n`);
});

let stopping = false;
function stop(signal) {
  if (stopping) return;
  stopping = true;
  process.stderr.write(`express-session interop server: ${signal}, stopping\n`);
  server.close();
  server.closeAllConnections();
  // Drop the Redis connection at once: Redis may already be gone at teardown.
  client.destroy();
  process.exit(0);
}
process.on('SIGTERM', () => stop('SIGTERM'));
process.on('SIGINT', () => stop('SIGINT'));
