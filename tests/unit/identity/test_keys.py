"""identity.keys: generation, encodings round-trip, signatures, bad input gives KeyError_."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import base58
import pytest

from identity.keys import KeyError_, KeyPair, PublicKey, multibase_decode, multibase_encode

VECTORS = Path(__file__).parents[2] / "conformance" / "data" / "vc"


@pytest.mark.parametrize("kind,key_type", [("ed25519", "Ed25519"), ("p256", "P-256"), ("p384", "P-384")])
def test_round_trips_and_signatures(kind: str, key_type: str) -> None:
    pair = KeyPair.generate(kind)
    assert pair.key_type == key_type
    sig = pair.sign(b"payload")
    assert pair.public.verify(sig, b"payload")
    assert not pair.public.verify(sig, b"payload!")
    assert PublicKey.from_multibase(pair.public.multibase()).raw() == pair.public.raw()
    assert PublicKey.from_jwk(pair.public.jwk()).raw() == pair.public.raw()
    assert KeyPair.from_jwk(pair.private_jwk()).secret_raw() == pair.secret_raw()
    assert KeyPair.from_multibase(pair.secret_multibase(), pair.public.multibase()).secret_raw() == pair.secret_raw()


def test_ecdsa_is_deterministic() -> None:
    pair = KeyPair.generate("p256")
    assert pair.sign(b"x") == pair.sign(b"x")


@pytest.mark.parametrize(
    "rel,secret_field,prefix",
    [
        ("vc-di-eddsa/TestVectors/keyPair.json", "privateKeyMultibase", "z6Mk"),
        ("vc-di-ecdsa/TestVectors/p256KeyPair.json", "secretKeyMultibase", "zDna"),
        ("vc-di-ecdsa/TestVectors/p384KeyPair.json", "secretKeyMultibase", "z82L"),
    ],
)
def test_w3c_key_pairs_decode_and_re_encode(rel: str, secret_field: str, prefix: str) -> None:
    pair_json = json.loads((VECTORS / rel).read_text())
    pair = KeyPair.from_multibase(pair_json[secret_field], pair_json["publicKeyMultibase"])
    assert pair.public.multibase() == pair_json["publicKeyMultibase"]
    assert pair.public.multibase().startswith(prefix)
    assert pair.secret_multibase() == pair_json[secret_field]


def test_base58_decoder_matches_reference() -> None:
    for n in range(0, 80, 7):
        for zeros in range(3):
            data = b"\x00" * zeros + os.urandom(n)
            assert multibase_decode("z" + base58.b58encode(data).decode()) == data
            assert multibase_encode(data) == "z" + base58.b58encode(data).decode()


@pytest.mark.parametrize(
    "value,reason",
    [("", "non-empty"), ("m123", "prefix"), ("z0OIl", "base58"), ("z" + "2" * 300, "too long")],
)
def test_multibase_garbage(value: str, reason: str) -> None:
    with pytest.raises(KeyError_, match=reason):
        multibase_decode(value)


def test_bad_keys_are_named() -> None:
    with pytest.raises(KeyError_, match="unknown or unsupported multicodec"):
        PublicKey.from_multibase(multibase_encode(b"\x01\x02" + bytes(32)))
    with pytest.raises(KeyError_, match="32 bytes"):
        PublicKey.from_multibase(multibase_encode(b"\xed\x01" + bytes(31)))
    with pytest.raises(KeyError_, match="does not match"):
        KeyPair.from_multibase(KeyPair.generate("ed25519").secret_multibase(), KeyPair.generate("ed25519").public.multibase())
    with pytest.raises(KeyError_, match="unsupported key type"):
        KeyPair.generate("rsa")
    with pytest.raises(KeyError_, match="unsupported JWK"):
        PublicKey.from_jwk({"kty": "RSA"})


def test_ecdsa_signature_of_wrong_size_is_false_not_an_exception() -> None:
    pair = KeyPair.generate("p256")
    assert pair.public.verify(b"\x00" * 10, b"x") is False


def test_key_file_is_private(tmp_path: Path) -> None:
    path = tmp_path / "k.jwk"
    pair = KeyPair.generate("ed25519")
    pair.save(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert KeyPair.load(path).secret_raw() == pair.secret_raw()
    (tmp_path / "bad.jwk").write_text("{not json")
    with pytest.raises(KeyError_, match="not JSON"):
        KeyPair.load(tmp_path / "bad.jwk")


def test_key_errors_are_identity_errors() -> None:
    from identity.errors import IdentityError

    assert issubclass(KeyError_, IdentityError) and issubclass(KeyError_, ValueError)


def test_base58_decoder_matches_reference_at_every_length() -> None:
    """Every digit count up to the longest multibase value and past it (the folds are sized
    per power of two), random digits with and without leading '1's, against `base58`."""
    import random

    from identity.keys import _B58_ALPHABET, _b58decode

    rng = random.Random(58)
    for length in range(0, 300):
        for ones in (0, 1, 3):
            if ones > length:
                continue
            text = "1" * ones + "".join(rng.choice(_B58_ALPHABET) for _ in range(length - ones))
            assert _b58decode(text) == base58.b58decode(text), text
    for length in (1, 2, 15, 16, 17, 64, 127, 128, 129, 199, 256, 257):
        text = "z" * length  # the largest value for its length
        assert _b58decode(text) == base58.b58decode(text)
