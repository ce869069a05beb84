"""Benchmark recipes: validation, the runner resuming and exporting, the summary's figures."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests.eval.bench_fakes import Clock, FakeSolver
from thinktree.eval.bench import RecipeError, load_recipe, parse_recipe, run_recipe, write_report
from thinktree.eval.bench.analyses.summary import arm_pairs, pooled_arms
from thinktree.eval.bench.context import ArmReport, run_entry
from thinktree.eval.bench.runner import model_name
from thinktree.eval.fanout.backend import SolverHandle
from thinktree.eval.harness import SolvedProblem, SolveHooks
from thinktree.problems import Problem
from thinktree.search import SearchConfig
from thinktree.store import ResultRow, RunRecord, RunStore

ROOT = Path(__file__).resolve().parents[2]

GOOD = {
    "store": "runs/x/runs.db",
    "exports": "exports",
    "defaults": {"model": "fast", "source": {"benchmark": "gsm8k", "split": "test", "limit": 5}},
    "x-sc4": {"strategy": "sc", "samples": 4},
    "runs": [
        {"name": "sc@4", "search": {"strategy": "sc", "samples": 4}, "seeds": [0, 1, 2]},
        {"name": "greedy", "model": "default", "search": {"strategy": "greedy"}},
        {"source": {"limit": 3}, "search": {"strategy": "mcts", "samples": 8, "seed": 4}},
    ],
    "reports": [{"results": "out.json", "analyses": ["summary"], "pairs": [["sc@4", "greedy"]]}],
}


def test_a_good_recipe_spreads_seeds_and_merges_defaults() -> None:
    recipe = parse_recipe(GOOD)
    planned = recipe.planned()
    assert [(p.spec.name, p.spec.model, p.config.strategy, p.config.seed) for p in planned] == [
        ("sc@4", "fast", "sc", 0),
        ("sc@4", "fast", "sc", 1),
        ("sc@4", "fast", "sc", 2),
        ("greedy", "default", "greedy", 0),
        (None, "fast", "mcts", 4),
    ]
    # A run's source merges key by key over the defaults' source.
    assert planned[4].spec.source.benchmark == "gsm8k"
    assert planned[4].spec.source.limit == 3
    assert recipe.reports[0].pairs == [("sc@4", "greedy")]


# One line each: the recipe, where, what is wrong.
BAD = [
    ({"runs": []}, "r.yaml: nothing to do: give runs, evolve, a probe or reports"),
    (
        {"store": "s", "runs": [{"name": "sc", "search": {"strategy": "sc", "samples": 0}}]},
        "r.yaml: runs[0] (sc): search.samples: Input should be greater than or equal to 1",
    ),
    (
        {"store": "s", "runs": [{"search": {"strategy": "sc", "sample": 4}}]},
        "r.yaml: runs[0]: search.sample: Extra inputs are not permitted",
    ),
    (
        {"store": "s", "runs": [{"search": {"strategy": "nope"}}]},
        "r.yaml: runs[0]: search: unknown strategy 'nope'; choose one of beam, best_of_n, "
        "chat_cot, greedy, mcts, sc",
    ),
    (
        {"store": "s", "runs": [{"modle": "fast"}]},
        "r.yaml: runs[0].modle: Extra inputs are not permitted",
    ),
    (
        {"store": "s", "runs": [{"source": {"benchmark": "gsm8k", "limit": 0}}]},
        "r.yaml: runs[0].source.limit: Input should be greater than or equal to 1",
    ),
    (
        {"store": "s", "runs": [{"seeds": [1], "search": {"seed": 2}}]},
        "r.yaml: runs[0]: give either seeds or search.seed, not both",
    ),
    (
        {"store": "s", "runs": [{"engine": {"model": "fast"}}]},
        "r.yaml: runs[0]: engine.model: name the model in the run's `model` field",
    ),
    (
        {"store": "s", "reports": [{"results": "a.json", "analyses": ["nope"]}]},
        "r.yaml: reports[0]: unknown analysis 'nope'; known: by_arm, evolve, evolve_default, "
        "issue5, ppm_guided, search18, summary, verifier, verifier_bar",
    ),
    ([1, 2], "r.yaml: a recipe is a mapping of fields (store, runs, probe, reports)"),
    ({"store": "s", "runs": {"a": 1}}, "r.yaml: runs must be a list of mappings"),
]


@pytest.mark.parametrize(("raw", "message"), BAD)
def test_a_bad_recipe_is_one_line_naming_the_field(raw: object, message: str) -> None:
    with pytest.raises(RecipeError) as caught:
        parse_recipe(raw, "r.yaml")
    assert str(caught.value) == message


def test_a_recipe_file_that_is_not_yaml_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    path.write_text("store: [a\nruns: x\n")
    with pytest.raises(RecipeError, match=r"r.yaml: not valid YAML at line \d+$"):
        load_recipe(path)
    with pytest.raises(RecipeError, match="cannot read recipe"):
        load_recipe(tmp_path / "missing.yaml")


def test_every_recipe_in_the_repository_is_valid() -> None:
    from thinktree.cli.probes import bench_probes

    recipes = sorted((ROOT / "benchmarks" / "recipes").glob("*.yaml"))
    assert recipes
    probes = bench_probes()
    for path in recipes:
        load_recipe(path, probes)


# -- the runner, on a fake solver -------------------------------------------------------


class TableSolver(FakeSolver):
    """Answers problem i with i (right where the gold is i), 50 s and 10 tokens a problem."""

    def __init__(self, config: SearchConfig, clock: Clock) -> None:
        super().__init__(config)
        self.clock = clock
        self.solved: list[str] = []

    def solve(self, todo: Sequence[tuple[int, Problem]], window: int, hooks: SolveHooks) -> None:
        for position, problem in todo:
            if hooks.stopped():
                return
            self.clock.now += 50
            self.solved.append(problem.id)
            row = row_of(problem.id, position, right=problem.answer == str(position))
            hooks.on_solved(SolvedProblem(row))


def row_of(problem_id: str, position: int, right: bool, tokens: int = 10) -> ResultRow:
    return ResultRow(problem_id, position, "q", "g", "a", right, tokens, 5, 0, 1.0, "answer")


class Opener:
    """Opens fake solvers and records the seeds it opened them for."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.opened: list[int] = []

    @contextmanager
    def __call__(self, engine: Any, config: SearchConfig, scorer: str) -> Iterator[SolverHandle]:
        self.opened.append(config.seed)
        model = {"engine": "Fake", "name": model_name(str(engine.model)), "sha256": None}
        yield SolverHandle(TableSolver(config, self.clock), model, scorer, 1.0)


def _recipe(tmp_path: Path, limit: int) -> Any:
    data = tmp_path / "problems.jsonl"
    golds = ["0", "1", "7", "3", "9"]  # problems 0, 1 and 3 are answered right
    data.write_text("".join(json.dumps({"question": f"q{i}", "answer": g}) + "\n"
                            for i, g in enumerate(golds)))  # fmt: skip
    return parse_recipe({
        "store": "store.db",
        "exports": "exports",
        "runs": [{"name": "sc@4", "model": "fast", "source": {"data": str(data), "limit": limit},
                  "search": {"strategy": "sc", "samples": 4}, "seeds": [0, 1]}],
        "reports": [{"results": "out.json"}],
    })  # fmt: skip


def test_the_runner_stops_at_max_minutes_exports_and_resumes_elsewhere(tmp_path: Path) -> None:
    recipe = _recipe(tmp_path, limit=3)
    clock = Clock()
    opener = Opener(clock)
    # 50 s a problem and 1.5 minutes: seed 0 stores two problems and stops.
    with RunStore(tmp_path / "store.db") as store:
        first = run_recipe(recipe, store, root=tmp_path, open_solver=opener, max_minutes=1.5,
                           clock=clock, say=lambda _: None)  # fmt: skip
    assert [(s.state, s.stored, s.new_results) for s in first] == [("stopped", 2, 2)]
    exports = sorted(p.name for p in (tmp_path / "exports").iterdir())
    assert exports == [f"{first[0].run_id.replace('/', '_')}.jsonl.gz"]

    # Another machine: a fresh store gets the export, so seed 0 solves one problem more.
    (tmp_path / "store.db").rename(tmp_path / "old.db")
    with RunStore(tmp_path / "store.db") as store:
        second = run_recipe(recipe, store, root=tmp_path, open_solver=opener, clock=clock,
                            say=lambda _: None)  # fmt: skip
        assert [
            (s.state, s.run_id == first[0].run_id, s.stored, s.new_results) for s in second
        ] == [
            ("grown", True, 3, 1),
            ("grown", False, 3, 3),
        ]
        # Both runs are stored whole now: a third call opens no solver (loads no model).
        opener.opened.clear()
        third = run_recipe(recipe, store, root=tmp_path, open_solver=opener, clock=clock,
                           say=lambda _: None)  # fmt: skip
        assert [s.state for s in third] == ["complete", "complete"]
        assert opener.opened == []
        # A larger slice grows the same runs by fingerprint.
        big = _recipe(tmp_path, limit=5)
        bigger = run_recipe(big, store, root=tmp_path,
                            open_solver=opener, clock=clock, say=lambda _: None)  # fmt: skip
        assert [(s.run_id, s.stored, s.new_results) for s in bigger] == [
            (second[0].run_id, 5, 2),
            (second[1].run_id, 5, 2),
        ]
        assert len(store.list_runs()) == 2
        # The report: accuracy 3 of 5 per seed, pooled 6 of 10.
        path, ctx = write_report(store, big, big.reports[0], tmp_path)
    out = json.loads(path.read_text())
    assert [(e["run_id"], e["accuracy"]) for e in out["runs"]] == [
        (second[0].run_id, 0.6),
        (second[1].run_id, 0.6),
    ]
    assert [(a["arm"], a["seeds"], a["n"], a["correct"]) for a in out["summary"]["arms"]] == [
        ("sc@4", [0, 1], 10, 6)
    ]
    assert ctx.missing == []


def test_the_watch_sees_each_new_result_of_each_growing_run(tmp_path: Path) -> None:
    recipe = _recipe(tmp_path, limit=3)
    seen: list[tuple[str, int, list[str]]] = []

    @contextmanager
    def watch(description: str, total: int) -> Iterator[Any]:
        seen.append((description, total, []))
        yield lambda row: seen[-1][2].append(row.problem_id)

    clock = Clock()
    with RunStore(tmp_path / "store.db") as store:
        run_recipe(recipe, store, root=tmp_path, open_solver=Opener(clock), max_minutes=1.5,
                   clock=clock, say=lambda _: None, watch=watch)  # fmt: skip
        seen_before = len(seen)
        run_recipe(recipe, store, root=tmp_path, open_solver=Opener(clock), clock=clock,
                   say=lambda _: None, watch=watch)  # fmt: skip
    ids = [f"problems/{i}" for i in range(3)]
    assert seen_before == 1
    assert (
        [(total, solved) for _, total, solved in seen]
        == [
            (3, ids[:2]),  # 1.5 minutes at 50 s a problem
            (1, ids[2:]),  # seed 0 resumed
            (3, ids),  # seed 1
        ]
    )
    assert seen[0][0] == seen[1][0] != seen[2][0]


def test_a_dry_run_loads_no_model_and_says_what_is_missing(tmp_path: Path) -> None:
    recipe = _recipe(tmp_path, limit=2)
    opener = Opener(Clock())
    with RunStore(tmp_path / "store.db") as store:
        statuses = run_recipe(recipe, store, root=tmp_path, open_solver=opener, dry_run=True,
                              say=lambda _: None)  # fmt: skip
    assert [(s.state, s.run_id, s.stored, s.total) for s in statuses] == [
        ("missing", None, 0, 2),
        ("missing", None, 0, 2),
    ]
    assert opener.opened == []


# -- the summary's figures on hand-made rows ----------------------------------------------


def run_record(run_id: str, strategy: str = "sc", seed: int = 0) -> RunRecord:
    search = {"strategy": strategy, "samples": 4, "k": 3, "seed": seed}
    return RunRecord(run_id, "fp", "eval", 0.0, 0.0, "complete", "gsm8k:test", strategy, "m",
                     {"search": search, "scorer": "none"}, {}, {"wall_seconds": 40.0})  # fmt: skip


def arm(run_id: str, name: str, seed: int, right: list[bool], tokens: int) -> ArmReport:
    from thinktree.eval.metrics import summarize

    rows = [row_of(f"p{i}", i, r, tokens) for i, r in enumerate(right)]
    return ArmReport(run_record(run_id, seed=seed), rows, summarize(rows, 40.0), name, [seed])


def test_the_summary_pools_seeds_with_exact_figures() -> None:
    a0 = arm("a0", "sc@4", 0, [True, True, False, False], 100)
    a1 = arm("a1", "sc@4", 1, [True, False, True, False], 300)
    b0 = arm("b0", "greedy", 0, [False, False, False, False], 50)
    b1 = arm("b1", "greedy", 1, [False, False, False, False], 50)
    entry = run_entry(a0)
    assert (entry["accuracy"], entry["tokens_per_problem"], entry["seconds_per_problem"]) == (
        0.5,
        100.0,
        10.0,
    )
    arms = pooled_arms([a0, a1, b0, b1])
    sc = arms[0]
    assert (sc.arm, sc.seeds, sc.summary["n"], sc.summary["correct"]) == ("sc@4", [0, 1], 8, 4)
    assert sc.summary["accuracy"] == 0.5
    # Wilson's 95 % interval for 4 of 8.
    assert sc.summary["ci95"] == pytest.approx([0.215213, 0.784787], abs=1e-6)
    assert sc.summary["tokens_per_problem"] == 200.0
    assert sc.summary["seconds_per_problem"] == 10.0  # 80 s over 8 (problem, seed) pairs
    (pair,) = arm_pairs(arms, None)
    assert (pair["a"], pair["b"], pair["common"], pair["won"], pair["lost"]) == (
        "sc@4",
        "greedy",
        8,
        4,
        0,
    )
    assert pair["sign_test_p"] == 0.125  # two-sided: 2 / 2**4
    assert pair["dominant"] is None  # more right, for more tokens: a trade-off


def test_an_evolve_recipe_restores_missing_ledgers_and_saves_its_own(tmp_path: Path) -> None:
    from thinktree.eval.bench.runner import restore_ledgers, save_ledgers

    recipe = parse_recipe({
        "store": "runs.db",
        "evolve": {"config": "c.yaml", "out": "out", "ledgers": "ledgers",
                   "base_ledgers": {"round-0": "main/round-0.json"}},
    })  # fmt: skip
    for path, text in (("ledgers/round-0.json", "own 0"), ("ledgers/round-1.json", "own 1"),
                       ("main/round-0.json", "main 0"), ("out/round-2/manifest.json", "kept 2"),
                       ("ledgers/round-2.json", "old 2")):  # fmt: skip
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(text)
    # Round 0 is adopted from the main run; round 2 exists here and is kept.
    assert restore_ledgers(recipe, tmp_path) == ["round-0", "round-1"]
    assert (tmp_path / "out/round-0/manifest.json").read_text() == "main 0"
    assert (tmp_path / "out/round-1/manifest.json").read_text() == "own 1"
    saved = save_ledgers(recipe, tmp_path)
    assert [p.name for p in saved] == ["round-1.json", "round-2.json"]
    assert (tmp_path / "ledgers/round-2.json").read_text() == "kept 2"
    assert (tmp_path / "ledgers/round-0.json").read_text() == "own 0"


def test_thinktree_bench_says_a_bad_recipe_in_one_line_and_a_dry_run_loads_nothing(
    tmp_path: Path,
) -> None:
    from typer.testing import CliRunner

    from thinktree.cli import app

    bad = tmp_path / "bad.yaml"
    bad.write_text("store: s.db\nruns:\n  - {name: sc, search: {strategy: sc, samples: 0}}\n")
    result = CliRunner().invoke(app, ["bench", str(bad), "--root", str(tmp_path)])
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        f"error: {bad}: runs[0] (sc): search.samples: Input should be greater than or equal to 1"
    ]
    good = tmp_path / "good.yaml"
    good.write_text("store: s.db\nruns:\n  - {name: greedy, model: fast, search: {strategy: greedy},"
                    " source: {benchmark: gsm8k, split: test, limit: 2}}\n")  # fmt: skip
    result = CliRunner().invoke(app, ["bench", str(good), "--root", str(tmp_path), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert result.output.split()[:3] == ["missing", "0/2", "-"]


# -- a learned scorer's runs are found by the PPM's identity, not its directory ----------


def test_a_ppm_retrained_in_place_is_another_scorer_and_a_missing_one_finds_nothing(
    tmp_path: Path,
) -> None:
    from thinktree.eval.bench.runner import find_stored
    from thinktree.reward.registry import ppm_spec_identity
    from thinktree.search.identity import run_identity

    ppm = tmp_path / "ppm"
    ppm.mkdir()
    (ppm / "ppm.json").write_text(json.dumps({"features": {}, "training": {}}))
    (ppm / "head.npz").write_bytes(b"first head")
    spec = f"ppm:{ppm}"
    first = ppm_spec_identity(spec)
    recipe = parse_recipe({
        "store": "store.db",
        "runs": [{"model": "fast", "scorer": spec,
                  "search": {"strategy": "mcts", "samples": 4, "k": 3}}],
    })  # fmt: skip
    planned = recipe.planned()[0]
    search = run_identity(planned.config, scored=True)
    with RunStore(tmp_path / "store.db") as store:
        store.create_run(
            "old", fingerprint="fp", kind="eval", dataset="gsm8k:test", strategy="mcts",
            model=model_name("fast"), manifest={},
            config={"search": search, "scorer": first, "dataset_hash": "h"},
        )  # fmt: skip
        found = find_stored(store, planned, "gsm8k:test", "h")
        assert found is not None and found.id == "old"
        (ppm / "head.npz").write_bytes(b"retrained head")  # same directory, another PPM
        assert find_stored(store, planned, "gsm8k:test", "h") is None
        (ppm / "head.npz").unlink()  # no PPM there yet (a dry run before training)
        assert find_stored(store, planned, "gsm8k:test", "h") is None
