"""Ray fan-out on the real fast model: 2 workers, greedy, the same rows as one process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from thinktree.store import RunStore

pytest.importorskip("ray")
pytestmark = [pytest.mark.model, pytest.mark.timeout(1200)]

# One slot and one problem at a time per engine, one thread: what makes llama.cpp
# reproducible (README, Engines); the runs differ only in where problems go.
EVAL = [
    "eval", "--model", "fast", "--benchmark", "gsm8k", "--split", "test", "--limit", "3",
    "--strategy", "greedy", "--parallel", "1", "--window", "1", "--threads", "1", "--json",
]  # fmt: skip


def run_eval(store: Path, *extra: str) -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, "-m", "thinktree", *EVAL, "--store", str(store), *extra],
        capture_output=True, text=True, timeout=900, check=True,
    )  # fmt: skip
    return json.loads(out.stdout)


def steps(store: Path, run_id: str) -> list[tuple[object, ...]]:
    with RunStore(store) as runs:
        return [
            (
                r.problem_id,
                r.answer,
                r.correct,
                r.generated_tokens,
                [(s["text"], s["output"]) for t in r.trajectories for s in t["steps"]],
            )
            for r in runs.results(run_id)
        ]


def test_two_ray_workers_give_the_rows_of_one_process(tmp_path: Path) -> None:
    alone = run_eval(tmp_path / "alone.db")
    fanned = run_eval(tmp_path / "ray.db", "--ray", "auto", "--workers", "2")
    assert fanned["run_id"] == alone["run_id"]  # the same run fingerprint
    assert fanned["status"] == alone["status"] == "complete"
    assert (fanned["n"], fanned["failed"]) == (3, 0)
    assert steps(tmp_path / "ray.db", str(fanned["run_id"])) == steps(
        tmp_path / "alone.db", str(alone["run_id"])
    )


def test_ray_workers_share_one_openai_compatible_server(fast_engine, tmp_path: Path) -> None:
    """The cluster layout in miniature: 2 Ray workers, each an ``openai`` client of one
    server (llama.cpp's, standing in for vLLM/SGLang); the server's prefix-cache hits
    reach the run's metrics."""
    import httpx
    import ray

    from thinktree.engines.factory import EngineConfig
    from thinktree.eval import Evaluation
    from thinktree.eval.fanout import EngineRecipe, FanoutConfig, ray_solver
    from thinktree.problems import load_source, select
    from thinktree.search import SearchConfig

    served = httpx.get(f"{fast_engine.base_url}/v1/models").json()["data"][0]["id"]
    engine = EngineConfig(
        kind="openai", base_url=f"{fast_engine.base_url}/v1", model=served, parallel=2
    )
    problems, dataset = load_source("gsm8k", "test")
    chosen = select(problems, limit=2)  # one a worker
    config = SearchConfig(strategy="greedy")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        with (
            ray_solver(EngineRecipe(engine), config, FanoutConfig(ray="auto", workers=2)) as solver,
            RunStore(tmp_path / "runs.db") as store,
        ):
            assert solver.model_id["name"] == f"openai:{served}"
            evaluation = Evaluation(
                chosen, dataset=dataset, dataset_hash="h", solver=solver, store=store,
                model_id=solver.model_id, scorer_id=solver.scorer_id,
            )  # fmt: skip
            outcome = evaluation.run_all(window=2)
            stored = store.results(outcome.run.id)
    finally:
        ray.shutdown()
    assert outcome.run.status == "complete" and outcome.summary["failed"] == 0
    assert sorted(r.problem_id for r in stored) == sorted(p.id for p in chosen)
    assert all(r.generated_tokens > 0 for r in stored)
    # Every step after the first extends a prompt the server has cached.
    assert outcome.run.metrics["cached_tokens"] > 0
    assert outcome.run.metrics["cached_share"] > 0.5
