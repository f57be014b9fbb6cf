"""ecdsa-rdfc-2019 (W3C Data Integrity ECDSA Cryptosuites v1.0, section 3.2).

With P-384, RDFC-1.0 itself runs with SHA-384 as well as the document and config hashes.
"""

from identity.proofs.base import Suite

SUITE = Suite("ecdsa-rdfc-2019", "rdfc", ("P-256", "P-384"))
