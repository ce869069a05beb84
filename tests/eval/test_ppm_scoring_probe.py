"""The ppm_scoring probe (issue 51, point 3): its options, its dry run through
`thinktree bench`, and its figures computed from hand-made usage and PPM totals."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from thinktree.cli import app
from thinktree.eval.bench import RecipeError, option_models, parse_recipe
from thinktree.eval.bench.probes import PROBES, ProbeContext, ProbeError
from thinktree.eval.bench.probes.ppm_scoring import (
    PPMScoringOptions,
    ScorerTotals,
    run,
    scoring_figures,
)
from thinktree.reward.base import NullScorer
from thinktree.reward.lm_ppm import LMScoreStats
from thinktree.search.result import SolveResult, Usage

ROOT = Path(__file__).resolve().parents[2]
RECIPE = ROOT / "benchmarks" / "recipes" / "ppm_scoring.yaml"


def result(score_seconds: float, seconds: float) -> SolveResult:
    usage = Usage(score_seconds=score_seconds, engine_seconds=seconds / 2)
    return SolveResult("gsm8k/1", "mcts", "8", [], usage, seconds, "done")


def test_the_defaults_are_the_verifier_recipes_mcts4_with_its_ppm() -> None:
    options = PPMScoringOptions()
    assert options.model_dump() == {
        "out": "benchmarks/results/ppm_scoring.json",
        "model": "evolved",
        "ppm": "ppm:runs/verifier/lm-ppm",
        "problems": 10,
        "samples": 4,
        "k": 3,
        "seed": 0,
    }


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"nope": 1}, "r.yaml: probe: options.nope: Extra inputs are not permitted"),
        ({"ppm": "none"}, "r.yaml: probe: options.ppm: 'none' names no PPM; give ppm:DIR"),
        ({"ppm": "outcome"}, "r.yaml: probe: options.ppm: 'outcome' names no PPM; give ppm:DIR"),
        ({"ppm": "ppm:"}, "r.yaml: probe: options.ppm: a PPM scorer needs its directory: ppm:DIR"),
        (
            {"ppm": "prm:x"},
            "r.yaml: probe: options.ppm: unknown scorer 'prm:x'; "
            "use none, outcome, ppm:DIR or ppm+outcome:DIR",
        ),
        (
            {"problems": 0},
            "r.yaml: probe: options.problems: Input should be greater than or equal to 1",
        ),
    ],
)
def test_a_bad_option_is_one_line_naming_it(options: dict[str, object], message: str) -> None:
    raw = {"probe": {"name": "ppm_scoring", "options": options}}
    with pytest.raises(RecipeError) as caught:
        parse_recipe(raw, "r.yaml", PROBES)
    assert str(caught.value) == message


def test_set_checks_the_ppm_spec() -> None:
    recipe = parse_recipe({"probe": {"name": "ppm_scoring"}}, "r.yaml", PROBES)
    with pytest.raises(RecipeError) as caught:
        recipe.with_probe_options({"ppm": "none"}, option_models(PROBES))
    assert str(caught.value) == "--set ppm: 'none' names no PPM; give ppm:DIR"
    changed = recipe.with_probe_options({"ppm": "ppm:elsewhere"}, option_models(PROBES))
    assert changed.probe is not None
    assert changed.probe.options == {"ppm": "ppm:elsewhere"}


def test_thinktree_bench_dry_run_says_what_it_would_measure(tmp_path: Path) -> None:
    done = CliRunner().invoke(app, ["bench", str(RECIPE), "--root", str(tmp_path), "--dry-run"])
    assert done.exit_code == 0, done.output
    assert done.output.splitlines() == [
        "probe ppm_scoring (the LM PPM's cost a node and share of mcts@4 wall time) would "
        "write benchmarks/results/ppm_scoring.json: model='evolved', "
        "ppm='ppm:runs/verifier/lm-ppm', problems=10, samples=4, k=3, seed=0"
    ]
    assert list(tmp_path.iterdir()) == []


def test_the_figures_from_usage_and_ppm_totals() -> None:
    totals = ScorerTotals(items=50, seconds=3.0, prompt_tokens=2000, cached_tokens=1500)
    results = [result(1.0, 10.0), result(2.0, 20.0), result(0.5, 10.0)]
    assert scoring_figures(totals, results) == {
        "seconds_per_node": 0.06,
        "share_of_search_wall_time": 0.0875,
        "within_target": True,
        "target_share": 0.25,
        "cached_token_share": 0.75,
        "nodes": 50,
        "problems": 3,
        "wall_seconds": 40.0,
        "score_seconds": 3.5,
        "scorer_seconds": 3.0,
        "prompt_tokens": 2000,
        "cached_tokens": 1500,
    }


def test_a_share_over_the_target_and_no_prompt_tokens() -> None:
    figures = scoring_figures(ScorerTotals(items=4, seconds=6.0), [result(3.0, 8.0)])
    assert figures["seconds_per_node"] == 1.5
    assert figures["share_of_search_wall_time"] == 0.375
    assert figures["within_target"] is False
    assert figures["cached_token_share"] is None


@pytest.mark.parametrize(
    ("totals", "results", "message"),
    [
        (
            ScorerTotals(items=5, seconds=1.0),
            [],
            "nothing to measure: 5 nodes scored in 0 wall seconds; check that the scorer "
            "is an LM PPM and the problems were searched",
        ),
        (
            ScorerTotals(),
            [result(0.0, 12.0)],
            "nothing to measure: 0 nodes scored in 12.0 wall seconds; check that the scorer "
            "is an LM PPM and the problems were searched",
        ),
    ],
)
def test_nothing_scored_is_a_probe_error(
    totals: ScorerTotals, results: list[SolveResult], message: str
) -> None:
    with pytest.raises(ProbeError) as caught:
        scoring_figures(totals, results)
    assert str(caught.value) == message


def test_the_totals_leave_the_warm_up_out() -> None:
    stats = LMScoreStats(items=7, seconds=1.5, prompt_tokens=300, cached_tokens=100)
    before = ScorerTotals.of(stats)
    stats.items, stats.seconds, stats.prompt_tokens, stats.cached_tokens = 19, 4.0, 900, 550
    assert ScorerTotals.of(stats).since(before) == ScorerTotals(12, 2.5, 600, 450)


def test_a_ppm_that_is_not_an_lm_ppm_is_refused_before_the_model_loads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    closed: list[bool] = []

    class FeatureLike(NullScorer):
        def close(self) -> None:
            closed.append(True)

    def no_model(*args: object, **kwargs: object) -> None:
        raise AssertionError("the model was opened")

    monkeypatch.setattr(
        "thinktree.reward.registry.load_scorer", lambda spec: (FeatureLike(), "ppm:abc")
    )
    monkeypatch.setattr("thinktree.api.open_runtime", no_model)
    options = PPMScoringOptions(ppm="ppm:features", out="out.json")
    with pytest.raises(ProbeError) as caught:
        run(options, ProbeContext(tmp_path, "thinktree bench ppm_scoring.yaml"))
    assert str(caught.value) == (
        "ppm: ppm:features is not an LM PPM (its ppm.json's kind is not lm)"
    )
    assert closed == [True]
    assert not (tmp_path / "out.json").exists()
