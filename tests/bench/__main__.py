"""`make bench`: run every benchmark under tests/bench/ in turn, each in its own process.

Each script measures its own baseline in the same run (raw Ed25519, raw aiohttp round trip,
pre-rendered bytes) and prints ratios; this runner only sequences them and shows progress.
A single benchmark can be run alone: `python -m tests.bench identity`.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ORDER = ["identity", "policies", "control_plane", "pact"]


def main(argv: list[str]) -> int:
    wanted = argv or ORDER
    unknown = [w for w in wanted if not (HERE / f"bench_{w}.py").exists()]
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; available: {', '.join(ORDER)}", file=sys.stderr)
        return 2
    failed = []
    for i, name in enumerate(wanted, 1):
        print(f"\n=== [{i}/{len(wanted)}] bench_{name} ===", flush=True)
        started = time.monotonic()
        code = subprocess.call([sys.executable, "-m", f"tests.bench.bench_{name}"], cwd=HERE.parents[1])
        print(f"--- bench_{name}: {'ok' if code == 0 else f'exit {code}'} in {time.monotonic() - started:.0f} s", flush=True)
        if code:
            failed.append(name)
    if failed:
        print(f"\nfailed: {', '.join(failed)}", file=sys.stderr)
    print("\nRecord the figures in docs/benchmarks.md.")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
