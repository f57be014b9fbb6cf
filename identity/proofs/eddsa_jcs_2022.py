"""eddsa-jcs-2022 (W3C Data Integrity EdDSA Cryptosuites v1.0, section 3.3): Ed25519 over JCS."""

from identity.proofs.base import Suite

SUITE = Suite("eddsa-jcs-2022", "jcs", ("Ed25519",))
