"""A chat_cot run through the eval machinery: stored, graded, resumed, reported, and
never read as code trajectories by training."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from tests.search.helpers import NoSandbox, TableScorer
from thinktree.cli import app
from thinktree.engines.base import CompletionRequest
from thinktree.engines.scripted import ScriptedEngine
from thinktree.eval import Evaluation
from thinktree.eval.bench import parse_recipe
from thinktree.eval.rescore import rescore
from thinktree.problems import Problem
from thinktree.search import SearchConfig, SearchContext
from thinktree.search.judge import GraderJudge
from thinktree.server import ServerConfig, create_app
from thinktree.store import RunStore
from thinktree.train.ppm.data import collect_pairs
from thinktree.train.sft.data import search_trajectories
from thinktree.viewer import problem_url

runner = CliRunner()
PROBLEMS = [
    Problem("right", "What is 40 + 2?", "42"),
    Problem("half", "What is half of one?", "1/2"),
    Problem("unboxed", "What is 3 + 3?", "6"),
    Problem("wrong", "What is 4 + 4?", "8"),
]
COMPLETIONS = {
    "What is 40 + 2?": "40 + 2 = 42, so \\boxed{42}.",
    "What is half of one?": "One halved is $\\boxed{\\frac{1}{2}}$.",
    "What is 3 + 3?": "3 + 3 = 6.",
    "What is 4 + 4?": "Try \\boxed{8}. No, rather \\boxed{7}.",
}
RUN_ID = "toy-test-chat_cot-"


def script(request: CompletionRequest, index: int) -> str:
    question = request.prompt.split("<user>\n", 1)[1].split("\n</user>", 1)[0]
    return COMPLETIONS[question]


def evaluation(store: RunStore, grader: object, engine: ScriptedEngine, **config: object):
    ctx = SearchContext(
        engine, NoSandbox(), SearchConfig(strategy="chat_cot", **config), GraderJudge(grader)
    )  # type: ignore[arg-type]
    return Evaluation(PROBLEMS, dataset="toy:test", dataset_hash="h", ctx=ctx, store=store,
                      model_id={"name": "scripted"})  # fmt: skip


@pytest.fixture(scope="module")
def store_path(tmp_path_factory: pytest.TempPathFactory, grader) -> Path:
    path = tmp_path_factory.mktemp("chat_cot") / "runs.db"
    with RunStore(path) as store:
        evaluation(store, grader, ScriptedEngine(script)).run_all(window=2)
    return path


def the_run(store: RunStore):
    (run,) = store.list_runs()
    return run


def test_each_answer_is_graded_and_the_run_summarised(store_path: Path) -> None:
    with RunStore(store_path) as store:
        run = the_run(store)
        rows = {r.problem_id: r for r in store.results(run.id)}
        assert (run.strategy, run.status, run.dataset) == ("chat_cot", "complete", "toy:test")
        assert run.id.startswith(RUN_ID) and len(run.id) == len(RUN_ID) + 6
        assert {p: (r.answer, r.correct) for p, r in rows.items()} == {
            "right": ("42", True),
            "half": ("\\frac{1}{2}", True),
            "unboxed": (None, False),
            "wrong": ("7", False),
        }
        metrics = run.metrics
        assert (metrics["n"], metrics["graded"], metrics["correct"], metrics["answered"]) == (
            4, 4, 2, 3)  # fmt: skip
        assert metrics["tokens"] == 7 + 4 + 5 + 5  # whitespace-separated words
        assert "pass@1" not in metrics  # one sample a problem: no pass@k or maj@k
        right = rows["right"]
        assert right.samples == {"answers": ["42"], "classes": [0],
                                 "class_correct": {"0": True}, "correct": [True]}  # fmt: skip
        assert (right.votes, right.stop_reason, store.tree(run.id, "right")) == ({}, "done", None)
        ((step,),) = [t["steps"] for t in right.trajectories]
        assert right.trajectories[0]["answer"] == "42"
        assert (step["text"], step["kind"], step["code"], step["answer"], step["output"]) == (
            "40 + 2 = 42, so \\boxed{42}.", "final", None, "42", "")  # fmt: skip
        assert rows["unboxed"].trajectories[0]["steps"][0]["kind"] == "invalid"
        assert rows["unboxed"].samples["answers"] == [None]


def test_the_same_search_again_finds_its_run_and_solves_nothing(
    store_path: Path, tmp_path: Path, grader
) -> None:
    with RunStore(store_path) as store:
        run = the_run(store)
        silent = ScriptedEngine.from_texts([])  # any request would fail the test
        for config in ({}, {"max_step_tokens": 512, "samples": 8}):
            again = evaluation(store, grader, silent, **config)
            plan = again.plan()
            assert (plan.run.id, plan.run.fingerprint, plan.resumed) == (
                run.id, run.fingerprint, True)  # fmt: skip
            assert (plan.todo, plan.done) == ([], 4)
            assert again.run_all().new_results == 0
        assert silent.calls == []
        assert run.config["search"] == {
            "strategy": "chat_cot", "temperature": None, "max_tokens": None, "max_seconds": None,
            "seed": 0, "logprobs": True, "completion_tokens": 2048,
        }  # fmt: skip
    with RunStore(tmp_path / "other.db") as other_store:
        other = evaluation(other_store, grader, silent, completion_tokens=1024)
        assert other.plan().run.fingerprint != run.fingerprint


def test_training_finds_no_trajectory_or_pair_in_it(store_path: Path) -> None:
    with RunStore(store_path) as store:
        run_id = the_run(store).id
        assert search_trajectories(store, [run_id]) == []
        assert collect_pairs(store, [run_id]) == []


def test_rescoring_refuses_it(store_path: Path, grader) -> None:
    with RunStore(store_path) as store, pytest.raises(ValueError) as refused:
        run_id = the_run(store).id
        rescore(store, run_id, TableScorer(lambda item: 0.0), "table", GraderJudge(grader))
    assert str(refused.value) == (
        f"run {run_id} is chat_cot; rescoring needs a sampling run (sc, best_of_n)"
    )


def test_the_viewer_shows_the_completion_and_its_answer(store_path: Path) -> None:
    client = TestClient(create_app(None, ServerConfig(store_path=store_path)))
    with RunStore(store_path) as store:
        run_id = the_run(store).id
    page = client.get(problem_url(run_id, "half"))
    assert page.status_code == 200
    assert "One halved is $\\boxed{\\frac{1}{2}}$." in page.text
    assert "Answer: <strong>\\frac{1}{2}</strong>" in page.text
    assert client.get(problem_url(run_id, "unboxed")).status_code == 200


def test_the_commands_report_regrade_and_export_it(store_path: Path, tmp_path: Path) -> None:
    store = str(store_path)
    (listed,) = [json.loads(line) for line in
                 runner.invoke(app, ["runs", "list", "--store", store, "--json"]).stdout.splitlines()]  # fmt: skip
    assert (listed["strategy"], listed["results"], listed["accuracy"]) == ("chat_cot", 4, 0.5)
    report = runner.invoke(app, ["report", listed["run_id"], "--store", store])
    assert report.exit_code == 0, report.output
    assert "chat_cot" in report.stdout
    regraded = runner.invoke(app, ["runs", "regrade", listed["run_id"], "--store", store, "--json"])
    assert json.loads(regraded.stdout) == {"run_id": listed["run_id"], "checked": 4,
                                           "changed": [], "nodes_changed": 0,
                                           "accuracy": 0.5}  # fmt: skip
    target = tmp_path / "export.jsonl"
    exported = runner.invoke(app, ["runs", "export", listed["run_id"], "--store", store,
                                   "--out", str(target)])  # fmt: skip
    assert exported.exit_code == 0, exported.output
    assert len(target.read_text().splitlines()) == 1 + 4  # the header, then each problem


def test_eval_offers_it_and_its_option(monkeypatch: pytest.MonkeyPatch) -> None:
    help_text = runner.invoke(app, ["eval", "--help"], env={"COLUMNS": "200"}).stdout
    assert "chat_cot" in help_text
    assert "--completion-tokens" in help_text
    seen: list[SearchConfig] = []

    def capture(config: SearchConfig) -> int:
        seen.append(config)
        raise ValueError("captured")

    monkeypatch.setattr("thinktree.search.registry.default_slots", capture)
    out = runner.invoke(app, ["eval", "--benchmark", "math500", "--limit", "100", "--strategy",
                              "chat_cot", "--completion-tokens", "1024"])  # fmt: skip
    assert out.exit_code == 2 and "error: captured" in out.stderr, out.output
    assert seen[0] == SearchConfig(strategy="chat_cot", k=3, completion_tokens=1024)  # resolved


def test_a_recipe_runs_it_like_any_strategy() -> None:
    recipe = parse_recipe({
        "store": "s",
        "runs": [{"name": "chat", "model": "default",
                  "search": {"strategy": "chat_cot", "completion_tokens": 1024}}],
    })  # fmt: skip
    (planned,) = recipe.planned()
    assert (planned.spec.name, planned.config.strategy) == ("chat", "chat_cot")
    assert planned.config.model_dump()["completion_tokens"] == 1024
