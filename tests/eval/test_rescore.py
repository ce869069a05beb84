"""Best-of-N over a stored sc run's samples."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import answer, cell, depth_of
from tests.search.helpers import TableScorer
from thinktree.engines.scripted import ScriptedEngine
from thinktree.eval import Evaluation
from thinktree.eval.harness import fingerprint
from thinktree.eval.rescore import rescore
from thinktree.problems import Problem
from thinktree.reward import NullScorer
from thinktree.search import SearchConfig, SearchContext
from thinktree.search.judge import GraderJudge
from thinktree.store import RunStore

PROBLEMS = [Problem("a", "What is 2 + 2?", "4"), Problem("b", "What is 3 + 3?", "6")]


def script(request, index):
    if depth_of(request.prompt) == 0:
        return cell(f"v = {[4, 5, 5, 6][index]}\nprint(v)")
    return answer(request.prompt.rsplit("Output: ", 1)[1].split("\n")[0])


def test_rescore_picks_the_scored_best_of_the_same_samples(tmp_path: Path, sandbox, grader) -> None:
    judge = GraderJudge(grader)
    with RunStore(tmp_path / "runs.db") as store:
        ctx = SearchContext(ScriptedEngine(script), sandbox,
                            SearchConfig(strategy="sc", samples=4), judge, NullScorer())  # fmt: skip
        sc = Evaluation(PROBLEMS, dataset="toy:test", dataset_hash="h", ctx=ctx, store=store,
                        model_id={"name": "scripted"}).run_all()  # fmt: skip
        # Majority: 5 on both problems (right for neither). The scorer prefers 4, then 6.
        assert [r.answer for r in sc.rows] == ["5", "5"]
        scorer = TableScorer(lambda item: {"4": 0.9, "6": 0.5}.get(item.steps[-1].answer, -0.5))
        run = rescore(store, sc.run.id, scorer, "table", judge)
        rows = store.results(run.id)
        assert [(r.answer, r.correct) for r in rows] == [("4", True), ("4", False)]
        assert rows[0].votes == {"4": 0.9, "5": -0.5, "6": 0.5}
        assert [r.generated_tokens for r in rows] == [r.generated_tokens for r in sc.rows]
        assert run.strategy == "best_of_n" and run.config["rescored_from"] == sc.run.id
        assert run.metrics["accuracy"] == 0.5
        assert scorer.calls == [4, 4]
        again = rescore(store, sc.run.id, scorer, "table", judge)  # resumes: nothing to do
        assert again.id == run.id and scorer.calls == [4, 4]


def test_weighted_rescore_sums_scores_per_answer_in_a_run_of_its_own(
    tmp_path: Path, sandbox, grader
) -> None:
    judge = GraderJudge(grader)
    with RunStore(tmp_path / "runs.db") as store:
        ctx = SearchContext(ScriptedEngine(script), sandbox,
                            SearchConfig(strategy="sc", samples=4), judge, NullScorer())  # fmt: skip
        sc = Evaluation(PROBLEMS, dataset="toy:test", dataset_hash="h", ctx=ctx, store=store,
                        model_id={"name": "scripted"}).run_all()  # fmt: skip
        # Samples 4, 5, 5, 6 on both problems. Best: 4 (0.9). Weighted: 4 weighs 0.95,
        # 5 twice 0.5 = 1.0, 6 0.75, so 5.
        scorer = TableScorer(lambda item: {"4": 0.9, "5": 0.0, "6": 0.5}[item.steps[-1].answer])
        best = rescore(store, sc.run.id, scorer, "table", judge)
        summed = rescore(store, sc.run.id, scorer, "table", judge, select="weighted")
        assert [r.answer for r in store.results(best.id)] == ["4", "4"]
        rows = store.results(summed.id)
        assert [(r.answer, r.correct) for r in rows] == [("5", False), ("5", False)]
        assert rows[0].votes == {"4": 0.95, "5": 1.0, "6": 0.75}
        assert (best.metrics["accuracy"], summed.metrics["accuracy"]) == (0.5, 0.0)
        # Only a rule other than best enters the identity: best keeps the id it had.
        assert "select" not in best.config and summed.config["select"] == "weighted"
        search = {**sc.run.config["search"], "strategy": "best_of_n"}
        before = {**sc.run.config, "rescored_from": sc.run.id, "scorer": "table", "search": search}
        assert best.fingerprint == fingerprint(before) != summed.fingerprint
        assert best.id.startswith(f"{sc.run.id}-bon-") and "-weighted-" in summed.id
