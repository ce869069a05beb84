"""Every strategy's stored run on the scripted engine, pinned whole.

A redesign of the search or its configuration must not change what a run
stores: its id and fingerprint (so stored runs are still found and resumed), its
config, and every problem's answer, tokens, samples, votes, trajectories and
tree. The scripted "model" below writes right, wrong and failing cells and
answers, chosen by a hash of the prompt, the request's seed and the choice, so
every rule (votes, ties, backups, settling, scorers) has something to decide.

``THINKTREE_RECORD=1 pytest tests/eval/test_recorded_runs.py`` rewrites the
record; do that only for a change that is meant to change stored runs, and say so.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import answer, assistant_part, cell, depth_of
from tests.search.helpers import TableScorer
from thinktree.engines.base import CompletionRequest
from thinktree.engines.scripted import ScriptedEngine
from thinktree.eval import Evaluation
from thinktree.problems import Problem
from thinktree.reward import NullScorer
from thinktree.reward.base import ScoreItem
from thinktree.reward.outcome import OutcomeScorer
from thinktree.search import SearchConfig, SearchContext
from thinktree.search.judge import GraderJudge
from thinktree.store import RunStore

RECORD = Path(__file__).parent / "data" / "recorded_runs.json.gz"
PROBLEMS = [Problem(f"q{i}", f"What is {a} + {b}?", str(a + b)) for i, (a, b) in
            enumerate([(2, 3), (7, 5), (11, 4), (6, 6), (9, 13)])]  # fmt: skip

# Each case: the search config, and the scorer ("none", "outcome" or "table").
CASES: dict[str, tuple[dict[str, Any], str]] = {
    "greedy": ({"strategy": "greedy"}, "none"),
    "sc4": ({"strategy": "sc", "samples": 4}, "none"),
    "sc4-decided": ({"strategy": "sc", "samples": 4, "settle": "decided"}, "none"),
    "sc4-confident": ({"strategy": "sc", "samples": 4, "settle": "confident"}, "none"),
    "sc4-agree": ({"strategy": "sc", "samples": 4, "settle": "agree", "settle_m": 2}, "none"),
    "sc4-floor": (
        {"strategy": "sc", "samples": 4, "settle": "confident", "step_floor": 0.69},
        "none",
    ),
    "bon4": ({"strategy": "best_of_n", "samples": 4}, "table"),
    "beam": ({"strategy": "beam", "samples": 2, "k": 2}, "table"),
    "mcts4": ({"strategy": "mcts", "samples": 4}, "none"),
    "mcts4-confident": ({"strategy": "mcts", "samples": 4, "settle": "confident"}, "none"),
    "mcts4-outcome": ({"strategy": "mcts", "samples": 4, "k": 3}, "outcome"),
    "mcts4-ppm": ({"strategy": "mcts", "samples": 4, "k": 2}, "table"),
    "mcts4-pinned-old": (
        {
            "strategy": "mcts",
            "samples": 4,
            "k": 3,
            "temperature": 0.7,
            "c_uct": 2.0,
            "unvisited_first": False,
            "expand": "all",
            "agreement": "earlier",
            "tie_break": "first",
            "invalid_backup": "local",
        },
        "none",
    ),
    "mcts4-resample": ({"strategy": "mcts", "samples": 4, "resample": 1}, "none"),
}


def _draw(request: CompletionRequest, index: int, salt: str) -> int:
    key = f"{salt}|{request.seed}|{index}|{assistant_part(request.prompt)}"
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:4], "big")


def script(request: CompletionRequest, index: int) -> str:
    a, b = (int(x) for x in request.prompt.rsplit("What is ", 1)[1].split("?")[0].split(" + "))
    depth = depth_of(request.prompt)
    roll = _draw(request, index, "text") % 10
    if depth == 0:
        if roll < 5:
            return cell(f"# add the two numbers\ns = {a} + {b}\nprint(s)")
        if roll < 8:
            return cell(f"# a wrong idea\ns = {a} * {b}\nprint(s)")
        return cell("s = undefined_name + 1\nprint(s)")
    if "Error" in assistant_part(request.prompt).rsplit("Output:", 1)[1] and roll < 6:
        return cell(f"# repair\ns = {a} + {b}\nprint(s)")
    if roll < 7:
        return answer(assistant_part(request.prompt).rsplit("Output:", 1)[1].split()[0])
    return answer(str(a + b + 1))


def logprob(request: CompletionRequest, index: int) -> float:
    return -(_draw(request, index, "logprob") % 100) / 200


def table(item: ScoreItem) -> float:
    text = item.steps[-1].text if item.steps else ""
    return (int(hashlib.sha256(text.encode()).hexdigest()[:6], 16) % 200 - 100) / 100


def _scorer(kind: str) -> Any:
    return (
        {"none": NullScorer, "outcome": OutcomeScorer}[kind]()
        if kind != "table"
        else (TableScorer(table))
    )


def record_case(name: str, store: RunStore, sandbox: Any, grader: Any) -> dict[str, Any]:
    config, scorer = CASES[name]
    ctx = SearchContext(
        ScriptedEngine(script, logprob=logprob), sandbox, SearchConfig(**config),
        GraderJudge(grader), _scorer(scorer),
    )  # fmt: skip
    outcome = Evaluation(
        PROBLEMS, dataset="toy:test", dataset_hash="h", ctx=ctx, store=store,
        model_id={"name": "scripted"}, scorer_id=scorer,
    ).run_all(window=2)  # fmt: skip
    run = outcome.run
    rows = []
    for row in store.results(run.id):
        rows.append({
            "problem_id": row.problem_id, "answer": row.answer, "correct": row.correct,
            "generated_tokens": row.generated_tokens, "prompt_tokens": row.prompt_tokens,
            "cached_tokens": row.cached_tokens, "stop_reason": row.stop_reason,
            "samples": row.samples, "votes": row.votes, "trajectories": row.trajectories,
            "extra": row.extra,
            "tree": store.tree(run.id, row.problem_id),
        })  # fmt: skip
    return {"run_id": run.id, "fingerprint": run.fingerprint, "strategy": run.strategy,
            "config": run.config, "rows": rows}  # fmt: skip


def _normal(value: Any) -> Any:
    """JSON round trip (tuples become lists, as in the stored record), without the
    wall-clock fields (``seconds``, ``exec_seconds``, ...), which differ run to run."""
    if isinstance(value, dict):
        return {k: _normal(v) for k, v in value.items() if "seconds" not in k}
    if isinstance(value, list | tuple):
        return [_normal(v) for v in value]
    return json.loads(json.dumps(value))


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory, sandbox, grader) -> dict[str, Any]:
    with RunStore(tmp_path_factory.mktemp("recorded") / "runs.db") as store:
        runs = {name: _normal(record_case(name, store, sandbox, grader)) for name in CASES}
    if os.environ.get("THINKTREE_RECORD"):
        RECORD.parent.mkdir(exist_ok=True)
        with gzip.open(RECORD, "wt") as handle:
            json.dump(runs, handle, indent=1, sort_keys=True)
    return runs


@pytest.mark.parametrize("name", list(CASES))
def test_a_strategy_stores_the_run_it_stored_before(name: str, recorded: dict[str, Any]) -> None:
    with gzip.open(RECORD, "rt") as handle:
        expected = json.load(handle)[name]
    got = recorded[name]
    assert (got["run_id"], got["fingerprint"]) == (expected["run_id"], expected["fingerprint"])
    assert got["config"] == expected["config"]
    assert [r["problem_id"] for r in got["rows"]] == [r["problem_id"] for r in expected["rows"]]
    for mine, theirs in zip(got["rows"], expected["rows"], strict=True):
        assert mine == theirs, f"{name}: {mine['problem_id']} differs"


def test_the_record_exercises_every_outcome(recorded: dict[str, Any]) -> None:
    """The script is rich enough to pin the rules: right, wrong and unanswered
    problems all occur, and sc's votes split at least once."""
    rows = [r for run in recorded.values() for r in run["rows"]]
    assert {r["correct"] for r in rows} == {True, False}
    assert any(len(r["votes"]) > 1 for r in recorded["sc4"]["rows"])
    assert any(r["tree"] for r in recorded["mcts4-outcome"]["rows"])
