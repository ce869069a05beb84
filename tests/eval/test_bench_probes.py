"""Recipes that name a probe: validation in one line, `--set`, the dry run, the
registry's cost, and a cheap probe run end to end by `thinktree bench`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pydantic import Field
from typer.testing import CliRunner

from thinktree.cli import app
from thinktree.eval.bench import RecipeError, load_recipe, option_models, parse_recipe
from thinktree.eval.bench.probes import Probe, ProbeContext, ProbeError, ProbeOptions

ROOT = Path(__file__).resolve().parents[2]


class FakeOptions(ProbeOptions):
    tokens: int = Field(8, ge=1)
    """Tokens a request."""
    fail: bool = False
    """Raise a ProbeError instead of measuring."""
    out: str = "results/fake.json"
    """The results file."""


def fake_run(options: FakeOptions, ctx: ProbeContext) -> Path:
    if options.fail:
        raise ProbeError("the fake probe failed; set fail=false")
    ctx.say(f"measured {options.tokens}")
    path = ctx.path(options.out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"tokens": options.tokens, "command": ctx.command}))
    return path


FAKE = {"fake": Probe(FakeOptions, "a fake measurement", fake_run)}


def test_a_recipe_with_only_a_probe_needs_no_store() -> None:
    recipe = parse_recipe({"probe": {"name": "fake", "options": {"tokens": 3}}}, "r.yaml", FAKE)
    assert recipe.store is None
    assert recipe.probe is not None
    assert (recipe.probe.name, recipe.probe.options) == ("fake", {"tokens": 3})
    assert recipe.planned() == []


BAD = [
    ({"probe": {"name": "nope"}}, "r.yaml: probe: unknown probe 'nope'; known: fake"),
    ({"probe": {"options": {}}}, "r.yaml: probe.name: Field required"),
    (
        {"probe": {"name": "fake", "options": {"tokn": 1}}},
        "r.yaml: probe: options.tokn: Extra inputs are not permitted",
    ),
    (
        {"probe": {"name": "fake", "options": {"tokens": "many"}}},
        "r.yaml: probe: options.tokens: Input should be a valid integer, unable to parse "
        "string as an integer",
    ),
    (
        {"probe": {"name": "fake", "options": {"tokens": 0}}},
        "r.yaml: probe: options.tokens: Input should be greater than or equal to 1",
    ),
    (
        {"runs": [{"name": "greedy", "search": {"strategy": "greedy"}}]},
        "r.yaml: store: a recipe with runs needs a run store (store: runs/NAME/runs.db)",
    ),
    (
        {"probe": {"name": "fake"}, "imports": ["a.jsonl.gz"]},
        "r.yaml: store: a recipe with imports needs a run store (store: runs/NAME/runs.db)",
    ),
    ({"description": "x"}, "r.yaml: nothing to do: give runs, evolve, a probe or reports"),
]


@pytest.mark.parametrize(("raw", "message"), BAD)
def test_a_bad_probe_recipe_is_one_line_naming_the_field(raw: object, message: str) -> None:
    with pytest.raises(RecipeError) as caught:
        parse_recipe(raw, "r.yaml", FAKE)
    assert str(caught.value) == message


def test_set_overrides_the_probe_options_and_is_checked_by_the_probe() -> None:
    recipe = parse_recipe({"probe": {"name": "fake", "options": {"tokens": 3}}}, "r.yaml", FAKE)
    models = option_models(FAKE)
    changed = recipe.with_probe_options({"tokens": 5, "fail": True}, models)
    assert changed.probe is not None
    assert changed.probe.options == {"tokens": 5, "fail": True}
    assert recipe.with_probe_options({}, models) is recipe
    with pytest.raises(RecipeError) as caught:
        recipe.with_probe_options({"tokens": "x"}, models)
    assert str(caught.value) == (
        "--set tokens: Input should be a valid integer, unable to parse string as an integer"
    )
    with pytest.raises(RecipeError) as caught:
        recipe.with_probe_options({"tokn": 1}, models)
    assert str(caught.value) == "--set tokn: Extra inputs are not permitted"
    runs_only = parse_recipe({"store": "s.db", "reports": [{"results": "a.json"}]}, "r.yaml")
    with pytest.raises(RecipeError) as caught:
        runs_only.with_probe_options({"tokens": 1}, models)
    assert str(caught.value) == "--set sets a probe's options; this recipe has no probe"


def test_every_probe_recipe_in_the_repository_names_a_probe_with_valid_options() -> None:
    from thinktree.cli.probes import bench_probes

    probes = bench_probes()
    named = {}
    for path in sorted((ROOT / "benchmarks" / "recipes").glob("*.yaml")):
        recipe = load_recipe(path, probes)
        if recipe.probe is not None:
            options = probes[recipe.probe.name].options.model_validate(recipe.probe.options)
            named[path.name] = (recipe.probe.name, options.out)
    assert named == {
        "adaptive_timing.yaml": ("adaptive_timing", "benchmarks/results/adaptive_timing.json"),
        "adaptive_timing_seed1.yaml": (
            "adaptive_timing",
            "benchmarks/results/adaptive_timing.json",
        ),
        "cut_steps.yaml": ("cut_steps", "benchmarks/results/cut_steps.json"),
        "engine.yaml": ("engine", "benchmarks/results/engine.json"),
        "grader.yaml": ("grader", "benchmarks/results/grader.json"),
        "lm_ppm_prefix.yaml": ("lm_ppm_prefix", "benchmarks/results/lm_ppm_prefix.json"),
        "lm_ppm_groups.yaml": ("lm_ppm_groups", "benchmarks/results/lm_ppm_groups.json"),
        "ppm_candidates.yaml": ("ppm_candidates", "benchmarks/results/ppm.json"),
        "ppm_scoring.yaml": ("ppm_scoring", "benchmarks/results/ppm_scoring.json"),
        "sandbox.yaml": ("sandbox", "benchmarks/results/sandbox.json"),
        "scale.yaml": ("scale", "benchmarks/results/scale.json"),
        "search_batch.yaml": ("search_batch", "benchmarks/results/search_batch.json"),
        "serve_adapter.yaml": ("serve_adapter", "benchmarks/results/serve_adapter.json"),
        "serve_load.yaml": ("serve_load", "benchmarks/results/serve_load.json"),
        "serve_load_real.yaml": ("serve_load", "benchmarks/results/serve_load.json"),
        "sft.yaml": ("sft", "benchmarks/results/sft.json"),
        "sft_avx2.yaml": ("sft", "benchmarks/results/sft_avx2.json"),
    }


def test_a_train_probe_is_unknown_to_the_eval_layers_registry_alone() -> None:
    with pytest.raises(RecipeError) as caught:
        load_recipe(ROOT / "benchmarks" / "recipes" / "sft.yaml")
    assert str(caught.value) == (
        f"{ROOT / 'benchmarks' / 'recipes' / 'sft.yaml'}: probe: unknown probe 'sft'; known: "
        "adaptive_timing, cut_steps, engine, grader, ppm_scoring, sandbox, scale, search_batch"
    )


def test_the_registries_load_no_torch_llama_cpp_ray_or_uvicorn() -> None:
    code = (
        "import sys\n"
        "from thinktree.cli.probes import bench_probes\n"
        "probes = bench_probes()\n"
        "heavy = ('torch', 'xllamacpp', 'transformers', 'peft', 'ray', 'uvicorn')\n"
        "print(len(probes), sorted(m for m in heavy if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split("\n")[0] == "14 []"


# -- thinktree bench with a probe ----------------------------------------------------------


def _bench(monkeypatch: pytest.MonkeyPatch, *args: str) -> Any:
    monkeypatch.setattr("thinktree.cli.probes.bench_probes", lambda: dict(FAKE))
    return CliRunner().invoke(app, ["bench", *args])


def test_thinktree_bench_runs_the_probe_with_set_and_records_its_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    recipe = tmp_path / "fake.yaml"
    recipe.write_text("probe: {name: fake, options: {tokens: 3}}\n")
    result = _bench(monkeypatch, str(recipe), "--root", str(tmp_path), "--set", "tokens=4")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == ["measured 4", f"wrote {tmp_path / 'results/fake.json'}"]
    written = json.loads((tmp_path / "results" / "fake.json").read_text())
    assert written == {"tokens": 4, "command": "thinktree bench fake.yaml --set=tokens=4"}


def test_thinktree_bench_dry_run_says_what_the_probe_would_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    recipe = tmp_path / "fake.yaml"
    recipe.write_text(
        "store: s.db\n"
        "runs:\n  - {name: greedy, model: fast, search: {strategy: greedy},"
        " source: {benchmark: gsm8k, split: test, limit: 2}}\n"
        "probe: {name: fake}\n"
    )
    result = _bench(monkeypatch, str(recipe), "--root", str(tmp_path), "--dry-run")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split()[:3] == ["missing", "0/2", "-"]
    assert lines[1:] == [
        "probe fake (a fake measurement) would write results/fake.json: tokens=8, fail=False"
    ]
    assert not (tmp_path / "results").exists()


@pytest.mark.parametrize(
    ("recipe", "args", "message"),
    [
        ("probe: {name: fake}\n", ["--set", "fail=true"], "the fake probe failed; set fail=false"),
        ("probe: {name: fake}\n", ["--set", "tokens=0"],
         "--set tokens: Input should be greater than or equal to 1"),
        ("probe: {name: fake}\n", ["--set", "tokens"],
         "--set expects KEY=VALUE (e.g. --set tokens=64), got 'tokens'"),
        ("probe: {name: fake}\n", ["--export-only"], "{recipe} keeps no run store: nothing to export"),
        ("probe: {name: nope}\n", [], "{recipe}: probe: unknown probe 'nope'; known: fake"),
    ],
)  # fmt: skip
def test_thinktree_bench_says_a_probe_error_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, recipe: str, args: list[str], message: str
) -> None:
    path = tmp_path / "fake.yaml"
    path.write_text(recipe)
    result = _bench(monkeypatch, str(path), "--root", str(tmp_path), *args)
    assert result.exit_code == 2
    assert result.output.splitlines() == [f"error: {message.format(recipe=path)}"]


def test_the_sandbox_recipe_runs_end_to_end_with_quick_settings(tmp_path: Path) -> None:
    """The one probe cheap enough for the suite: a few dozen cells on one worker."""
    out = tmp_path / "sandbox.json"
    recipe = ROOT / "benchmarks" / "recipes" / "sandbox.yaml"
    sets = ["--set", "quick=true", "--set", "workers=1", "--set", f"out={out}"]
    result = CliRunner().invoke(app, ["bench", str(recipe), "--root", str(ROOT), *sets])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1] == f"wrote {out}"
    figures = json.loads(out.read_text())
    assert (figures["quick"], figures["n"], figures["batch"], figures["workers"]) == (
        True,
        30,
        60,
        1,
    )
    assert 0 < figures["trivial_median_ms"] <= figures["trivial_p95_ms"]
    assert figures["cells_per_s"] > 0
