"""Reading an evolve directory's rounds: ledgers, runs under way, the summary, damage."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from thinktree.viewer.evolve import read_evolve

FINISHED = 1_700_000_000.0


def write_evolve(out: Path) -> Path:
    (out / "round-0").mkdir(parents=True)
    (out / "round-0" / "manifest.json").write_text(json.dumps({
        "round": 0, "parent": None, "policy_base": "qwen2.5-coder-0.5b-instruct",
        "stages": {
            "pool_search": {"run_id": "pool-run", "n": 85, "accuracy": 0.8, "finished": FINISHED},
            "dev_greedy": {"run_id": "dev-run", "n": 100, "accuracy": 0.25,
                           "in_format": 0.9, "finished": FINISHED},
        },
        "data": {"dev_greedy_run": "dev-run", "dev_mcts_run": "mcts-run"},
    }))  # fmt: skip
    (out / "round-1").mkdir()
    (out / "round-1" / "manifest.json").write_text("{not json")
    (out / "round-10").mkdir()  # started, no ledger yet
    (out / "round-x").mkdir()  # not a round
    (out / "references.jsonl").write_text("")
    return out


def test_rounds_are_read_in_number_order_with_stages_in_the_loop_order(tmp_path) -> None:
    view = read_evolve(write_evolve(tmp_path / "evo"))
    assert [r.index for r in view.rounds] == [0, 1, 10]
    zero = view.rounds[0]
    assert (zero.parent, zero.policy_base, zero.error) == (
        None,
        "qwen2.5-coder-0.5b-instruct",
        None,
    )
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(FINISHED))
    assert [(s.name, s.finished, s.run_id, s.figures) for s in zero.stages] == [
        ("dev_greedy", when, "dev-run", {"n": "100", "accuracy": "0.25", "in_format": "0.9"}),
        ("pool_search", when, "pool-run", {"n": "85", "accuracy": "0.8"}),
    ]
    assert zero.under_way == [("dev_mcts", "mcts-run")]
    assert view.rounds[1].error is not None
    assert view.rounds[1].error.startswith("manifest.json is unreadable (")
    assert view.rounds[2].error == "no manifest yet"
    assert (view.summary, view.summary_error) == (None, None)


def test_the_summary_table_uses_evolve_s_own_columns(tmp_path) -> None:
    out = write_evolve(tmp_path / "evo")
    (out / "summary.json").write_text(json.dumps([{"round": 0, "pool_size": 85,
                                                   "pool_accuracy": 0.8, "dev_greedy": 0.25}]))  # fmt: skip
    view = read_evolve(out)
    assert view.columns[:3] == ["round", "pool", "pool acc"]
    assert view.summary == [
        ["0", "85", "80.0 %", "-", "-", "-", "-", "-", "25.0 %", "-", "-", "-", "-"]
    ]


@pytest.mark.parametrize("text", ["[1, 2]", "{}", "nonsense"])
def test_a_damaged_summary_is_reported_not_raised(tmp_path, text) -> None:
    out = write_evolve(tmp_path / "evo")
    (out / "summary.json").write_text(text)
    view = read_evolve(out)
    assert view.summary is None
    assert view.summary_error is not None
    assert view.summary_error.startswith("summary.json is unreadable (")


def test_a_missing_directory_is_a_value_error(tmp_path) -> None:
    with pytest.raises(ValueError) as caught:
        read_evolve(tmp_path / "nope")
    assert str(caught.value) == f"the evolve directory {tmp_path / 'nope'} does not exist"
