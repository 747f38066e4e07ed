// The real Express side of flask-koasession's interop tests.
//
// A small Express 5 app with cookie-session 2, configured by the environment
// variables that configure server.js (the Koa app) where they apply, so the
// Python tests can drive it over real HTTP next to the Flask twin
// (tests/interop/flask_app.py) and check that both read and write the same
// cookie sessions.
//
// Environment:
//   PORT       port to listen on; 0 (default) picks a free one. Once listening, the
//              server prints a line `LISTENING <port>` on stdout.
//   HOST       address to bind (default 127.0.0.1)
//   KEYS       JSON array of keys, the first signs (default ["interop-secret"])
//   DIGEST     keygrip HMAC algorithm (default sha1): keys: new Keygrip(KEYS, DIGEST)
//   KEY        cookie name, cookie-session's `name` (default koa.sess; cookie-session's
//              own default is `session`)
//   MAX_AGE    cookie-session's maxAge, a number of ms, or "session" or unset:
//              no maxAge (cookie-session's default), a browser-session cookie
//   SIGNED     "1"/"true" or "0"/"false" (cookie-session's default when unset: signed)
//   SAME_SITE  cookie-session's sameSite option (unset by default)
//   SECURE     "1"/"true" or "0"/"false": cookie-session's secure option (unset by
//              default: the cookies module follows the request's protocol)
//   KOA_BOOKKEEPING  "1": install koaBookkeeping() (below) after cookie-session
//
// The app trusts X-Forwarded-Proto from the loopback address (`trust proxy`), so a
// test can make a plain-HTTP request count as HTTPS.
//
// Routes (every response is JSON), those of server.js that apply to cookie-session:
//   GET /session, GET /touch   the session as it is: {session, isNew, maxAge,
//                              populated, length}; maxAge is this request's
//                              req.sessionOptions.maxAge, or "session" when unset
//   GET /set?k=v&json={...}    set each query parameter as a string, and merge the
//                              JSON object in `json`; answers like /session
//   GET /incr                  the seed's counter: {views: n}
//   GET /destroy               req.session = null: {destroyed: true}
//   GET /flash?msg=...         sets req.session.flash, redirects to /show-flash
//   GET /show-flash            {flash: <message or null>}, then req.session.flash = null
//   GET /maxage?value=...      req.sessionOptions.maxAge = value (a number of ms, or
//                              "session" for none); answers like /session
//
// Stops cleanly on SIGTERM or SIGINT.

import http from 'node:http';
import express from 'express';
import cookieSession from 'cookie-session';
import Keygrip from 'keygrip';
import onHeaders from 'on-headers';

// -- koaBookkeeping: begin (docs/express.rst includes this part)
// koaBookkeeping(): install it right after cookieSession(). It keeps
// koa-session's bookkeeping in cookie-session's cookie, so that a Koa app or a
// Flask app (flask-koasession) reading the same cookie sees the right expiry,
// and hides it from the Express app:
// - _expire, _maxAge and _session are taken out of req.session;
// - a session whose _expire has passed is a new, empty session (as in koa);
// - the session's max age (_maxAge, or _session for "session") becomes this
//   request's req.sessionOptions.maxAge, so a cookie written now keeps it;
// - a session that the request changed (or whose req.sessionOptions.maxAge it
//   changed) is written with _expire and _maxAge anew, or _session: true
//   without a maxAge; an unchanged session is written as it came, or not at all.
const BOOKKEEPING = ['_expire', '_maxAge', '_session'];

function koaBookkeeping() {
  return function koaBookkeepingMiddleware(req, res, next) {
    let loaded = null; // the session read from the cookie, as it came
    const sess = req.session;
    if (sess && !sess.isNew) {
      if (typeof sess._expire === 'number' && sess._expire < Date.now()) {
        req.session = {}; // expired: a new, empty session
      } else {
        const bookkeeping = {};
        for (const name of BOOKKEEPING) {
          if (Object.hasOwn(sess, name)) {
            bookkeeping[name] = sess[name];
            delete sess[name];
          }
        }
        if (bookkeeping._session === true) req.sessionOptions.maxAge = undefined;
        else if (typeof bookkeeping._maxAge === 'number') {
          req.sessionOptions.maxAge = bookkeeping._maxAge;
        }
        loaded = {
          sess,
          bookkeeping,
          json: JSON.stringify(sess),
          maxAge: req.sessionOptions.maxAge,
        };
      }
    }
    // on-headers runs the listener added last first: this one before
    // cookie-session's, which writes the cookie.
    onHeaders(res, () => {
      const current = req.session;
      if (!current) return; // req.session = null: cookie-session clears the cookie
      const maxAge = req.sessionOptions.maxAge;
      if (
        loaded &&
        current === loaded.sess &&
        maxAge === loaded.maxAge &&
        JSON.stringify(current) === loaded.json
      ) {
        Object.assign(current, loaded.bookkeeping); // unchanged
        return;
      }
      if (current.isNew && !current.isPopulated) return; // nothing to save
      for (const name of BOOKKEEPING) delete current[name];
      if (typeof maxAge === 'number') {
        current._expire = Date.now() + maxAge;
        current._maxAge = maxAge;
      } else {
        current._session = true;
      }
    });
    next();
  };
}
// -- koaBookkeeping: end

function envBool(name) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return undefined;
  if (/^(1|true|yes|on)$/i.test(raw)) return true;
  if (/^(0|false|no|off)$/i.test(raw)) return false;
  throw new Error(`${name} must be a boolean (1/0/true/false), got ${JSON.stringify(raw)}`);
}

// A max age in ms, or undefined for "session" (no maxAge: a browser-session cookie).
function parseMaxAge(raw, what) {
  if (raw === 'session') return undefined;
  const n = Number(raw);
  if (raw === '' || !Number.isFinite(n)) {
    throw new Error(`${what} must be a number of ms or "session", got ${JSON.stringify(raw)}`);
  }
  return n;
}

const keys = JSON.parse(process.env.KEYS || '["interop-secret"]');
if (!Array.isArray(keys) || keys.length === 0) throw new Error('KEYS must be a non-empty JSON array');

const config = {
  name: process.env.KEY || 'koa.sess',
  keys: new Keygrip(keys, process.env.DIGEST || 'sha1'),
};
if (process.env.MAX_AGE) {
  const maxAge = parseMaxAge(process.env.MAX_AGE, 'MAX_AGE');
  if (maxAge !== undefined) config.maxAge = maxAge;
}
for (const [env, opt] of [['SIGNED', 'signed'], ['SECURE', 'secure']]) {
  const value = envBool(env);
  if (value !== undefined) config[opt] = value;
}
if (process.env.SAME_SITE) config.sameSite = process.env.SAME_SITE;
const bookkeeping = envBool('KOA_BOOKKEEPING') === true;

const app = express();
app.disable('x-powered-by');
app.set('trust proxy', 'loopback');
app.use(cookieSession(config));
if (bookkeeping) app.use(koaBookkeeping());

function state(req) {
  const sess = req.session;
  if (!sess) return { session: null, isNew: null, maxAge: null };
  const maxAge = req.sessionOptions.maxAge;
  return {
    session: { ...sess },
    isNew: sess.isNew,
    maxAge: typeof maxAge === 'number' ? maxAge : 'session',
    populated: sess.isPopulated,
    length: Object.keys(sess).length,
  };
}

app.get('/session', (req, res) => {
  res.json(state(req));
});

app.get('/touch', (req, res) => {
  res.json(state(req));
});

app.get('/set', (req, res) => {
  for (const [name, value] of Object.entries(req.query)) {
    if (name === 'json') continue;
    req.session[name] = Array.isArray(value) ? value[value.length - 1] : value;
  }
  if (req.query.json !== undefined) {
    Object.assign(req.session, JSON.parse(req.query.json));
  }
  res.json(state(req));
});

app.get('/incr', (req, res) => {
  let n = req.session.views || 0;
  req.session.views = ++n;
  res.json({ views: n });
});

app.get('/destroy', (req, res) => {
  req.session = null;
  res.json({ destroyed: true });
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
  req.sessionOptions.maxAge = parseMaxAge(req.query.value ?? '', 'value');
  res.json(state(req));
});

// Errors go to stderr (the harness shows them); the client gets a plain 500.
app.use((err, req, res, next) => {
  process.stderr.write(`express error: ${err.stack || err}\n`);
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
  process.stderr.write(`express interop server: ${signal}, stopping\n`);
  server.close();
  server.closeAllConnections();
  process.exit(0);
}
process.on('SIGTERM', () => stop('SIGTERM'));
process.on('SIGINT', () => stop('SIGINT'));
