"""eddsa-rdfc-2022 (W3C Data Integrity EdDSA Cryptosuites v1.0, section 3.2): Ed25519 over RDFC-1.0."""

from identity.proofs.base import Suite

SUITE = Suite("eddsa-rdfc-2022", "rdfc", ("Ed25519",))
