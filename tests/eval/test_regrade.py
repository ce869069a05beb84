"""Regrading stored runs with a better judge: verdicts, samples, tree nodes, metrics."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import answer, cell, depth_of
from thinktree.engines.scripted import ScriptedEngine
from thinktree.eval import Evaluation
from thinktree.eval.regrade import regrade
from thinktree.problems import Problem
from thinktree.reward import NullScorer
from thinktree.search import SearchConfig, SearchContext
from thinktree.search.judge import GraderJudge
from thinktree.store import RunStore, StoreError

PROBLEMS = [Problem("a", "What is 2 + 2?", "4"), Problem("b", "What is 3 + 3?", "6")]


class ExactJudge:
    """An old, too strict grader: string equality."""

    def same(self, a: str, b: str) -> bool:
        return a == b

    def correct(self, answer: str, gold: str) -> bool:
        return answer == gold


def script(request, index):
    # Problem a: "4.0" twice and "5" twice; problem b: "6" always. The code's
    # output becomes the answer.
    if depth_of(request.prompt) == 0:
        value = ["4.0", "4.0", "5", "5"][index % 4] if "2 + 2" in request.prompt else "6"
        return cell(f"print({value})")
    return answer(request.prompt.rsplit("Output: ", 1)[1].split("\n")[0])


def _run(store: RunStore, sandbox, strategy: str, **config):
    ctx = SearchContext(ScriptedEngine(script), sandbox,
                        SearchConfig(strategy=strategy, seed=3, **config), ExactJudge(), NullScorer())  # fmt: skip
    return Evaluation(PROBLEMS, dataset="toy:test", dataset_hash="h", ctx=ctx, store=store,
                      model_id={"name": "scripted"}).run_all()  # fmt: skip


def test_regrade_fixes_verdicts_samples_and_metrics(tmp_path: Path, sandbox, grader) -> None:
    with RunStore(tmp_path / "runs.db") as store:
        sc = _run(store, sandbox, "sc", samples=4)
        rows = store.results(sc.run.id)
        assert [(r.answer, r.correct) for r in rows] == [("4.0", False), ("6", True)]
        assert rows[0].samples["correct"] == [False, False, False, False]
        assert sc.run.metrics["accuracy"] == 0.5
        wall = sc.run.metrics["wall_seconds"]

        report = regrade(store, sc.run.id, GraderJudge(grader))
        assert report.checked == 2
        assert report.changed == [("a", False, True)]
        rows = store.results(sc.run.id)
        assert [(r.answer, r.correct) for r in rows] == [("4.0", True), ("6", True)]
        assert rows[0].samples["correct"] == [True, True, False, False]
        assert rows[0].samples["class_correct"] == {"0": True, "1": False}
        assert report.run.metrics["accuracy"] == 1.0
        assert report.run.metrics["pass@4"] == 1.0
        assert report.run.metrics["wall_seconds"] == wall  # time is not regraded
        again = regrade(store, sc.run.id, GraderJudge(grader))
        assert again.changed == [] and again.nodes_changed == 0


def test_regrade_updates_tree_node_correctness(tmp_path: Path, sandbox, grader) -> None:
    with RunStore(tmp_path / "runs.db") as store:
        mcts = _run(store, sandbox, "mcts", samples=2, k=2)
        tree = store.tree(mcts.run.id, "a")
        wrong_before = [n["id"] for n in tree["nodes"] if n["answer"] == "4.0"]
        assert wrong_before and all(
            n["correct"] is False for n in tree["nodes"] if n["answer"] == "4.0"
        )
        q_before = [n["q"] for n in tree["nodes"]]
        report = regrade(store, mcts.run.id, GraderJudge(grader))
        assert report.nodes_changed == len(wrong_before)
        tree = store.tree(mcts.run.id, "a")
        assert [n["id"] for n in tree["nodes"] if n["correct"]] == wrong_before
        assert [n["q"] for n in tree["nodes"]] == q_before  # values stay as searched


def test_regrade_of_an_unknown_run_names_the_fix(tmp_path: Path, grader) -> None:
    with RunStore(tmp_path / "runs.db") as store, pytest.raises(StoreError, match="runs list"):
        regrade(store, "nope", GraderJudge(grader))
