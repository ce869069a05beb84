"""Put the shipped ``evolved`` policy back into its evolve round on a fresh machine.

    .venv/bin/python benchmarks/restore_shipped_round.py runs/evolve

benchmarks/run_evolve.sh calls it after restoring the rounds' ledgers, so a run
resumes from the shipped round's adapter and PPM instead of training it again.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from thinktree.models.assemble import ModelError
from thinktree.models.policy import embedded_policy_dir
from thinktree.train.export.ship import restore_shipped_round


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="the evolve output directory, e.g. runs/evolve")
    try:
        said = restore_shipped_round(parser.parse_args().out, embedded_policy_dir())
    except (ModelError, OSError) as exc:
        sys.exit(f"error: {exc}")
    if said:
        print(said)


if __name__ == "__main__":
    main()
