"""Ship an evolve round inside the package as the embedded ``evolved`` policy.

    .venv/bin/python benchmarks/ship_evolved.py runs/evolve/round-N

Copies the round's GGUF adapter, policy.json (with its provenance: round, data,
dev accuracy, parity) and PPM into src/thinktree/models/evolved/, replacing
whatever was shipped before; then ``--model evolved`` and ``--scorer ppm:evolved``
serve it. The adapter is committed once (issue 17), so ship only the round chosen
for the release.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from thinktree.train.export.ship import ship_round

PACKAGE_DIR = Path(__file__).resolve().parents[1] / "src" / "thinktree" / "models" / "evolved"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("round_dir", type=Path, help="an evolve round directory, OUT/round-N")
    args = parser.parse_args()
    try:
        policy = ship_round(args.round_dir, PACKAGE_DIR)
    except (ValueError, OSError) as exc:
        sys.exit(f"error: {exc}")
    size = policy.adapter.stat().st_size if policy.adapter else 0
    print(f"shipped {args.round_dir} as {PACKAGE_DIR} ({size / 1e6:.1f} MB adapter)")
    print(", ".join(f"{k} {v}" for k, v in policy.provenance.items()))


if __name__ == "__main__":
    main()
