"""Verify throughput of signed footprint-like credentials vs raw Ed25519 (one core).

Run: `.venv/bin/python tests/bench/bench_identity.py`. Not collected by pytest.
Each measurement cycles through 200 distinct credentials (different ids and values, same
shape), so per-document caching cannot flatter the figures; only work that depends on the
contexts and the document's shape is shared, as it is in a real stream of footprints.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Callable
from typing import Any

from identity.keys import KeyPair
from identity.proofs import add_proof, verify_proofs

FIELDS = [
    "specVersion", "version", "created", "updated", "status", "statusComment", "validityPeriodStart",
    "validityPeriodEnd", "companyName", "companyIds", "productDescription", "productIds",
    "productCategoryCpc", "productNameCompany", "comment", "declaredUnit", "unitaryProductAmount",
    "pCfExcludingBiogenic", "pCfIncludingBiogenic", "fossilGhgEmissions", "fossilCarbonContent",
    "biogenicCarbonContent", "dLucGhgEmissions", "landManagementGhgEmissions",
    "otherBiogenicGhgEmissions", "iLucGhgEmissions", "biogenicCarbonWithdrawal", "aircraftGhgEmissions",
    "characterizationFactors", "crossSectoralStandardsUsed", "productOrSectorSpecificRules",
    "biogenicAccountingMethodology", "boundaryProcessesDescription", "referencePeriodStart",
    "referencePeriodEnd", "geographyCountry", "exemptedEmissionsPercent", "exemptedEmissionsDescription",
    "packagingEmissionsIncluded", "primaryDataShare",
]


def footprint_credential(n: int, issuer: str) -> dict[str, Any]:
    """A VC whose credentialSubject has ~40 PACT-like fields (strings, decimals as strings, lists)."""
    subject: dict[str, Any] = {"id": f"urn:uuid:3a2b1c4d-0000-4000-8000-{n:012d}", "type": "ProductFootprint"}
    for i, name in enumerate(FIELDS):
        subject[name] = f"{name}-{n}" if i % 3 else f"{(n + i) * 1.25:.4f}"
    subject["companyIds"] = [f"urn:pathfinder:company:customcode:buyer-assigned:{n}"]
    subject["productIds"] = [f"urn:gtin:{4712345678900 + n}"]
    subject["crossSectoralStandardsUsed"] = ["GHG Protocol Product standard", "ISO Standard 14067"]
    subject["packagingEmissionsIncluded"] = bool(n % 2)
    return {
        "@context": ["https://www.w3.org/ns/credentials/v2", "https://www.w3.org/ns/credentials/examples/v2"],
        "id": f"urn:uuid:58172aac-d8ba-11ed-83dd-{n:012d}",
        "type": ["VerifiableCredential", "ProductFootprintCredential"],
        "issuer": issuer,
        "validFrom": "2025-01-01T00:00:00Z",
        "credentialSubject": subject,
    }


def rate(fn: Callable[[int], object], seconds: float) -> float:
    """Calls per CPU-second of this thread (other processes on a shared machine do not count)."""
    fn(0)
    count, start = 0, time.thread_time()
    while (elapsed := time.thread_time() - start) < seconds:
        for _ in range(20):
            fn(count)
            count += 1
    return count / elapsed


def interleaved(fns: dict[str, Callable[[int], object]], seconds: float, rounds: int) -> dict[str, float]:
    """Median rate of each function over short alternating rounds, so drift hits all alike."""
    samples: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            samples[name].append(rate(fn, seconds / rounds))
    return {name: statistics.median(values) for name, values in samples.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="CPU seconds per measurement")
    parser.add_argument("--rounds", type=int, default=8, help="alternating rounds per measurement")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    key = KeyPair.generate("ed25519")
    did = "did:key:" + key.public.multibase()
    vm = f"{did}#{key.public.multibase()}"
    docs = [footprint_credential(n, did) for n in range(200)]
    signed = {
        suite: [add_proof(d, key, verification_method=vm, cryptosuite=suite, created="2025-01-01T00:00:00Z") for d in docs]
        for suite in ("eddsa-jcs-2022", "eddsa-rdfc-2022")
    }
    public = key.public
    messages = [os.urandom(64) for _ in range(200)]
    sigs = [key.sign(m) for m in messages]

    def raw(i: int) -> None:
        assert public.verify(sigs[i % 200], messages[i % 200])

    def suite_verify(suite: str) -> Callable[[int], None]:
        batch = signed[suite]

        def run(i: int) -> None:
            assert verify_proofs(batch[i % 200], lambda _vm: public).ok

        return run

    rates = interleaved(
        {"raw": raw, "jcs": suite_verify("eddsa-jcs-2022"), "rdfc": suite_verify("eddsa-rdfc-2022")},
        args.seconds,
        args.rounds,
    )
    raw_rate, jcs_rate, rdfc_rate = rates["raw"], rates["jcs"], rates["rdfc"]
    result = {
        "subject_fields": len(docs[0]["credentialSubject"]),
        "raw_ed25519_verify_per_s": round(raw_rate),
        "eddsa_jcs_2022_verify_per_s": round(jcs_rate),
        "eddsa_rdfc_2022_verify_per_s": round(rdfc_rate),
        "jcs_ratio": round(jcs_rate / raw_rate, 3),
        "rdfc_ratio": round(rdfc_rate / raw_rate, 3),
        "targets": {"jcs_ratio": 0.7, "rdfc_ratio": 0.3},
    }
    if args.json:
        print(json.dumps(result))
    else:
        for k, v in result.items():
            print(f"{k:32} {v}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
