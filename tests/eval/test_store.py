from __future__ import annotations

from pathlib import Path

import pytest

from thinktree.store import ResultRow, RunStore, StoreError


def make_run(store: RunStore, name: str = "run", fp: str = "fp1"):
    return store.create_run(
        name,
        fingerprint=fp,
        kind="eval",
        dataset="gsm8k:test",
        strategy="greedy",
        model="m",
        config={"a": 1},
        manifest={"seed": 0},
    )


def result(pid: str, position: int = 0) -> ResultRow:
    return ResultRow(
        pid,
        position,
        "q?",
        "3",
        "3",
        True,
        5,
        7,
        9,
        1.5,
        "done",
        samples={"answers": ["3"]},
        trajectories=[{"steps": []}],
    )


def test_results_are_stored_once_and_round_trip(tmp_path: Path) -> None:
    with RunStore(tmp_path / "runs.db") as store:
        run = make_run(store)
        assert store.add_result(run.id, result("p1"))
        assert not store.add_result(run.id, result("p1"))  # never counted twice
        assert store.results(run.id) == [result("p1")]
        assert store.done_problem_ids(run.id) == {"p1"}
        assert store.find_run("fp1").id == run.id
        assert store.find_run("nope") is None
        assert make_run(store).id == "run-2"  # same name: a suffix, never an overwrite
    with RunStore(tmp_path / "runs.db") as store:
        assert store.get_run("run").config == {"a": 1}
        assert store.get_run("run-").id == "run-2"  # unique prefix


def test_tree_written_with_its_result(tmp_path: Path) -> None:
    tree = {
        "nodes": [
            {
                "id": 0,
                "parent": None,
                "depth": 0,
                "step": None,
                "visits": 1,
                "value_sum": 1.0,
                "q": 1.0,
                "local_visits": 0,
                "local_value": 0.0,
                "terminal": False,
                "terminal_reason": None,
                "answer": None,
                "score": None,
                "expanded": True,
                "correct": None,
            },
            {
                "id": 1,
                "parent": 0,
                "depth": 1,
                "step": {"text": "x", "kind": "final"},
                "visits": 1,
                "value_sum": 1.0,
                "q": 1.0,
                "local_visits": 0,
                "local_value": 0.0,
                "terminal": True,
                "terminal_reason": "answer",
                "answer": "3",
                "score": 0.5,
                "expanded": False,
                "correct": True,
            },
        ]
    }
    with RunStore(tmp_path / "runs.db") as store:
        run = make_run(store)
        store.add_result(run.id, result("p1"), tree)
        assert store.tree(run.id, "p1") == tree
        assert store.tree_problem_ids(run.id) == ["p1"]
        assert store.tree(run.id, "p2") is None


def test_bad_tree_rolls_back_the_whole_problem(tmp_path: Path) -> None:
    with RunStore(tmp_path / "runs.db") as store:
        run = make_run(store)
        with pytest.raises(KeyError):
            store.add_result(run.id, result("p1"), {"nodes": [{"id": 0}]})
        assert store.results(run.id) == []


def test_user_errors_are_one_line(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no run store at"):
        RunStore(tmp_path / "missing.db", create=False)
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="is not a thinktree run store"):
        RunStore(garbage)
    with pytest.raises(StoreError, match="is a directory"):
        RunStore(tmp_path)
    with RunStore(tmp_path / "runs.db") as store:
        make_run(store, "alpha")
        make_run(store, "alpine", "fp2")
        with pytest.raises(StoreError, match="ambiguous"):
            store.get_run("alp")
        with pytest.raises(StoreError, match="no run 'zzz'"):
            store.get_run("zzz")


def test_wal_mode(tmp_path: Path) -> None:
    with RunStore(tmp_path / "runs.db") as store:
        assert store._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
