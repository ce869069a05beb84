"""A round's dev greedy against round 0's: wins and losses are counted from the round's side."""

from __future__ import annotations

from thinktree.store import ResultRow, RunStore
from thinktree.train.evolve.config import EvolveConfig
from thinktree.train.evolve.loop import Evolution
from thinktree.train.evolve.report import markdown_summary


def stored_run(store: RunStore, name: str, verdicts: str) -> str:
    run = store.create_run(
        name, fingerprint=name, kind="eval", dataset="d", strategy="greedy", model="m",
        config={}, manifest={},
    )  # fmt: skip
    for i, v in enumerate(verdicts):
        row = ResultRow(f"p{i}", i, "q", "1", "1", v == "1", 10, 0, 0, 1.0, "done")
        store.add_result(run.id, row)
    return run.id


def test_round_wins_are_the_problems_it_gets_and_round_0_missed(tmp_path) -> None:
    evolution = Evolution(EvolveConfig(), tmp_path / "evolve")
    with RunStore(tmp_path / "runs.db") as store:
        evolution.store = store
        base = stored_run(store, "round0", "0001")  # round 0 right on p3 only
        later = stored_run(store, "round1", "1110")  # round 1 right on p0-p2, wrong on p3
        versus = evolution.compare_runs(base, later)
    assert (versus["won"], versus["lost"], versus["both"], versus["neither"]) == (3, 1, 0, 0)
    assert versus["sign_test_p"] == 0.625
    row = {"round": 1, "dev_greedy_vs_round0": versus}
    assert "won 3, lost 1 (sign test p = 0.625)" in markdown_summary([row])
