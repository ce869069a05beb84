"""Issue 52's report (``analyses: [evolve_default]``): evolve_default.json from hand-made
rounds and plain-chat runs grown by the recipe runner on a fake solver."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.eval.bench_fakes import FakeSolver
from thinktree.eval.bench import load_recipe, parse_recipe, run_recipe, write_report
from thinktree.eval.bench.analyses.evolve_default import RULE, TARGETS_NOTE, targets
from thinktree.eval.bench.runner import model_name
from thinktree.eval.fanout.backend import SolverHandle
from thinktree.eval.harness import SolvedProblem, SolveHooks
from thinktree.problems import Problem
from thinktree.search import SearchConfig
from thinktree.store import ResultRow, RunStore

ROOT = Path(__file__).resolve().parents[2]
CONFIG = {"rounds": 2, "policy": "default", "bootstrap": "base",
          "dev": {"benchmark": "gsm8k", "split": "test",
                  "also": [{"benchmark": "math500", "split": "test"}]}}  # fmt: skip

# Which of four test problems each round's greedy run answered right.
RIGHT = {"g0": "1000", "g1": "1110", "g2": "1101", "m0": "0100", "m1": "0110"}


def greedy(run_id: str, accuracy: float, in_format: float, tokens: float) -> dict[str, Any]:
    return {"run_id": run_id, "n": 4, "accuracy": accuracy, "in_format": in_format,
            "tokens_per_problem": tokens, "seconds_per_problem": 1.0, "finished": 1.0}  # fmt: skip


def pool_dev(gsm8k: tuple[float, float], math: tuple[float, float]) -> dict[str, Any]:
    """The four train-side dev stages: (greedy, sc) accuracy of each pool."""
    return {
        "pool_dev_greedy_gsm8k": {"n": 4, "accuracy": gsm8k[0]},
        "pool_dev_greedy_math": {"n": 4, "accuracy": math[0]},
        "pool_dev_sc_gsm8k": {"n": 4, "accuracy": gsm8k[1]},
        "pool_dev_sc_math": {"n": 4, "accuracy": math[1]},
    }


STAGES = {
    0: {"base_policy": {}, "dev_greedy": greedy("g0", 0.25, 0.75, 100.0),
        "dev_greedy_math500": greedy("m0", 0.25, 0.5, 300.0),
        **pool_dev((0.5, 0.75), (0.5, 0.5)), "pool_search_math": {"n": 3, "accuracy": 0.5}},
    1: {"sft": {"sft_tokens": 900, "sft_minutes": 1.5, "tokens_per_second": 10.0},
        "dev_greedy": greedy("g1", 0.75, 1.0, 80.0),
        "dev_greedy_math500": greedy("m1", 0.5, 0.75, 250.0),
        **pool_dev((0.75, 1.0), (0.75, 0.5))},
    # In progress: trained and measured on gsm8k only.
    2: {"sft": {"sft_tokens": 1200, "sft_minutes": 2.5},
        "dev_greedy": greedy("g2", 0.75, 0.75, 90.0)},
}  # fmt: skip
SUMMARY = [
    {"round": 0, "pool_dev_greedy": 0.5, "pool_dev_greedy_n": 8, "pool_dev_sc": 0.625,
     "pool_dev_sc_n": 8, "dev_greedy": 0.25},
    {"round": 1, "pool_dev_greedy": 0.75, "pool_dev_greedy_n": 8, "pool_dev_sc": 0.75,
     "pool_dev_sc_n": 8, "dev_greedy": 0.75},
]  # fmt: skip
"""The summary of the last sitting's end: round 2 began after it."""

# The plain-chat problems: each question says how the fake solver answers it.
PLAIN = {"gsm8k": ["right", "right", "wrong", "blank"],
         "math500": ["right", "wrong", "wrong", "wrong"]}  # fmt: skip


class Solver(FakeSolver):
    """Answers ``right`` with the gold, ``wrong`` with another answer, ``blank`` with none;
    10 tokens for the first problem, 20 for the second..."""

    def solve(self, todo: Sequence[tuple[int, Problem]], window: int, hooks: SolveHooks) -> None:
        for position, problem in todo:
            answer = {"right": problem.answer, "wrong": "-1"}.get(problem.question)
            row = ResultRow(problem.id, position, problem.question, problem.answer, answer,
                            answer == problem.answer, 10 * (position + 1), 5, 0, 1.0,
                            "answer" if answer else "invalid")  # fmt: skip
            hooks.on_solved(SolvedProblem(row))


@contextmanager
def open_solver(engine: Any, config: SearchConfig, scorer: str) -> Iterator[SolverHandle]:
    model = {"engine": "Fake", "name": model_name(str(engine.model)), "sha256": None}
    yield SolverHandle(Solver(config), model, scorer, 1.0)


def write(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))


def recipe(root: Path, seeds: list[int] | None = None) -> Any:
    """The issue's recipe in small: the two plain-chat runs on four problems each."""
    runs = []
    for name, questions in PLAIN.items():
        data = root / f"{name}.jsonl"
        data.write_text("".join(json.dumps({"question": q, "answer": str(i)}) + "\n"
                                for i, q in enumerate(questions)))  # fmt: skip
        runs.append({"name": f"plain chat {name}", "model": "base", "seeds": seeds,
                     "search": {"strategy": "chat_cot"},
                     "source": {"data": str(data)}})  # fmt: skip
    return parse_recipe({
        "store": "runs.db",
        "runs": runs,
        "reports": [{"results": "out/evolve_default.json", "analyses": ["evolve_default"]}],
    })  # fmt: skip


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """A repository with the evolve run's rounds (round 2 in progress) and its summary."""
    main = tmp_path / "runs" / "evolve_default"
    for index, stages in STAGES.items():
        write(main / f"round-{index}" / "manifest.json",
              {"round": index, "config": CONFIG, "stages": stages, "data": {}})  # fmt: skip
    write(main / "summary.json", SUMMARY)
    return tmp_path


def make_store(path: Path) -> RunStore:
    """The rounds' greedy runs of :data:`RIGHT`."""
    store = RunStore(path)
    for run_id, right in RIGHT.items():
        store.create_run(run_id, fingerprint=run_id, kind="eval", dataset="gsm8k:test",
                         strategy="greedy", model="m", config={}, manifest={})  # fmt: skip
        for i, bit in enumerate(right):
            store.add_result(run_id, ResultRow(f"p{i}", i, "q", "1", "1" if bit == "1" else "2",
                                               bit == "1", 10, 5, 0, 1.0, "answer"))  # fmt: skip
    return store


def report(root: Path, store: RunStore, plan: Any) -> dict[str, Any]:
    path, _ = write_report(store, plan, plan.reports[0], root)
    return json.loads(path.read_text())


def pools(gsm8k: tuple[Any, Any], math: tuple[Any, Any]) -> dict[str, Any]:
    return {"gsm8k": {"dev_greedy": gsm8k[0], "dev_sc": gsm8k[1]},
            "math": {"dev_greedy": math[0], "dev_sc": math[1]}}  # fmt: skip


def test_the_report_writes_the_issue_s_schema_from_rounds_and_plain_chat(root: Path) -> None:
    plan = recipe(root)
    with make_store(root / "runs.db") as store:
        statuses = run_recipe(plan, store, root=root, open_solver=open_solver, say=lambda _: None)
        doc = report(root, store, plan)
    gsm8k_chat, math500_chat = (s.run_id for s in statuses)
    assert doc == {
        "base": {"gsm8k_greedy": 0.25, "math500_greedy": 0.25, "gsm8k_in_format": 0.75,
                 "math500_in_format": 0.5, "gsm8k_n": 4, "math500_n": 4,
                 "gsm8k_tokens_per_problem": 100.0, "math500_tokens_per_problem": 300.0},
        "plain_cot": {
            "gsm8k_greedy": 0.5, "math500_greedy": 0.25,
            "gsm8k_in_format": 0.75, "gsm8k_n": 4, "gsm8k_tokens_per_problem": 25.0,
            "gsm8k_run": gsm8k_chat,
            "math500_in_format": 1.0, "math500_n": 4, "math500_tokens_per_problem": 25.0,
            "math500_run": math500_chat,
        },
        "rounds": [
            {"round": 0, "gsm8k_greedy": 0.25, "math500_greedy": 0.25, "gsm8k_in_format": 0.75,
             "math500_in_format": 0.5, "dev_train_side": 0.5625, "sft_tokens": None,
             "sft_minutes": None, "gsm8k_n": 4, "math500_n": 4, "gsm8k_tokens_per_problem": 100.0,
             "math500_tokens_per_problem": 300.0, "vs_base": None,
             "train_side": {"dev_greedy": 0.5, "dev_sc": 0.625, "n": 8,
                            "pools": pools((0.5, 0.75), (0.5, 0.5))}},
            # g1 1110 against g0 1000: 2 won, 0 lost; m1 0110 against m0 0100: 1 won.
            {"round": 1, "gsm8k_greedy": 0.75, "math500_greedy": 0.5, "gsm8k_in_format": 1.0,
             "math500_in_format": 0.75, "dev_train_side": 0.75, "sft_tokens": 900,
             "sft_minutes": 1.5, "gsm8k_n": 4, "math500_n": 4, "gsm8k_tokens_per_problem": 80.0,
             "math500_tokens_per_problem": 250.0,
             "vs_base": {"gsm8k": {"won": 2, "lost": 0, "p": 0.5},
                         "math500": {"won": 1, "lost": 0, "p": 1.0}},
             "train_side": {"dev_greedy": 0.75, "dev_sc": 0.75, "n": 8,
                            "pools": pools((0.75, 1.0), (0.75, 0.5))}},
            # In progress and not in the summary: nulls for what it lacks.
            {"round": 2, "gsm8k_greedy": 0.75, "math500_greedy": None, "gsm8k_in_format": 0.75,
             "math500_in_format": None, "dev_train_side": None, "sft_tokens": 1200,
             "sft_minutes": 2.5, "gsm8k_n": 4, "math500_n": None, "gsm8k_tokens_per_problem": 90.0,
             "math500_tokens_per_problem": None,
             "vs_base": {"gsm8k": {"won": 2, "lost": 0, "p": 0.5}, "math500": None},
             "train_side": {"dev_greedy": None, "dev_sc": None, "n": None,
                            "pools": pools((None, None), (None, None))}},
        ],
        # Round 1's 0.75 + 0.75 beats round 0's 0.5 + 0.625.
        "shipped_round": 1,
        "chosen_round": 1,
        "choosing_rule": RULE,
        "complete": False,
        "targets": {
            "gsm8k_greedy_gain": {"round": 1, "threshold": 0.08, "measured": 0.5, "met": True,
                                  "sign_test": {"won": 2, "lost": 0, "p": 0.5}},
            "math500_greedy_gain": {"round": 1, "threshold": 0.1, "measured": 0.25, "met": True,
                                    "sign_test": {"won": 1, "lost": 0, "p": 1.0}},
            "gsm8k_in_format": {"round": 1, "threshold": 0.95, "measured": 1.0, "met": True},
            "math500_in_format": {"round": 1, "threshold": 0.85, "measured": 0.75, "met": False},
            "note": TARGETS_NOTE,
        },
        "command": "thinktree bench benchmarks/recipes/evolve_default.yaml [--max-minutes M]; "
        "thinktree bench benchmarks/recipes/evolve_default.yaml --report-only",
    }  # fmt: skip


def test_before_the_plain_chat_runs_and_the_summary_their_figures_are_null(root: Path) -> None:
    (root / "runs" / "evolve_default" / "summary.json").unlink()
    with make_store(root / "runs.db") as store:
        doc = report(root, store, recipe(root))
    assert doc["plain_cot"] == {
        "gsm8k_greedy": None, "math500_greedy": None,
        "gsm8k_in_format": None, "gsm8k_n": None, "gsm8k_tokens_per_problem": None,
        "gsm8k_run": None, "math500_in_format": None, "math500_n": None,
        "math500_tokens_per_problem": None, "math500_run": None,
    }  # fmt: skip
    # Without the summary no round is chosen: nothing ships and no target is measured.
    assert [r["dev_train_side"] for r in doc["rounds"]] == [None, None, None]
    assert (doc["shipped_round"], doc["chosen_round"], doc["complete"]) == (None, None, False)
    assert [t["met"] for k, t in doc["targets"].items() if k != "note"] == [None] * 4
    # The ledgers' own figures stay.
    assert doc["rounds"][1]["train_side"] == {"dev_greedy": None, "dev_sc": None, "n": None,
                                              "pools": pools((0.75, 1.0), (0.75, 0.5))}  # fmt: skip


def test_a_whole_run_that_chose_round_0_ships_nothing_and_misses_the_gains(root: Path) -> None:
    main = root / "runs" / "evolve_default"
    last = {"round": 2, "pool_dev_greedy": 0.25, "pool_dev_sc": 0.5}
    write(main / "summary.json", [SUMMARY[0], {**SUMMARY[1], "pool_dev_sc": 0.25}, last])
    with make_store(root / "runs.db") as store:
        doc = report(root, store, recipe(root))
    assert [r["dev_train_side"] for r in doc["rounds"]] == [0.5625, 0.5, 0.375]
    assert (doc["shipped_round"], doc["chosen_round"], doc["complete"]) == (None, 0, True)
    gain = doc["targets"]["gsm8k_greedy_gain"]
    assert gain == {"round": 0, "threshold": 0.08, "measured": 0.0, "met": False,
                    "sign_test": None}  # fmt: skip
    assert doc["targets"]["gsm8k_in_format"]["met"] is False  # the base's 0.75


def test_a_gain_of_exactly_the_threshold_meets_it_in_spite_of_float_error() -> None:
    rounds = [
        {"round": 0, "gsm8k_greedy": 0.29, "math500_greedy": 0.30},
        {"round": 1, "gsm8k_greedy": 0.37, "math500_greedy": 0.39, "gsm8k_in_format": 0.95,
         "math500_in_format": 0.84, "vs_base": {"gsm8k": {"won": 9, "lost": 1, "p": 0.021484375}}},
    ]  # fmt: skip
    out = targets(rounds, 1)
    assert out["gsm8k_greedy_gain"] == {
        "round": 1, "threshold": 0.08, "measured": 0.08, "met": True,
        "sign_test": {"won": 9, "lost": 1, "p": 0.021484375},
    }  # fmt: skip
    assert out["math500_greedy_gain"] == {"round": 1, "threshold": 0.1, "measured": 0.09,
                                          "met": False, "sign_test": None}  # fmt: skip
    assert out["gsm8k_in_format"]["met"] is True
    assert out["math500_in_format"]["met"] is False


def test_before_round_0_every_round_figure_is_null(root: Path) -> None:
    main = root / "runs" / "evolve_default"
    for path in [*main.glob("round-*/manifest.json"), main / "summary.json"]:
        path.unlink()
    plan = recipe(root)
    with make_store(root / "runs.db") as store:
        run_recipe(plan, store, root=root, open_solver=open_solver, say=lambda _: None)
        doc = report(root, store, plan)
    assert doc["base"] == {
        "gsm8k_greedy": None, "math500_greedy": None, "gsm8k_in_format": None,
        "math500_in_format": None, "gsm8k_n": None, "math500_n": None,
        "gsm8k_tokens_per_problem": None, "math500_tokens_per_problem": None,
    }  # fmt: skip
    assert (doc["plain_cot"]["gsm8k_greedy"], doc["plain_cot"]["math500_greedy"]) == (0.5, 0.25)
    assert (doc["rounds"], doc["shipped_round"], doc["complete"]) == ([], None, False)
    assert [t["measured"] for k, t in doc["targets"].items() if k != "note"] == [None] * 4


def test_two_runs_of_one_plain_chat_arm_are_said_in_one_line(root: Path) -> None:
    plan = recipe(root, seeds=[0, 1])
    with make_store(root / "runs.db") as store:
        run_recipe(plan, store, root=root, open_solver=open_solver, say=lambda _: None)
        with pytest.raises(ValueError) as caught:
            report(root, store, plan)
    assert str(caught.value) == "arm 'plain chat gsm8k' has 2 runs; plain_cot reads one run a slice"


def test_the_recipe_runs_plain_chat_on_the_test_slices_and_writes_the_report() -> None:
    plan = load_recipe(ROOT / "benchmarks/recipes/evolve_default.yaml")
    planned = [(p.spec.name, p.spec.model, p.config.strategy, p.describe())
               for p in plan.planned()]  # fmt: skip
    assert planned == [
        ("plain chat gsm8k", "base", "chat_cot",
         "base plain chat gsm8k seed 0 on gsm8k:test[0:100]"),
        ("plain chat math500", "base", "chat_cot",
         "base plain chat math500 seed 0 on math500:test[0:100]"),
    ]  # fmt: skip
    # No temperature given: the strategy's own, greedy.
    assert [p.config.temperature for p in plan.planned()] == [None, None]
    (spec,) = plan.reports
    assert (spec.results, spec.analyses) == (
        "benchmarks/results/evolve_default.json", ["evolve_default"],
    )  # fmt: skip
    assert spec.options["plain_cot"] == {"gsm8k": "plain chat gsm8k",
                                         "math500": "plain chat math500"}  # fmt: skip
