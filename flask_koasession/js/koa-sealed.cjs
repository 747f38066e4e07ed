// Sealed koa-session cookies, readable and writable by flask-koasession.
//
// sealedCodec(options) returns koa-session `encode` / `decode` functions that
// encrypt (AES-256-GCM) and/or compress (raw deflate) the session, in exactly
// the format of flask_koasession.sealing (see docs/sealed.rst for the bytes).
// Only node:crypto and node:zlib are used; Node 18 or later.
//
//   const session = require('koa-session');
//   const { sealedCodec } = require('flask-koasession/koa-sealed.cjs'); // this file
//   app.keys = ['current secret', 'previous secret'];
//   const codec = sealedCodec({ keys: app.keys, key: 'koa.sess', encrypt: true, compress: true });
//   app.use(session({ key: 'koa.sess', encode: codec.encode, decode: codec.decode }, app));
//
// Options:
//   keys            secret keys, newest first (strings are UTF-8 encoded, or
//                   Buffers); the first seals, all open. Required with encrypt.
//   key             the cookie name (koa-session's `key`), bound to the value.
//                   Default 'koa.sess'.
//   encrypt         AES-256-GCM; only encrypted values are opened. Default false.
//   compress        deflate when it makes the value shorter. Default false.
//                   At least one of encrypt and compress must be true.
//   maxSize         largest JSON text in bytes that is sealed or that a value
//                   may inflate to. Default 262144 (256 KiB).
//   maxValueLength  longest value in characters that is opened. Default 8192.
//   resealOnRotation  when a value opens with a key other than the first, ask
//                   koa-session to save the session (so it is re-sealed with
//                   the current key). Default true. This sets koa-session's
//                   own `_requireSave` flag on the decoded object (koa-session
//                   6 and 7 copy decoded fields onto the session and save when
//                   it is set); it is never written to the cookie.
//
// decode() throws a SealError, a subclass of SyntaxError, for any value that
// does not open: koa-session treats a SyntaxError from decode as a bad cookie
// (a fresh session), but rethrows any other error (a 500).

'use strict';

const crypto = require('node:crypto');
const zlib = require('node:zlib');

const FORMAT_DEFLATE = 0x01;
const FORMAT_AES_GCM = 0x02;
const FORMAT_AES_GCM_DEFLATE = 0x03;
const HKDF_SALT = Buffer.from('flask-koasession', 'utf8');
const HKDF_INFO = Buffer.from('flask-koasession cookie encryption v1', 'utf8');
const KEY_ID_SIZE = 4;
const NONCE_SIZE = 12;
const TAG_SIZE = 16;
const HEADER_SIZE = 1 + KEY_ID_SIZE;
const MIN_ENCRYPTED = HEADER_SIZE + NONCE_SIZE + TAG_SIZE;
const MAX_SIZE = 256 * 1024;
const MAX_VALUE_LENGTH = 8192;
// Write settings (readers inflate with the default 32 KiB window, so they read
// any): a 4 KiB window and small hash tables set up fast for session-sized text.
const DEFLATE_OPTIONS = { level: 6, windowBits: 12, memLevel: 5 };
const BASE64URL = /^[A-Za-z0-9_-]*$/;
const fatalUtf8 = new TextDecoder('utf-8', { fatal: true });

// A value that does not open. `reason` is one of: too_large, junk, truncated,
// unencrypted, encrypted, wrong_key, tampered, zip_bomb (as in Python).
class SealError extends SyntaxError {
  constructor(reason, detail = '') {
    super(`cannot unseal the cookie value: ${reason}${detail}`);
    this.name = 'SealError';
    this.reason = reason;
  }
}

// The session's JSON text is too large for a sealed value to be read back.
class SealedTooLargeError extends RangeError {
  constructor(size, limit) {
    super(`The session's JSON text is ${size} bytes, over the ${limit}-byte limit for sealed cookies.`);
    this.name = 'SealedTooLargeError';
    this.size = size;
    this.limit = limit;
  }
}

// The AES-256 key and the 4-byte key id derived from one signing key.
function derive(key) {
  const raw = typeof key === 'string' ? Buffer.from(key, 'utf8') : Buffer.from(key);
  const okm = Buffer.from(crypto.hkdfSync('sha256', raw, HKDF_SALT, HKDF_INFO, 32 + KEY_ID_SIZE));
  return { aesKey: okm.subarray(0, 32), keyId: okm.subarray(32) };
}

function inflate(data, maxSize) {
  let result;
  try {
    result = zlib.inflateRawSync(data, { maxOutputLength: maxSize, info: true });
  } catch (err) {
    if (err.code === 'ERR_BUFFER_TOO_LARGE') throw new SealError('zip_bomb');
    if (err.code === 'Z_BUF_ERROR') throw new SealError('truncated');
    throw new SealError('junk', ` (${err.message})`);
  }
  // inflateRawSync ignores bytes after the end of the deflate data; Python
  // refuses them, and so does this.
  if (result.engine.bytesWritten !== data.length) {
    throw new SealError('junk', ' (bytes after the deflate data)');
  }
  return result.buffer;
}

function text(buffer) {
  try {
    return fatalUtf8.decode(buffer);
  } catch {
    throw new SealError('junk', ' (not UTF-8)');
  }
}

function sealedCodec(options = {}) {
  const {
    keys,
    key: cookieName = 'koa.sess',
    encrypt = false,
    compress = false,
    maxSize = MAX_SIZE,
    maxValueLength = MAX_VALUE_LENGTH,
    resealOnRotation = true,
  } = options;
  if (!encrypt && !compress) {
    throw new TypeError('sealedCodec: nothing to do; set encrypt: true and/or compress: true');
  }
  if (typeof cookieName !== 'string' || cookieName === '') {
    throw new TypeError(`sealedCodec: key must be the cookie name, got ${JSON.stringify(cookieName)}`);
  }
  for (const [name, n] of [['maxSize', maxSize], ['maxValueLength', maxValueLength]]) {
    if (!Number.isInteger(n) || n < 1) throw new TypeError(`sealedCodec: ${name} must be a positive integer, got ${n}`);
  }
  const name = Buffer.from(cookieName, 'utf8');
  let derived = [];
  if (encrypt) {
    if (!Array.isArray(keys) || keys.length === 0) {
      throw new TypeError(
        'sealedCodec: encrypt needs keys, an array of secrets newest first (e.g. keys: app.keys;' +
          ' a Keygrip object hides its keys, so pass the array)',
      );
    }
    derived = keys.map((k, index) => {
      if (!(typeof k === 'string' || Buffer.isBuffer(k) || k instanceof Uint8Array) || k.length === 0) {
        throw new TypeError(`sealedCodec: keys[${index}] must be a non-empty string or Buffer`);
      }
      return { ...derive(k), index };
    });
  }

  // `nonce` is injected by the test vectors only: a nonce used twice with one
  // key breaks AES-GCM.
  function sealWithNonce(jsonText, nonce) {
    const raw = Buffer.from(jsonText, 'utf8');
    if (raw.length > maxSize) throw new SealedTooLargeError(raw.length, maxSize);
    const deflated = compress ? zlib.deflateRawSync(raw, DEFLATE_OPTIONS) : null;
    if (!encrypt) {
      const plain = raw.toString('base64');
      if (deflated && deflated.length < raw.length) {
        const packed = Buffer.concat([Buffer.of(FORMAT_DEFLATE), deflated]).toString('base64url');
        if (packed.length < plain.length) return packed;
      }
      return plain;
    }
    const shrinks = deflated && deflated.length < raw.length;
    const body = shrinks ? deflated : raw;
    const current = derived[0];
    const header = Buffer.concat([Buffer.of(shrinks ? FORMAT_AES_GCM_DEFLATE : FORMAT_AES_GCM), current.keyId]);
    const cipher = crypto.createCipheriv('aes-256-gcm', current.aesKey, nonce, { authTagLength: TAG_SIZE });
    cipher.setAAD(Buffer.concat([header, name]));
    const sealed = Buffer.concat([cipher.update(body), cipher.final(), cipher.getAuthTag()]);
    return Buffer.concat([header, nonce, sealed]).toString('base64url');
  }

  function seal(jsonText) {
    return sealWithNonce(jsonText, crypto.randomBytes(NONCE_SIZE));
  }

  function decrypt(data) {
    const header = data.subarray(0, HEADER_SIZE);
    const keyId = header.subarray(1);
    const nonce = data.subarray(HEADER_SIZE, HEADER_SIZE + NONCE_SIZE);
    const ciphertext = data.subarray(HEADER_SIZE + NONCE_SIZE, data.length - TAG_SIZE);
    const tag = data.subarray(data.length - TAG_SIZE);
    const aad = Buffer.concat([header, name]);
    let matched = false;
    for (const k of derived) {
      if (!k.keyId.equals(keyId)) continue; // several only if two keys share an id
      matched = true;
      const decipher = crypto.createDecipheriv('aes-256-gcm', k.aesKey, nonce, { authTagLength: TAG_SIZE });
      decipher.setAAD(aad);
      decipher.setAuthTag(tag);
      try {
        return { body: Buffer.concat([decipher.update(ciphertext), decipher.final()]), index: k.index };
      } catch {
        // the tag does not match: try another key with this id, if any
      }
    }
    throw new SealError(matched ? 'tampered' : 'wrong_key');
  }

  // Open a value: { text, index } (index of the key that opened it; 0 when no
  // key was involved). Throws SealError.
  function unseal(value) {
    if (typeof value !== 'string') throw new SealError('junk');
    if (value.length > maxValueLength) throw new SealError('too_large');
    if (!value.startsWith('A')) {
      if (encrypt) throw new SealError(value.startsWith('e') ? 'unencrypted' : 'junk');
      // koa-session's own format, decoded as koa-session does.
      return { text: Buffer.from(value, 'base64').toString('utf8'), index: 0 };
    }
    // Buffer.from skips characters outside the alphabet: check them first.
    if (value.length % 4 === 1 || !BASE64URL.test(value)) throw new SealError('junk');
    const data = Buffer.from(value, 'base64url');
    if (data.length === 0) throw new SealError('truncated');
    const form = data[0];
    if (form === FORMAT_DEFLATE) {
      if (encrypt) throw new SealError('unencrypted');
      return { text: text(inflate(data.subarray(1), maxSize)), index: 0 };
    }
    if (form !== FORMAT_AES_GCM && form !== FORMAT_AES_GCM_DEFLATE) {
      throw new SealError('junk', ` (format byte 0x${form.toString(16).padStart(2, '0')})`);
    }
    if (!encrypt) throw new SealError('encrypted');
    if (data.length < MIN_ENCRYPTED) throw new SealError('truncated');
    let { body, index } = decrypt(data);
    if (form === FORMAT_AES_GCM_DEFLATE) body = inflate(body, maxSize);
    else if (body.length > maxSize) throw new SealError('too_large');
    return { text: text(body), index };
  }

  // koa-session's `encode`: the session object (with _expire/_maxAge) to a value.
  function encode(session) {
    return seal(JSON.stringify(session));
  }

  // koa-session's `decode`: a value to the session object. Errors are SyntaxErrors.
  function decode(value) {
    const { text: jsonText, index } = unseal(value);
    const session = JSON.parse(jsonText);
    if (index > 0 && resealOnRotation && session !== null && typeof session === 'object') {
      session._requireSave = true;
    }
    return session;
  }

  const codec = { encode, decode, seal, unseal };
  Object.defineProperty(codec, '_sealWithNonce', { value: sealWithNonce, enumerable: false });
  return codec;
}

module.exports = {
  sealedCodec,
  SealError,
  SealedTooLargeError,
  derive,
  FORMAT_DEFLATE,
  FORMAT_AES_GCM,
  FORMAT_AES_GCM_DEFLATE,
  HKDF_SALT,
  HKDF_INFO,
};
