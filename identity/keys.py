"""Key pairs for Ed25519, P-256 and P-384, with JWK and Multikey encodings.

One small type (`PublicKey` / `KeyPair`) hides the `cryptography` key classes so that the
proof suites, DID methods and token code share a single notion of "a key" and its encodings.
ECDSA signatures are IEEE P1363 `r||s` (what Data Integrity and JOSE use), produced
deterministically (RFC 6979) so signing is byte-reproducible against the W3C vectors.
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, cast

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from identity.errors import IdentityError
from identity.files import json_problem

KeyType = Literal["Ed25519", "P-256", "P-384"]
KEY_TYPES: tuple[KeyType, ...] = ("Ed25519", "P-256", "P-384")

# Multicodec varint prefixes (https://github.com/multiformats/multicodec table), as used by
# the W3C Multikey encoding and the Data Integrity test vectors.
_PUB_PREFIX: dict[KeyType, bytes] = {
    "Ed25519": b"\xed\x01",
    "P-256": b"\x80\x24",
    "P-384": b"\x81\x24",
}
_SECRET_PREFIX: dict[KeyType, bytes] = {
    "Ed25519": b"\x80\x26",
    "P-256": b"\x86\x26",
    "P-384": b"\x87\x26",
}
_PUB_LEN: dict[KeyType, int] = {"Ed25519": 32, "P-256": 33, "P-384": 49}
_SECRET_LEN: dict[KeyType, int] = {"Ed25519": 32, "P-256": 32, "P-384": 48}
_CURVES: dict[KeyType, ec.EllipticCurve] = {"P-256": ec.SECP256R1(), "P-384": ec.SECP384R1()}
_HASHES: dict[KeyType, type[hashes.HashAlgorithm]] = {"P-256": hashes.SHA256, "P-384": hashes.SHA384}
_JWS_ALG: dict[KeyType, str] = {"Ed25519": "EdDSA", "P-256": "ES256", "P-384": "ES384"}
MAX_MULTIBASE_LEN = 200


class KeyError_(IdentityError):
    """A key could not be read or used; the message names what is wrong (an IdentityError)."""


def _b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64u(text: str, what: str) -> bytes:
    if not isinstance(text, str):
        raise KeyError_(f"{what} must be a base64url string")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError) as exc:
        raise KeyError_(f"{what} is not valid base64url") from exc


def multibase_decode(value: str) -> bytes:
    """Decode a base58btc (`z`) multibase string, the only base Multikey uses."""
    if not isinstance(value, str) or not value:
        raise KeyError_("multibase value must be a non-empty string")
    if len(value) > MAX_MULTIBASE_LEN:
        raise KeyError_(f"multibase value too long ({len(value)} > {MAX_MULTIBASE_LEN} characters)")
    if value[0] != "z":
        raise KeyError_(f"unsupported multibase prefix {value[0]!r}; expected 'z' (base58btc)")
    return _b58decode(value[1:])


_B58_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_B58_INDEX = {c: i for i, c in enumerate(_B58_ALPHABET)}


_B58_PAIRS = [a + b for a in _B58_ALPHABET for b in _B58_ALPHABET]  # 58*hi + lo -> two digits
_B58_CHUNK = 58**5  # < 2^30, one CPython digit: the fast single-digit big-int division


#: base58btc character -> digit value; every other byte -> 0xFF.
_B58_DIGITS = bytes(_B58_INDEX.get(chr(b), 0xFF) for b in range(256))


def _b58_folds(size: int) -> tuple[tuple[int, int, int], ...]:
    """The folds that turn `size` base-58 digits, one per byte of a big-endian number, into
    the number itself, all slots of a level at once (SIMD within one big int).

    At each level every slot of 2w bits holds hi * 2^w + lo with hi, lo < 58^k <= 2^w; one
    shift, mask, multiply and subtract per level make each slot hi * 58^k + lo (no borrow
    crosses a slot: each stays non-negative and below 58^2k <= 2^2w)."""
    folds = []
    width, power = 8, 58
    while width < 8 * size:
        slots = (8 * size) // (2 * width)
        mask = sum(((1 << width) - 1) << (2 * width * i) for i in range(slots))
        folds.append((width, mask, (1 << width) - power))
        width, power = 2 * width, power * power
    return tuple(folds)


#: `_b58_folds` per digit count rounded up to a power of two, by its bit length.
_B58_FOLDS = [_b58_folds(1 << bits) for bits in range((MAX_MULTIBASE_LEN - 1).bit_length() + 1)]


def _b58decode(text: str) -> bytes:
    """Bitcoin base58 decoding (hot on every proof check; ~10x faster than the `base58`
    package): one C translation to digit values, then log2(length) big-int folds."""
    if not text.isascii():
        raise KeyError_("multibase value is not valid base58btc")
    digits = text.encode("ascii").translate(_B58_DIGITS)
    if b"\xff" in digits:
        raise KeyError_("multibase value is not valid base58btc")
    bits = (len(digits) - 1).bit_length() if digits else 0
    folds = _B58_FOLDS[bits] if bits < len(_B58_FOLDS) else _b58_folds(1 << bits)
    number = int.from_bytes(digits, "big")  # leading zero digits implied up to the fold size
    for shift, mask, excess in folds:
        number -= excess * ((number >> shift) & mask)
    pad = len(text) - len(text.lstrip("1"))
    body = number.to_bytes((number.bit_length() + 7) // 8, "big") if number else b""
    return b"\x00" * pad + body


def _b58encode(data: bytes) -> str:
    """Bitcoin base58 encoding (on every signature), ~3x faster than `base58.b58encode`
    and equal to it (tested): five digits per big-int division by 58^5 (a one-digit
    divisor for CPython), then two table lookups and one index per five digits."""
    pad = len(data) - len(data.lstrip(b"\x00"))
    number = int.from_bytes(data, "big")
    alphabet, pairs = _B58_ALPHABET, _B58_PAIRS
    chunks: list[str] = []
    while number >= _B58_CHUNK:
        number, r = divmod(number, _B58_CHUNK)
        r, low = divmod(r, 3364)
        high, mid = divmod(r, 3364)
        chunks.append(alphabet[high] + pairs[mid] + pairs[low])
    head = ""
    while number:  # the most significant digits, without leading zero digits
        number, r = divmod(number, 58)
        head = alphabet[r] + head
    chunks.append(head)
    chunks.reverse()
    return "1" * pad + "".join(chunks)


def multibase_encode(data: bytes) -> str:
    return "z" + _b58encode(data)


@dataclass(frozen=True)
class PublicKey:
    """A public verification key of one of the supported types."""

    key_type: KeyType
    _key: ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey

    # -- encodings --------------------------------------------------------------------
    def raw(self) -> bytes:
        """Raw bytes: 32 for Ed25519, the compressed SEC1 point for ECDSA (as in Multikey)."""
        if isinstance(self._key, ed25519.Ed25519PublicKey):
            return self._key.public_bytes(Encoding.Raw, PublicFormat.Raw)
        return self._key.public_bytes(Encoding.X962, PublicFormat.CompressedPoint)

    def multibase(self) -> str:
        return multibase_encode(_PUB_PREFIX[self.key_type] + self.raw())

    def jwk(self) -> dict[str, str]:
        if isinstance(self._key, ed25519.Ed25519PublicKey):
            return {"kty": "OKP", "crv": "Ed25519", "x": _b64u(self.raw())}
        nums = self._key.public_numbers()
        size = _SECRET_LEN[self.key_type]
        return {
            "kty": "EC",
            "crv": self.key_type,
            "x": _b64u(nums.x.to_bytes(size, "big")),
            "y": _b64u(nums.y.to_bytes(size, "big")),
        }

    @property
    def jws_alg(self) -> str:
        return _JWS_ALG[self.key_type]

    def cryptography_key(self) -> ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey:
        return self._key

    # -- decoding ---------------------------------------------------------------------
    @classmethod
    def from_multibase(cls, value: str) -> PublicKey:
        data = multibase_decode(value)
        for key_type, prefix in _PUB_PREFIX.items():
            if data.startswith(prefix):
                return cls.from_raw(key_type, data[len(prefix):])
        raise KeyError_("multikey has an unknown or unsupported multicodec prefix")

    @classmethod
    def from_raw(cls, key_type: KeyType, raw: bytes) -> PublicKey:
        if key_type not in KEY_TYPES:
            raise KeyError_(f"unsupported key type {key_type!r}")
        if len(raw) != _PUB_LEN[key_type]:
            raise KeyError_(f"{key_type} public key must be {_PUB_LEN[key_type]} bytes, got {len(raw)}")
        try:
            if key_type == "Ed25519":
                return cls(key_type, ed25519.Ed25519PublicKey.from_public_bytes(raw))
            return cls(key_type, ec.EllipticCurvePublicKey.from_encoded_point(_CURVES[key_type], raw))
        except ValueError as exc:
            raise KeyError_(f"invalid {key_type} public key: {exc}") from exc

    @classmethod
    def from_jwk(cls, jwk: dict[str, object]) -> PublicKey:
        if not isinstance(jwk, dict):
            raise KeyError_("JWK must be a JSON object")
        kty, crv = jwk.get("kty"), jwk.get("crv")
        if kty == "OKP" and crv == "Ed25519":
            return cls.from_raw("Ed25519", _unb64u(cast(str, jwk.get("x")), "JWK x"))
        if kty == "EC" and crv in ("P-256", "P-384"):
            key_type = cast(KeyType, crv)
            x = _unb64u(cast(str, jwk.get("x")), "JWK x")
            y = _unb64u(cast(str, jwk.get("y")), "JWK y")
            size = _SECRET_LEN[key_type]
            if len(x) != size or len(y) != size:
                raise KeyError_(f"{crv} JWK coordinates must be {size} bytes")
            try:
                nums = ec.EllipticCurvePublicNumbers(
                    int.from_bytes(x, "big"), int.from_bytes(y, "big"), _CURVES[key_type]
                )
                return cls(key_type, nums.public_key())
            except ValueError as exc:
                raise KeyError_(f"JWK is not a point on {crv}") from exc
        raise KeyError_(f"unsupported JWK key type kty={kty!r} crv={crv!r}")

    # -- use --------------------------------------------------------------------------
    def verify(self, signature: bytes, data: bytes) -> bool:
        """Verify a raw Ed25519 signature or an r||s ECDSA signature over `data`."""
        try:
            if isinstance(self._key, ed25519.Ed25519PublicKey):
                self._key.verify(signature, data)
                return True
            size = _SECRET_LEN[self.key_type]
            if len(signature) != 2 * size:
                return False
            r = int.from_bytes(signature[:size], "big")
            s = int.from_bytes(signature[size:], "big")
            self._key.verify(encode_dss_signature(r, s), data, ec.ECDSA(_HASHES[self.key_type]()))
            return True
        except InvalidSignature:
            return False


@dataclass(frozen=True)
class KeyPair:
    """A signing key with its public half."""

    key_type: KeyType
    _private: ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey

    @classmethod
    def generate(cls, key_type: str = "Ed25519") -> KeyPair:
        kt = normalise_key_type(key_type)
        if kt == "Ed25519":
            return cls(kt, ed25519.Ed25519PrivateKey.generate())
        return cls(kt, ec.generate_private_key(_CURVES[kt]))

    @property
    def public(self) -> PublicKey:
        return PublicKey(self.key_type, self._private.public_key())

    def secret_raw(self) -> bytes:
        if isinstance(self._private, ed25519.Ed25519PrivateKey):
            return self._private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        return self._private.private_numbers().private_value.to_bytes(_SECRET_LEN[self.key_type], "big")

    def secret_multibase(self) -> str:
        return multibase_encode(_SECRET_PREFIX[self.key_type] + self.secret_raw())

    def private_jwk(self) -> dict[str, str]:
        return {**self.public.jwk(), "d": _b64u(self.secret_raw())}

    def sign(self, data: bytes) -> bytes:
        """Ed25519 signs `data` directly; ECDSA hashes it (SHA-256/384) and returns r||s."""
        if isinstance(self._private, ed25519.Ed25519PrivateKey):
            return self._private.sign(data)
        algo = ec.ECDSA(_HASHES[self.key_type](), deterministic_signing=True)
        r, s = decode_dss_signature(self._private.sign(data, algo))
        size = _SECRET_LEN[self.key_type]
        return r.to_bytes(size, "big") + s.to_bytes(size, "big")

    def cryptography_key(self) -> ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey:
        return self._private

    @classmethod
    def from_raw(cls, key_type: KeyType, secret: bytes) -> KeyPair:
        if len(secret) != _SECRET_LEN[key_type]:
            raise KeyError_(f"{key_type} secret key must be {_SECRET_LEN[key_type]} bytes, got {len(secret)}")
        try:
            if key_type == "Ed25519":
                return cls(key_type, ed25519.Ed25519PrivateKey.from_private_bytes(secret))
            return cls(key_type, ec.derive_private_key(int.from_bytes(secret, "big"), _CURVES[key_type]))
        except ValueError as exc:
            raise KeyError_(f"invalid {key_type} secret key: {exc}") from exc

    @classmethod
    def from_multibase(cls, secret: str, public: str | None = None) -> KeyPair:
        """Read a Multikey secret (`privateKeyMultibase`/`secretKeyMultibase`); check the public half."""
        data = multibase_decode(secret)
        for key_type, prefix in _SECRET_PREFIX.items():
            if data.startswith(prefix):
                pair = cls.from_raw(key_type, data[len(prefix):])
                break
        else:
            raise KeyError_("secret multikey has an unknown or unsupported multicodec prefix")
        if public is not None and PublicKey.from_multibase(public).raw() != pair.public.raw():
            raise KeyError_("public multikey does not match the secret key")
        return pair

    @classmethod
    def from_jwk(cls, jwk: dict[str, object]) -> KeyPair:
        public = PublicKey.from_jwk(jwk)
        if "d" not in jwk:
            raise KeyError_("JWK has no private part 'd'")
        pair = cls.from_raw(public.key_type, _unb64u(cast(str, jwk["d"]), "JWK d"))
        if pair.public.raw() != public.raw():
            raise KeyError_("JWK private key 'd' does not match its public coordinates")
        return pair

    # -- files ------------------------------------------------------------------------
    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the private JWK with mode 0600, created that way (never briefly world-readable)."""
        target = Path(path)
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(self.private_jwk(), fh, indent=2)
            fh.write("\n")
        os.chmod(target, 0o600)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> KeyPair:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise KeyError_(f"cannot read key file {path}: {exc.strerror}") from exc
        if len(text) > 16_384:
            raise KeyError_(f"key file {path} is too large to be a JWK")
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise KeyError_(f"key file {path} is not JSON: {json_problem(exc)}") from exc
        return cls.from_jwk(data)


def normalise_key_type(name: str) -> KeyType:
    """Accept the spellings people type (`ed25519`, `p256`, `P-256`, `secp256r1`)."""
    table: dict[str, KeyType] = {
        "ed25519": "Ed25519",
        "p256": "P-256",
        "p-256": "P-256",
        "secp256r1": "P-256",
        "es256": "P-256",
        "p384": "P-384",
        "p-384": "P-384",
        "secp384r1": "P-384",
        "es384": "P-384",
    }
    try:
        return table[str(name).lower()]
    except KeyError:
        raise KeyError_(f"unsupported key type {name!r}; use ed25519, p256 or p384") from None
