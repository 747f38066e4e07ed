"""Sealed cookie values: encrypted with AES-256-GCM, compressed with deflate.

A :class:`Sealer` turns the JSON text of a session payload into a cookie value
and back. It is the one place that knows the sealed format; the JavaScript
module ``flask_koasession/js/koa-sealed.cjs`` (:data:`JS_MODULE`) writes and
reads the very same values, so a Koa app can share sealed sessions.

How it is used
--------------

The options ``encrypt`` and ``compress`` switch it on for a cookie session;
:class:`~flask_koasession.state.KoaSessionState` builds one sealer per app
(again when the keys rotate) and
:class:`~flask_koasession.cookie_value.CookieCodec` uses it:

- **Writing**: the payload's JSON text (the data's text with the bookkeeping
  appended) is sealed in place of koa's base64. With ``signed=True`` the
  ``.sig`` cookie signs the sealed value as it signs a plain one.
- **Reading**: the signature is checked, then the value unsealed, then the
  text parsed. A :class:`SealError` is a bad cookie: a fresh session and
  ``session_invalid`` with ``reason=error.reason``.
- **Rotation**: ``unseal`` returns the index of the key that opened the value;
  above 0, the session is saved again (re-sealed with the current key), as a
  ``.sig`` made by an older key is re-made.
- Cookie mode only: in store mode the cookie holds a random id (sealing it
  hides nothing) and the data stays on the server. A custom ``encode`` /
  ``decode`` replaces the whole codec, so it cannot be combined with sealing.
  Both raise at set-up.

The byte format
---------------

A sealed value is the base64url encoding, without ``=`` padding, of bytes
whose first byte is the *format*. Plain koa-session values are base64 of JSON
text that starts with ``{``, so they always start with ``e``; format bytes
0x01-0x03 make sealed values start with ``A``. No value is both.

``0x01`` compressed:
    ``0x01 || deflate(json)``

``0x02`` encrypted, ``0x03`` compressed then encrypted:
    ``format (1) || key id (4) || nonce (12) || ciphertext || tag (16)``

- ``deflate`` is raw deflate (RFC 1951, no zlib or gzip header), as
  ``zlib.compressobj(wbits=-12)`` and Node's ``zlib.deflateRawSync`` write it;
  it is used only when it makes the value shorter. Readers inflate with a 32
  KiB window and stop at :attr:`Sealer.max_size` bytes. Two deflate libraries
  may compress the same text to different bytes: compare opened text, never
  sealed values.
- The plaintext is the UTF-8 JSON text (``0x02``) or its deflate (``0x03``).
- For each key (``str`` keys UTF-8 encoded), HKDF-SHA256 with salt
  :data:`HKDF_SALT` and info :data:`HKDF_INFO` derives 36 bytes: the first 32
  are the AES-256 key, the last 4 the key id, which lets a reader pick the key
  without trying each (and tell a wrong key from a tampered value).
- The nonce is 12 random bytes per write.
- AES-256-GCM's associated data is ``format || key id || cookie name (UTF-8)``:
  a value moved to a cookie of another name, or with its header changed, does
  not open.

With compression alone, a value that deflate does not shorten is written as
koa-session writes it (base64 of the JSON), so every value stays readable by a
Koa app that uses the same module.
"""

from __future__ import annotations

import base64
import binascii
import os
import typing as t
import zlib
from pathlib import Path

from .codec import b64decode_lenient, encode_text
from .exceptions import KoaSessionError, SessionTooLargeError

if t.TYPE_CHECKING:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

#: The JavaScript counterpart, shipped in the package: ``sealedCodec(...)``
#: gives koa-session ``encode`` / ``decode`` options that read and write the
#: same values.
JS_MODULE = Path(__file__).resolve().parent / "js" / "koa-sealed.cjs"

#: Format bytes (the first byte of a sealed value).
FORMAT_DEFLATE = 0x01
FORMAT_AES_GCM = 0x02
FORMAT_AES_GCM_DEFLATE = 0x03

#: HKDF-SHA256 salt and info: fixed, so that both languages derive the same keys.
HKDF_SALT = b"flask-koasession"
HKDF_INFO = b"flask-koasession cookie encryption v1"

KEY_ID_SIZE = 4
NONCE_SIZE = 12
TAG_SIZE = 16
_HEADER_SIZE = 1 + KEY_ID_SIZE
_MIN_ENCRYPTED = _HEADER_SIZE + NONCE_SIZE + TAG_SIZE

#: Longest value :meth:`Sealer.unseal` looks at, in characters: browsers keep
#: cookies of about 4 KiB (the same bound as for plain cookies).
MAX_VALUE_LENGTH = 8192
#: Largest JSON text, in bytes, that is sealed or that a value may inflate to.
MAX_SIZE = 256 * 1024

# Deflate settings for writing: a 4 KiB window and small hash tables cost a
# few microseconds to set up instead of ~80 for zlib's defaults, and compress
# session-sized text as well (a 500-item cart even better). Readers inflate
# with the largest window, so they read any setting.
_LEVEL = 6
_WBITS = 12
_MEM_LEVEL = 5

# base64url to the standard alphabet for binascii's strict decoder; "+" and
# "/" (not base64url) become "!", which it refuses.
_FROM_BASE64URL = bytes.maketrans(b"-_+/", b"+/!!")

Reason = t.Literal[
    "too_large",
    "junk",
    "truncated",
    "unencrypted",
    "encrypted",
    "wrong_key",
    "tampered",
    "zip_bomb",
]


class SealError(KoaSessionError):
    """A cookie value could not be unsealed. Treat it as no session.

    :param reason: what was wrong, one of

        - ``"too_large"``: longer than :attr:`Sealer.max_value_length`;
        - ``"junk"``: not a value in any known form (alphabet, format byte,
          broken deflate data, invalid UTF-8, bytes after the deflate data);
        - ``"truncated"``: shorter than its form allows, or its deflate data
          stops early;
        - ``"unencrypted"``: encryption is on and the value is plain or only
          compressed;
        - ``"encrypted"``: encryption is off and the value is encrypted;
        - ``"wrong_key"``: encrypted under a key that is not (or no longer)
          configured;
        - ``"tampered"``: encrypted under a configured key but does not
          authenticate: changed, forged, or taken from a cookie of another name;
        - ``"zip_bomb"``: inflates to more than :attr:`Sealer.max_size` bytes.
    :param detail: appended to the message, for logs.
    """

    def __init__(self, reason: Reason, detail: str = "") -> None:
        self.reason: Reason = reason
        super().__init__(f"cannot unseal the cookie value: {reason}{detail}")


class SealedTooLargeError(SessionTooLargeError):
    """The session's JSON text is over :attr:`Sealer.max_size` bytes, so a
    sealed value could not be read back; nothing is written.

    :param size: the size of the JSON text in bytes.
    :param limit: the sealer's ``max_size``.
    """

    def __init__(self, size: int, limit: int) -> None:
        self.size = size
        self.limit = limit
        KoaSessionError.__init__(
            self,
            f"The session's JSON text is {size} bytes, over the {limit}-byte limit"
            " for sealed cookies. Store less in the session, or use a server-side"
            " store.",
        )


class Opened(t.NamedTuple):
    """What :meth:`Sealer.unseal` found."""

    #: The JSON text.
    json_text: str
    #: Index of the key that opened the value; 0 when no key was involved.
    #: Above 0, re-seal with the current key.
    key_index: int


class _Key(t.NamedTuple):
    key_id: bytes
    aead: AESGCM
    position: int


def derive(key: str | bytes) -> tuple[bytes, bytes]:
    """Return the AES-256 key and the key id derived from a signing key."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    raw = key.encode("utf-8") if isinstance(key, str) else bytes(key)
    okm = HKDF(
        algorithm=hashes.SHA256(),
        length=32 + KEY_ID_SIZE,
        salt=HKDF_SALT,
        info=HKDF_INFO,
    ).derive(raw)
    return okm[:32], okm[32:]


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_decode(value: str) -> bytes:
    if len(value) % 4 == 1:
        raise SealError("junk")
    try:
        padded = (value + "=" * (-len(value) % 4)).encode("ascii")
        return binascii.a2b_base64(padded.translate(_FROM_BASE64URL), strict_mode=True)
    except (UnicodeEncodeError, binascii.Error):
        # Outside base64url, or "=" anywhere but as the padding added here.
        raise SealError("junk") from None


def _deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(_LEVEL, zlib.DEFLATED, -_WBITS, _MEM_LEVEL)
    return compressor.compress(data) + compressor.flush()


def _inflate(data: bytes, max_size: int) -> bytes:
    """Inflate raw deflate data, never producing more than ``max_size`` bytes."""
    inflater = zlib.decompressobj(-15)
    try:
        out = inflater.decompress(data, max_size + 1)
    except zlib.error as error:
        raise SealError("junk", f" ({error})") from None
    if len(out) > max_size:
        raise SealError("zip_bomb")
    if not inflater.eof:
        raise SealError("truncated")
    if inflater.unused_data:
        raise SealError("junk", " (bytes after the deflate data)")
    return out


def _text(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise SealError("junk", " (not UTF-8)") from None


class Sealer:
    """Seal JSON text into a cookie value, and open such values.

    :param keys: secret keys, newest first (``str`` keys are UTF-8 encoded);
        the first seals, every one opens. Used only with ``encrypt``.
    :param cookie_name: the cookie's name, bound to encrypted values.
    :param encrypt: seal with AES-256-GCM; only encrypted values are opened.
    :param compress: deflate the text when that makes the value shorter.
        Without ``encrypt``, plain koa-session values are opened too.
    :param max_size: the largest JSON text in bytes that is sealed or that a
        value may inflate to.
    :param max_value_length: the longest value, in characters, that is opened.
    :raise ValueError: for no key with ``encrypt``, an empty key, neither
        ``encrypt`` nor ``compress``, or a size below 1.
    :raise RuntimeError: with ``encrypt`` when the ``cryptography`` package is
        not installed.
    """

    def __init__(
        self,
        keys: t.Sequence[str | bytes],
        cookie_name: str,
        *,
        encrypt: bool,
        compress: bool,
        max_size: int = MAX_SIZE,
        max_value_length: int = MAX_VALUE_LENGTH,
    ) -> None:
        if not (encrypt or compress):
            raise ValueError(
                "Sealer(encrypt=False, compress=False) has nothing to do: set"
                " encrypt=True and/or compress=True, or use the plain codec."
            )
        if max_size < 1 or max_value_length < 1:
            raise ValueError(
                f"max_size={max_size!r}, max_value_length={max_value_length!r}:"
                " both must be positive numbers of bytes/characters."
            )
        self.cookie_name = cookie_name
        self.encrypt = encrypt
        self.compress = compress
        #: Largest JSON text in bytes that is sealed or opened.
        self.max_size = max_size
        #: Longest value in characters that is opened.
        self.max_value_length = max_value_length
        self._name = cookie_name.encode("utf-8")
        self._keys: list[_Key] = []
        if encrypt:
            self._keys = _make_keys(keys)
            from cryptography.exceptions import InvalidTag

            # Kept, not imported on each read: that costs 0.6 µs a time.
            self._invalid_tag: type[Exception] = InvalidTag

    # -- writing ------------------------------------------------------------

    def seal(self, json_text: str) -> str:
        """Return the cookie value for ``json_text`` (base64url, cookie-safe).

        :raise SealedTooLargeError: when the text is over :attr:`max_size`.
        """
        return self._seal(json_text, os.urandom(NONCE_SIZE))

    def _seal(self, json_text: str, nonce: bytes) -> str:
        # ``nonce`` is a parameter for the test vectors only: a nonce used
        # twice with one key breaks AES-GCM.
        raw = json_text.encode("utf-8")
        if len(raw) > self.max_size:
            raise SealedTooLargeError(len(raw), self.max_size)
        deflated = _deflate(raw) if self.compress else None
        if not self.encrypt:
            plain = encode_text(json_text)
            if deflated is not None and len(deflated) < len(raw):
                packed = _b64url(bytes((FORMAT_DEFLATE,)) + deflated)
                if len(packed) < len(plain):
                    return packed
            return plain
        if deflated is not None and len(deflated) < len(raw):
            form, body = FORMAT_AES_GCM_DEFLATE, deflated
        else:
            form, body = FORMAT_AES_GCM, raw
        key = self._keys[0]
        header = bytes((form,)) + key.key_id
        sealed = key.aead.encrypt(nonce, body, header + self._name)
        return _b64url(header + nonce + sealed)

    # -- reading ------------------------------------------------------------

    def unseal(self, value: str) -> Opened:
        """Open a cookie value: its JSON text and the index of the key used.

        :raise SealError: for any value that does not open, with a reason.
        """
        if len(value) > self.max_value_length:
            raise SealError("too_large")
        if not value.startswith("A"):
            if self.encrypt:
                raise SealError("unencrypted" if value.startswith("e") else "junk")
            # koa-session's own format, decoded as koa does.
            return Opened(b64decode_lenient(value).decode("utf-8", "replace"), 0)
        data = _b64url_decode(value)
        if not data:
            raise SealError("truncated")
        form = data[0]
        if form == FORMAT_DEFLATE:
            if self.encrypt:
                raise SealError("unencrypted")
            return Opened(_text(_inflate(data[1:], self.max_size)), 0)
        if form not in (FORMAT_AES_GCM, FORMAT_AES_GCM_DEFLATE):
            raise SealError("junk", f" (format byte {form:#04x})")
        if not self.encrypt:
            raise SealError("encrypted")
        if len(data) < _MIN_ENCRYPTED:
            raise SealError("truncated")
        body, index = self._decrypt(data)
        if form == FORMAT_AES_GCM_DEFLATE:
            body = _inflate(body, self.max_size)
        elif len(body) > self.max_size:
            raise SealError("too_large")
        return Opened(_text(body), index)

    def _decrypt(self, data: bytes) -> tuple[bytes, int]:
        header = data[:_HEADER_SIZE]
        key_id = header[1:]
        nonce = data[_HEADER_SIZE : _HEADER_SIZE + NONCE_SIZE]
        sealed = data[_HEADER_SIZE + NONCE_SIZE :]
        associated = header + self._name
        matched = False
        for key in self._keys:  # several only if two keys share an id
            if key.key_id == key_id:
                matched = True
                try:
                    return key.aead.decrypt(nonce, sealed, associated), key.position
                except self._invalid_tag:
                    continue
        raise SealError("tampered" if matched else "wrong_key")

    def __repr__(self) -> str:
        return (
            f"<Sealer {self.cookie_name!r} encrypt={self.encrypt}"
            f" compress={self.compress} keys={len(self._keys)}>"
        )


def require_cryptography() -> type[AESGCM]:
    """Return the AES-GCM class of the ``cryptography`` package.

    :raise RuntimeError: when the package (the ``[encrypt]`` extra) is not
        installed, with the command that installs it.
    """
    try:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    except ImportError:
        raise RuntimeError(
            "KoaSession option encrypt=True needs the 'cryptography' package:"
            " install flask-koasession[encrypt] (pip install"
            " 'flask-koasession[encrypt]'), or remove encrypt=True."
        ) from None
    return AESGCM


def _make_keys(keys: t.Sequence[str | bytes]) -> list[_Key]:
    if isinstance(keys, str | bytes) or not keys:
        raise ValueError(
            f"keys={keys!r}: encryption needs a list of keys, newest first (by"
            " default SECRET_KEY and SECRET_KEY_FALLBACKS)."
        )
    aesgcm = require_cryptography()
    made = []
    for index, key in enumerate(keys):
        if not isinstance(key, str | bytes) or not key:
            raise ValueError(
                f"keys[{index}]={key!r}: each key must be a non-empty str or bytes."
            )
        aes_key, key_id = derive(key)
        made.append(_Key(key_id, aesgcm(aes_key), index))
    return made
