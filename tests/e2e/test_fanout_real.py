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
