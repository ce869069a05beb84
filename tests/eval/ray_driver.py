"""A Ray-fanned scripted evaluation in its own process; the resume test SIGKILLs it.

Usage: python -m tests.eval.ray_driver STORE_PATH RAY_ADDRESS DELAY_SECONDS
"""

from __future__ import annotations

import sys

from tests.eval.ray_helpers import PROBLEMS, ScriptedRecipe
from thinktree.eval import Evaluation
from thinktree.eval.fanout import FanoutConfig, ray_solver
from thinktree.search import SearchConfig
from thinktree.store import RunStore

CONFIG = SearchConfig(strategy="sc", samples=3)


def main(store_path: str, address: str, delay: float) -> None:
    fanout = FanoutConfig(ray=address, workers=2, worker_cpus=0.5)
    with (
        ray_solver(ScriptedRecipe(delay=delay), CONFIG, fanout) as solver,
        RunStore(store_path) as store,
    ):
        evaluation = Evaluation(
            PROBLEMS,
            dataset="toy:test",
            dataset_hash="h",
            solver=solver,
            store=store,
            model_id=solver.model_id,
            scorer_id=solver.scorer_id,
        )
        outcome = evaluation.run_all(window=1)
        print(outcome.run.id, outcome.summary["correct"], outcome.new_results, flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], float(sys.argv[3]))
