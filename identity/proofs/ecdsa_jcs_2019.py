"""ecdsa-jcs-2019 (W3C Data Integrity ECDSA Cryptosuites v1.0, section 3.3).

P-256 hashes with SHA-256, P-384 with SHA-384, for both the canonical forms and ECDSA.
"""

from identity.proofs.base import Suite

SUITE = Suite("ecdsa-jcs-2019", "jcs", ("P-256", "P-384"))
