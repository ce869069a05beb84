"""Issue 51's verifier report (``analyses: [verifier]``), its recipe, and rescoring a
recipe's sampling run by several rules (``rescore_select``)."""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.eval.bench_fakes import Clock, FakeSolver
from tests.search.helpers import TableScorer
from thinktree.eval.bench import RecipeError, load_recipe, parse_recipe, run_recipe, write_report
from thinktree.eval.bench.analyses.verifier import verifier
from thinktree.eval.bench.context import ArmReport, ReportContext
from thinktree.eval.bench.recipe import ReportSpec
from thinktree.eval.fanout.backend import SolverHandle
from thinktree.eval.harness import SolvedProblem, SolveHooks, fingerprint, sample_record
from thinktree.eval.metrics import summarize
from thinktree.eval.rescore import rescore
from thinktree.problems import Problem
from thinktree.reward.ppm_dir import PPMError
from thinktree.search import SearchConfig, Trajectory
from thinktree.steps import Step, StepKind
from thinktree.store import ResultRow, RunRecord, RunStore

ROOT = Path(__file__).resolve().parents[2]
ADAPTER = b"a LoRA adapter"
IDENTITY = "ppm:lm-" + hashlib.sha256(ADAPTER).hexdigest()[:12]
TRAINING = {
    "pairs_train": 120, "pairs_held_out": 30, "problems_train": 40, "problems_held_out": 10,
    "held_out_accuracy": {"lm_ppm": 0.7, "lm_ppm_clean": 0.72, "base": 0.55,
                          "mean_logprob": 0.6, "feature_ppm": 0.65},
}  # fmt: skip
PAIRS = {
    "train": 120, "problems": 40, "held_out": 30, "held_out_problems": 10,
    "held_out_accuracy": {"lm": 0.7, "features": 0.65, "mean_logprob": 0.6, "lm_untrained": 0.55},
}  # fmt: skip


def write_lm_ppm(directory: Path, training: dict[str, Any] | None = TRAINING) -> Path:
    """An LM PPM directory as ``thinktree ppm train --kind lm`` leaves it (the parts read)."""
    directory.mkdir(parents=True)
    (directory / "adapter.gguf").write_bytes(ADAPTER)
    record = {"kind": "lm", "adapter": "adapter.gguf", "training": training}
    (directory / "ppm.json").write_text(json.dumps(record))
    return directory


# -- the figures, on hand-made runs --------------------------------------------------------


def row(index: int, right: bool, samples: Sequence[bool] = (), tokens: int = 100) -> ResultRow:
    # Each sample an answer class of its own (the figures read only ``correct``).
    classes = {str(i): right for i, right in enumerate(samples)}
    record = {"correct": list(samples), "classes": list(range(len(samples))),
              "class_correct": classes} if samples else {}  # fmt: skip
    return ResultRow(f"p{index}", index, "q", "g", "a", right, tokens, 5, 0, 1.0, "answer",
                     samples=record)  # fmt: skip


def rows(
    right: Sequence[bool], samples: Sequence[Sequence[bool]] | None = None, tokens: int = 100
) -> list[ResultRow]:
    """Problems p0, p1... right as ``right`` says, with these samples' correctness."""
    per_problem = samples or [()] * len(right)
    return [row(i, r, s, tokens) for i, (r, s) in enumerate(zip(right, per_problem, strict=True))]


def arm(
    name: str,
    model: str,
    seed: int,
    rows: list[ResultRow],
    wall: float | None,
    scorer: str = "none",
) -> ArmReport:
    strategy = "mcts" if name.startswith("mcts") else "sc"
    search = {"strategy": strategy, "samples": 4, "k": 3, "seed": seed}
    run = RunRecord(f"{model}-{name}-{seed}", "fp", "eval", 0.0, 0.0, "complete", "gsm8k:test",
                    strategy, model, {"search": search, "scorer": scorer}, {},
                    {} if wall is None else {"wall_seconds": wall})  # fmt: skip
    return ArmReport(run, rows, summarize(rows, wall), name, [seed])


T, F = True, False


def with_probabilities(
    rows: list[ResultRow], probabilities: Sequence[Sequence[float]]
) -> list[ResultRow]:
    """The rows with one single-step trajectory a sample, of these token probabilities."""
    for row, per_sample in zip(rows, probabilities, strict=True):
        row.trajectories = [
            {"steps": [{"text": "s", "kind": "code", "tokens": 1, "mean_logprob": math.log(q)}]}
            for q in per_sample
        ]
    return rows


def hand_made_arms() -> list[ArmReport]:
    """Model m1: two seeds of three problems, every arm; m2: one seed of sc@4 alone,
    without a wall time."""
    seed0 = [[T, T, F, F], [F, T, F, F], [F, F, T, F]]  # sc@4's samples: right or not
    seed1 = [[F, F, F, T], [F, F, F, F], [T, T, T, F]]
    # Seed 0's samples are the most probable where wrong on p0, right on p1 and p2; seed
    # 1's recorded none (no trajectories), so the probability-weighted vote has no vote.
    probable = [[0.5, 0.5, 0.9, 0.5], [0.5, 0.9, 0.5, 0.5], [0.5, 0.5, 0.9, 0.5]]
    return [
        arm("sc@4", "m1", 0, with_probabilities(rows([T, F, F], seed0), probable), 30.0),
        arm("sc@4", "m1", 1, rows([F, F, T], seed1, tokens=200), 60.0),
        arm("sc@4 weighted", "m1", 0, rows([T, T, T]), 36.0, IDENTITY),
        arm("sc@4 weighted", "m1", 1, rows([T, F, F], tokens=200), 66.0, IDENTITY),
        arm("sc@4 best", "m1", 0, rows([T, F, T]), 40.0, IDENTITY),
        arm("sc@4 best", "m1", 1, rows([F, F, T], tokens=200), 70.0, IDENTITY),
        arm("mcts@4+ppm", "m1", 0, rows([T, T, F], tokens=400), 120.0, IDENTITY),
        arm("mcts@4+ppm", "m1", 1, rows([T, T, T], tokens=400), 120.0, IDENTITY),
        # Another PPM's run and an arm the report does not read: both left out.
        arm("mcts@4+ppm", "m1", 2, rows([T, T, T], tokens=900), 9.0, "ppm:lm-0123456789ab"),
        arm("greedy", "m1", 0, rows([T, T, T]), 3.0),
        arm("sc@4", "m2", 0, rows([T, F], [[T, F, F, F], [F, F, F, F]], tokens=50), None),
    ]


def context(tmp_path: Path, options: dict[str, Any], reports: list[ArmReport]) -> ReportContext:
    spec = ReportSpec(results="verifier.json", analyses=["verifier"], options=options)
    return ReportContext(RunStore(tmp_path / "runs.db"), spec, reports, [], tmp_path)


def test_the_verifier_figures_pool_seeds_and_leave_missing_arms_null(tmp_path: Path) -> None:
    ppm = write_lm_ppm(tmp_path / "ppm")
    scoring = {"seconds_per_node": 1.5, "share_of_search_wall_time": 0.25, "nodes": 80}
    (tmp_path / "scoring.json").write_text(json.dumps(scoring))
    ctx = context(tmp_path, {"ppm": f"ppm:{ppm}", "scoring": "scoring.json"}, hand_made_arms())
    doc = verifier(ctx)
    assert list(doc) == ["pairs", "scoring", "models"]
    assert doc["pairs"] == PAIRS
    assert doc["scoring"] == {"seconds_per_node": 1.5, "share_of_search_wall_time": 0.25}
    assert doc["models"] == {
        "m1": {
            "seeds": [0, 1],
            "n": 3,
            # Some sample right on 5 of the 6 (problem, seed) pairs; the vote on 2.
            "pass_at_4": 5 / 6,
            "sc4_majority": 2 / 6,
            "sc4_weighted": 4 / 6,
            "sc4_best": 3 / 6,
            "mcts4_ppm": 5 / 6,
            "sc4_wall_seconds_per_problem": 15.0,  # (30 + 60) s over 6 pairs
            "sc4_weighted_wall_seconds_per_problem": 17.0,  # (36 + 66) / 6
            "mcts4_ppm_wall_seconds_per_problem": 40.0,  # (120 + 120) / 6
            "sc4_tokens_per_problem": 150.0,  # 3 x 100 and 3 x 200
            "mcts4_ppm_tokens_per_problem": 400.0,
            "sc4_probability_weighted": 2 / 6,
            # Two-sided exact sign test: 3 won 1 lost, 2 x 5/16; 3 won 0 lost, 2 x 1/8.
            "weighted_vs_majority": {"common": 6, "both": 1, "won": 3, "lost": 1,
                                     "neither": 1, "sign_test_p": 0.625},
            "best_vs_majority": {"common": 6, "both": 2, "won": 1, "lost": 0, "neither": 3,
                                 "sign_test_p": 1.0},
            "mcts4_ppm_vs_sc4": {"common": 6, "both": 2, "won": 3, "lost": 0, "neither": 1,
                                 "sign_test_p": 0.25},
            "probability_weighted_vs_majority": {"common": 6, "both": 0, "won": 2, "lost": 2,
                                                 "neither": 2, "sign_test_p": 1.0},
            "problem_seed_pairs": {"sc@4": 6, "sc@4 weighted": 6, "sc@4 best": 6,
                                   "mcts@4+ppm": 6},
        },
        "m2": {
            "seeds": [0], "n": 2, "pass_at_4": 0.5, "sc4_majority": 0.5,
            "sc4_weighted": None, "sc4_best": None, "mcts4_ppm": None,
            "sc4_wall_seconds_per_problem": None,  # its run recorded no wall time
            "sc4_weighted_wall_seconds_per_problem": None,
            "mcts4_ppm_wall_seconds_per_problem": None,
            "sc4_tokens_per_problem": 50.0, "mcts4_ppm_tokens_per_problem": None,
            "sc4_probability_weighted": 0.0,
            "weighted_vs_majority": None, "best_vs_majority": None, "mcts4_ppm_vs_sc4": None,
            "probability_weighted_vs_majority": {"common": 2, "both": 0, "won": 0, "lost": 1,
                                                 "neither": 1, "sign_test_p": 1.0},
            "problem_seed_pairs": {"sc@4": 2},
        },
    }  # fmt: skip


def test_an_unmeasured_scoring_cost_is_null_and_no_runs_give_no_models(tmp_path: Path) -> None:
    ppm = write_lm_ppm(tmp_path / "ppm")
    doc = verifier(context(tmp_path, {"ppm": f"ppm:{ppm}", "scoring": None}, []))
    assert doc == {
        "pairs": PAIRS,
        "scoring": {"seconds_per_node": None, "share_of_search_wall_time": None},
        "models": {},
    }


def test_bad_options_are_one_line_naming_the_fix(tmp_path: Path) -> None:
    ppm = write_lm_ppm(tmp_path / "ppm")
    cases: list[tuple[dict[str, Any], type[Exception], str]] = [
        ({}, ValueError, "the verifier report needs options.ppm: the PPM its runs are scored "
                         "by, as they name it (ppm:DIR)"),
        ({"ppm": str(ppm)}, ValueError, "the verifier report needs options.ppm: the PPM its "
                                        "runs are scored by, as they name it (ppm:DIR)"),
        ({"ppm": f"ppm:{tmp_path / 'absent'}"}, PPMError,
         f"{tmp_path / 'absent'} is not a trained PPM (no ppm.json); train one with: "
         "thinktree ppm train --runs RUN --out DIR"),
        ({"ppm": f"ppm:{ppm}", "scoring": "scoring.json"}, ValueError,
         f"options.scoring: cannot read {tmp_path / 'scoring.json'} ("),
    ]  # fmt: skip
    for options, kind, message in cases:
        with pytest.raises(kind) as caught:
            verifier(context(tmp_path, options, []))
        assert str(caught.value).startswith(message), options
        assert str(caught.value).count("\n") == 0
    (tmp_path / "scoring.json").write_text(json.dumps({"seconds_per_node": 1.0}))
    with pytest.raises(ValueError) as caught:
        verifier(context(tmp_path, {"ppm": f"ppm:{ppm}", "scoring": "scoring.json"}, []))
    assert str(caught.value) == (
        f"options.scoring: {tmp_path / 'scoring.json'} has no share_of_search_wall_time; it "
        "needs seconds_per_node and share_of_search_wall_time"
    )
    # A feature PPM has no LM training record to report.
    features = tmp_path / "features"
    features.mkdir()
    (features / "ppm.json").write_text(json.dumps({"features": {}, "training": {}}))
    (features / "head.npz").write_bytes(b"head")
    with pytest.raises(ValueError) as caught:
        verifier(context(tmp_path, {"ppm": f"ppm:{features}", "scoring": None}, []))
    assert str(caught.value) == (
        f"options.ppm: {features} holds no LM PPM's training record; point it at a "
        "directory `thinktree ppm train --kind lm` wrote"
    )


# -- the recipe ------------------------------------------------------------------------------


def test_the_verifier_recipe_loads_with_both_rules_and_the_report_options() -> None:
    recipe = load_recipe(ROOT / "benchmarks" / "recipes" / "verifier.yaml")
    ppm = "ppm:runs/verifier/lm-ppm"
    planned = [
        (p.spec.model, p.spec.name, p.config.strategy, p.config.seed, p.spec.scorer,
         p.spec.rescore, p.spec.rescore_select, p.spec.source.limit)
        for p in recipe.planned()
    ]  # fmt: skip
    assert planned == [
        (model, name, strategy, seed, scorer, rescore, select, 100)
        for model in ("evolved", "base")
        for name, strategy, scorer, rescore, select in (
            ("sc@4", "sc", "none", ppm, ["best", "weighted"]),
            ("mcts@4+ppm", "mcts", ppm, None, ["best"]),
        )
        for seed in (0, 1, 2)
    ]
    assert {p.config.k for p in recipe.planned() if p.config.strategy == "mcts"} == {3}
    (report,) = recipe.reports
    assert (report.results, report.analyses) == ("benchmarks/results/verifier.json", ["verifier"])
    assert report.options == {"ppm": ppm, "scoring": None}
    assert (recipe.store, recipe.exports) == (
        "runs/verifier-eval/runs.db",
        "benchmarks/verifier-eval",
    )


BAD_SELECT = [
    ({"rescore_select": ["weighted"]},
     "r.yaml: runs[0] (sc@4): rescore_select needs rescore: ppm:DIR, the scorer that picks"),
    ({"rescore": "ppm:p", "rescore_select": []},
     "r.yaml: runs[0] (sc@4): rescore_select: name each rule once, at least one (best, weighted)"),
    ({"rescore": "ppm:p", "rescore_select": ["best", "best"]},
     "r.yaml: runs[0] (sc@4): rescore_select: name each rule once, at least one (best, weighted)"),
    ({"rescore": "ppm:p", "rescore_select": ["majority"]},
     "r.yaml: runs[0] (sc@4).rescore_select.0: Input should be 'best' or 'weighted'"),
]  # fmt: skip


@pytest.mark.parametrize(("fields", "message"), BAD_SELECT)
def test_a_bad_rescore_select_is_one_line(fields: dict[str, Any], message: str) -> None:
    run = {"name": "sc@4", "search": {"strategy": "sc", "samples": 4}, **fields}
    with pytest.raises(RecipeError) as caught:
        parse_recipe({"store": "s", "runs": [run]}, "r.yaml")
    assert str(caught.value) == message


# -- rescore_select through the runner, on a fake sampler -----------------------------------

# Four samples a problem. The majority votes 5 (wrong) on p0 and 6 (right) on p1. Best
# picks the best-scored 4 on both (right on p0); weighted sums (s + 1) / 2 per answer:
# p0: 4 0.95, 5 0.2, 6 0.75; p1: 6 1.5, 5 0.1, 4 0.95: right on both.
GOLDS = ["4", "6"]
SAMPLES = [["4", "5", "5", "6"], ["6", "6", "5", "4"]]
MAJORITY = ["5", "6"]
SCORES = {"4": 0.9, "5": -0.8, "6": 0.5}


class Judge:
    def same(self, a: str, b: str) -> bool:
        return a == b

    def correct(self, answer: str, gold: str) -> bool:
        return answer == gold


class FakeSampler(FakeSolver):
    """sc@4 from a table: problem i's samples are SAMPLES[i], 50 s and 40 tokens a problem."""

    def __init__(self, config: SearchConfig, clock: Clock) -> None:
        super().__init__(config)
        self.clock = clock

    def solve(self, todo: Sequence[tuple[int, Problem]], window: int, hooks: SolveHooks) -> None:
        for position, problem in todo:
            self.clock.now += 50
            answers = SAMPLES[position]
            trajectories = [
                Trajectory([Step(f"x = {a}", StepKind.FINAL, answer=a)], a).to_dict()
                for a in answers
            ]
            vote = MAJORITY[position]
            result = ResultRow(problem.id, position, problem.question, problem.answer, vote,
                               vote == problem.answer, 40, 5, 0, 50.0, "done",
                               samples=sample_record(list(answers), problem.answer, Judge()),
                               votes={vote: 2.0}, trajectories=trajectories)  # fmt: skip
            hooks.on_solved(SolvedProblem(result))


class Opener:
    """Opens fake samplers on one clock."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock

    @contextmanager
    def __call__(self, engine: Any, config: SearchConfig, scorer: str) -> Iterator[SolverHandle]:
        model = {"engine": "Fake", "name": str(engine.model), "sha256": None}
        yield SolverHandle(FakeSampler(config, self.clock), model, scorer, 1.0)


def test_rescore_select_makes_one_run_per_rule_and_the_report_reads_them(tmp_path: Path) -> None:
    data = tmp_path / "problems.jsonl"
    data.write_text("".join(json.dumps({"question": f"q{i}", "answer": g}) + "\n"
                            for i, g in enumerate(GOLDS)))  # fmt: skip
    spec = f"ppm:{write_lm_ppm(tmp_path / 'ppm')}"
    recipe = parse_recipe({
        "store": "runs.db",
        "runs": [{"name": "sc@4", "model": "m-small", "source": {"data": str(data)},
                  "search": {"strategy": "sc", "samples": 4}, "seeds": [0],
                  "rescore": spec, "rescore_select": ["best", "weighted"]}],
        "reports": [{"results": "verifier.json", "analyses": ["verifier"],
                     "options": {"ppm": spec}}],
    })  # fmt: skip
    scorer = TableScorer(lambda item: SCORES[item.steps[-1].answer])
    rules: list[str] = []

    def rescorer(store: RunStore, run_id: str, scored_by: str, select: str) -> str:
        assert scored_by == spec
        rules.append(select)
        return rescore(store, run_id, scorer, IDENTITY, Judge(), select=select).id

    clock = Clock()
    with RunStore(tmp_path / "runs.db") as store:
        run = {"root": tmp_path, "open_solver": Opener(clock), "rescorer": rescorer,
               "clock": clock, "say": lambda _: None}  # fmt: skip
        (status,) = run_recipe(recipe, store, **run)
        assert (status.state, status.stored, rules) == ("grown", 2, ["best", "weighted"])
        # The weighted run took best's scores: the scorer ran once a problem.
        assert scorer.calls == [4, 4]
        source = store.get_run(str(status.run_id))
        rescored = {r.config.get("select", "best"): r for r in store.list_runs()
                    if r.config.get("rescored_from") == source.id}  # fmt: skip
        best, weighted = rescored["best"], rescored["weighted"]
        # The best rule's run keeps the id it had before rules were named.
        search = {**source.config["search"], "strategy": "best_of_n"}
        before = {**source.config, "rescored_from": source.id, "scorer": IDENTITY, "search": search}
        assert best.fingerprint == fingerprint(before)
        assert best.id == f"{source.id}-bon-{fingerprint(before)[:6]}"
        assert weighted.config["select"] == "weighted" and "-weighted-" in weighted.id
        best_rows, weighted_rows = store.results(best.id), store.results(weighted.id)
        assert [r.answer for r in best_rows] == ["4", "4"]
        assert [r.answer for r in weighted_rows] == ["4", "6"]
        assert [r.extra.get("scores_reused") for r in weighted_rows] == [True, True]
        assert [r.extra["score_seconds"] for r in weighted_rows] == [
            r.extra["score_seconds"] for r in best_rows
        ]
        # Stored whole: a second sitting rescores nothing and loads no scorer.
        rules.clear()
        (again,) = run_recipe(recipe, store, **run)
        assert (again.state, rules) == ("complete", [])
        path, ctx = write_report(store, recipe, recipe.reports[0], tmp_path)
    assert sorted(rep.arm for rep in ctx.reports) == ["sc@4", "sc@4 best", "sc@4 weighted"]
    assert ctx.missing == []
    model = json.loads(path.read_text())["models"]["m-small"]
    assert (model["seeds"], model["n"], model["pass_at_4"]) == ([0], 2, 1.0)
    assert (model["sc4_majority"], model["sc4_best"], model["sc4_weighted"]) == (0.5, 0.5, 1.0)
    assert model["mcts4_ppm"] is None and model["mcts4_ppm_vs_sc4"] is None
    assert model["sc4_wall_seconds_per_problem"] == 50.0  # the fake clock's 50 s a problem
    assert model["sc4_tokens_per_problem"] == 40.0
    assert model["weighted_vs_majority"] == {
        "common": 2, "both": 1, "won": 1, "lost": 0, "neither": 0, "sign_test_p": 1.0
    }  # fmt: skip
    assert (model["best_vs_majority"]["won"], model["best_vs_majority"]["lost"]) == (1, 1)
