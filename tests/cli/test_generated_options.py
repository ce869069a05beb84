"""Every command's config options are generated from its config model: the help is the
field's docstring, a bad value is one line, and evolve's flags override its YAML file."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest
import typer
from typer.testing import CliRunner

from thinktree.cli import app
from thinktree.grading import GradeConfig
from thinktree.reward.features import FeatureSpec
from thinktree.server import ServeConfig, ViewConfig
from thinktree.store import DEFAULT_STORE, StoreConfig
from thinktree.train.ppm.head import HeadConfig

runner = CliRunner()

STORE_HELP = "Run store (SQLite): the file runs are written to and read from."
RUNS_HELP = (
    "Runs whose trees (mcts: step and final pairs) or samples (sc, best_of_n: outcome pairs)"
    " give the pairs."
)
BIND_HELP = {
    "--host": "Address to bind (loopback unless a key is set).",
    "--api-key": "Require the key (Bearer, or a browser's sign-in with the key as password).",
    "--no-auth": "Allow a non-loopback bind without a key.",
    "--evolve": "An evolve directory whose rounds to show.",
}
HELP = {
    ("serve",): {
        **BIND_HELP,
        "--port": "Port to listen on. [>= 1, <= 65535]",
        "--scorer": (
            "Default scorer: none or ppm:DIR (requests may name it or none); unset, the "
            "verifier shipped with the model scores mcts, best_of_n and beam."
        ),
        "--concurrency": "Solves running at once. [>= 1]",
        "--queue": "Requests waiting for a slot (then 429). [>= 0]",
        "--store": STORE_HELP,
    },
    ("view",): {
        **BIND_HELP,
        "--port": "Port to listen on (0: any free port). [>= 0, <= 65535]",
        "--store": STORE_HELP,
    },
    ("grade",): {
        "--pred": "Model output or bare answer.",
        "--gold": "The reference answer.",
        "--file": 'JSONL file of {"pred": ..., "gold": ...} lines.',
        "--json": "Print the verdict as one JSON line.",
        "--timeout": "Seconds per check. [>= 0.1]",
        "--workers": "Grader worker processes (one for a single --pred/--gold pair). [>= 1]",
    },
    ("exec",): {
        "--json": "Print one JSON object instead of text.",
        "--timeout": "Default wall-clock limit of one execution, in seconds.",
    },
    ("solve",): {
        "--scorer": "none, outcome (needs --gold) or ppm:DIR. Not given: mcts, best_of_n and "
        "beam score with the verifier shipped with the model, where one ships; any other "
        "search with none.",
        "--gold": "The known answer (for --scorer outcome).",
        "--json": "Print one JSON object.",
    },
    ("rescore",): {
        "--scorer": "The scorer that picks: ppm:DIR.",
        "--select": "The rule that picks: best (the best-scored sample, best-of-N) or weighted"
        " (scores summed per answer class, each as (s + 1) / 2).",
        "--store": STORE_HELP,
        "--json": "Print the rescored run's record as JSON.",
    },
    ("bench",): {
        "--root": "Where the recipe's relative paths start (the repository).",
        "--store": "Run store instead of the recipe's.",
        "--max-minutes": "Stop cleanly after this long; rerun to resume.",
        "--dry-run": "Say which runs are stored and what would run; load no model.",
        "--report-only": "Write the reports from stored runs only.",
        "--no-report": "Run, write no report.",
        "--export-only": "Export the store's runs (and ledgers), run nothing.",
        "--set": "A probe option, e.g. --set tokens=64 (repeatable).",
    },
    ("runs", "list"): {"--json": "Print one JSON object per run."},
    ("runs", "regrade"): {"--json": "Print one JSON object."},
    ("runs", "export"): {
        "--out": "Write here, atomically (default: stdout); a .gz name is gzip'd.",
        "--trees": "Include MCTS trees.",
    },
    ("report",): {
        "--plot": "PNG path for accuracy vs tokens.",
        "--common": "Only problems every run has.",
    },
    ("tree",): {"--width": "Characters of each step shown."},
    ("models", "pull"): {"--force": "Assemble again even if cached."},
    ("ppm", "pairs"): {
        "--runs": RUNS_HELP,
        "--out": "JSONL file to write.",
        "--trl": "Write TRL's prompt/chosen/rejected format.",
    },
    ("ppm", "score"): {
        "--question": "The problem.",
        "--steps": "JSON list of steps: {code, output} or {answer}.",
    },
    ("eval",): {
        "--scorer": "none, outcome or ppm:DIR. Not given: mcts, best_of_n and beam score "
        "with the verifier shipped with the model, where one ships; any other search with "
        "none.",
        "--json": "Print one JSON object.",
        "--window": "Problems searched in lock step (default: fill the slots). [>= 1]",
        "--max-minutes": "Stop cleanly after this long.",
        "--new": "Start a new run even if one matches.",
    },
    ("models", "ship"): {
        "--name": "The package slot the round replaces (--model NAME and --scorer ppm:NAME "
        "serve it): evolved, or default for a round of the 1.5B (what runs when no --model is "
        "given).",
    },
    ("ppm", "train"): {
        "--out": "Directory for the trained PPM.",
        "--runs": RUNS_HELP,
        "--pairs": "A JSONL file of pairs (what `thinktree ppm pairs --out` writes) instead of"
        " --runs; --kind lm only.",
        "--json": "Print the training record.",
        "--kind": "features: MLP heads on features of the steps; lm: a LoRA over the policy's "
        "base file that answers yes or no (options --lm-*).",
        "--features": "handcrafted, embedding or embedding+handcrafted (the defaults, five MLP "
        "heads on handcrafted features, measured best on 205 gsm8k pairs: BENCHMARKS.md).",
        "--feature-model": "Model whose hidden states are used.",
        "--seed-repeats": "Repeat the cross-validation with this many head seeds. [>= 1]",
        "--head": "linear, or mlp (one hidden layer).",
        "--hidden": "Hidden units of the mlp head. [>= 1]",
        "--epochs": "Epochs of each head; the one with the lowest validation loss is kept. [>= 1]",
        "--lr": "AdamW's learning rate. [> 0]",
        "--seed": "Seed of the first head.",
        "--ensemble": "Heads trained with seeds ``seed``, ``seed + 1``, ...; their scores are"
        " averaged. [>= 1]",
        "--context": 'What the embedding reads: "full" (all steps) or "last" (the last step).',
        "--backend": 'Who computes the embedding: "torch" (prefix-cached) or "llamacpp".',
        "--store": STORE_HELP,
    },
    ("evolve",): {
        "--out": "Directory of the rounds (resumable).",
        "--config": "YAML file with every option.",
        "--set": "Any config field, e.g. --set sft.epochs=1 (repeatable).",
        "--rounds": "Rounds after round 0: 2 means rounds 0, 1 and 2. [>= 0, <= 32]",
        "--policy": "The embedded model being evolved, whose LoRA is trained over its own GGUF:"
        " fast (the 0.5B) or default (the 1.5B).",
        "--bootstrap": "Round 0's searcher: an embedded model or a .gguf path; base (the"
        " untouched 1.5B) stays the same model after an evolved 1.5B ships as default. The"
        " policy's own model (policy and bootstrap both the 1.5B) makes round 0 the policy's"
        " own search.",
        "--pool-size": "Problems round 0 searches (offset .. offset + size). [>= 1]",
        "--pool-grow": "New problems each later round searches, after those of earlier rounds."
        " [>= 0]",
        "--pool-run": "An existing run in ``store`` to adopt as round 0's pool search (its "
        "problems are not searched again), e.g. one made with ``thinktree eval --scorer "
        "outcome``.",
        "--reference": "Converted reference solutions (GSM8K's calculator annotations) as extra"
        " SFT data.",
        "--store": "Run store; default ``OUT/runs.db``.",
        "--ray": "Search on Ray workers: auto (this machine's running cluster, else a new local"
        " one) or a cluster address (HOST:6379, ray://HOST:10001); default: no Ray.",
        "--workers": "Ray workers (actors), each with its own engine and sandbox pool."
        " [>= 1, <= 4096]",
        "--max-minutes": "Stop cleanly after this long (a rerun resumes). [> 0]",
    },
}
"""Each generated option's help, as its config field's docstring (and bounds) say it."""

CONFIGS = {
    ("serve",): ServeConfig,
    ("view",): ViewConfig,
    ("grade",): GradeConfig,
    ("ppm", "train"): HeadConfig,
}
"""Commands whose every config field is an option."""


def command(*path: str) -> click.Command:
    group: click.Command = typer.main.get_command(app)
    for name in path:
        group = group.commands[name]  # type: ignore[attr-defined]
    return group


def options(cmd: click.Command) -> dict[str, click.Parameter]:
    return {opt: p for p in cmd.params for opt in (*p.opts, *p.secondary_opts)}


@pytest.mark.parametrize("path", list(HELP), ids=" ".join)
def test_each_option_has_its_fields_docstring_as_help(path: tuple[str, ...]) -> None:
    params = options(command(*path))
    assert {opt: params[opt].help for opt in HELP[path]} == HELP[path]
    shown = runner.invoke(app, [*path, "--help"], terminal_width=400)
    assert shown.exit_code == 0, shown.output
    for opt in HELP[path]:
        assert opt in shown.stdout


@pytest.mark.parametrize("path", list(CONFIGS), ids=" ".join)
def test_every_config_field_is_an_option(path: tuple[str, ...]) -> None:
    names = {p.name for p in command(*path).params}
    assert set(CONFIGS[path].model_fields) <= names


def test_feature_options_are_the_feature_specs_fields() -> None:
    params = {p.name: p for p in command("ppm", "train").params}
    assert (params["context"].default, params["backend"].default) == ("full", "torch")
    assert (FeatureSpec.context, FeatureSpec.backend) == ("full", "torch")


STORE_COMMANDS = [
    ("runs", "list"), ("runs", "show"), ("runs", "export"), ("runs", "import"),
    ("runs", "regrade"), ("report",), ("tree",), ("rescore",), ("eval",), ("serve",),
    ("view",), ("ppm", "pairs"), ("ppm", "train"),
]  # fmt: skip


@pytest.mark.parametrize("path", STORE_COMMANDS, ids=" ".join)
def test_every_store_is_the_one_store_option(path: tuple[str, ...]) -> None:
    store = options(command(*path))["--store"]
    assert (store.name, store.help, store.default) == ("store", STORE_HELP, "thinktree-runs.db")
    assert DEFAULT_STORE == StoreConfig().path == "thinktree-runs.db"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["serve", "--port", "0"], "error: port: Input should be greater than or equal to 1"),
        (["serve", "--concurrency", "0"], "error: concurrency: Input should be greater than"),
        (["serve", "--queue", "-1"], "error: queue: Input should be greater than or equal to 0"),
        (["serve", "--host", "0.0.0.0"], "error: refusing to bind 0.0.0.0 without an API key"),
        (["view", "--port", "70000"], "error: port: Input should be less than or equal to 65535"),
        (["grade", "--pred", "1", "--gold", "1", "--timeout", "0"], "error: timeout: Input"),
        (["grade", "--file", "x.jsonl", "--workers", "0"], "error: workers: Input should be"),
        (["exec", "x.py", "--timeout", "-1"], "error: --timeout must be positive, got -1.0"),
        (["ppm", "train", "--runs", "r", "--out", "o", "--hidden", "0"], "error: hidden: Input"),
        (["ppm", "train", "--runs", "r", "--out", "o", "--ensemble", "0"], "error: ensemble:"),
        (["ppm", "train", "--runs", "r", "--out", "o", "--context", "all"], "unknown context"),
        (["ppm", "train", "--runs", "r", "--out", "o", "--seed-repeats", "0"], "seed_repeats: In"),
        (["eval", "--benchmark", "gsm8k", "--window", "0"], "error: window: Input should be"),
        (["models", "ship", "{tmp}", "--name", "fast"], "error: name: 'fast' is not a package"),
        (["evolve", "--out", "{tmp}", "--rounds", "-1"], "error: evolve config: rounds: Input"),
        (["evolve", "--out", "{tmp}", "--pool-size", "0"], "error: evolve config: pool.size:"),
        (["evolve", "--out", "{tmp}", "--workers", "0"], "error: evolve config: fanout.workers:"),
        (["evolve", "--out", "{tmp}", "--max-minutes", "0"], "error: evolve config: max_minutes:"),
        (["eval", "--benchmark", "gsm8k", "--scorer", "oracle"], "error: unknown scorer 'oracle'"),
        (["rescore", "r", "--scorer", "oracle"], "error: unknown scorer 'oracle'; use none,"),
        # The rule is checked before the store is opened (there is none here) or a PPM loads.
        (["rescore", "r", "--scorer", "ppm:p", "--select", "majority"],
         "error: unknown --select 'majority'; use best or weighted"),
        (["ppm", "train", "--out", "o"], "error: give the pairs with --runs RUN... or with "
         "--pairs FILE.jsonl (one of the two)"),
        (["ppm", "train", "--out", "o", "--runs", "r", "--pairs", "p.jsonl"], "(one of the two)"),
        (["grade", "--pred", "1"], "error: give --pred and --gold (or --file FILE.jsonl)"),
        (["grade", "--file", "x.jsonl", "--gold", "1"], "error: give either --file or --pred/--g"),
    ],
)  # fmt: skip
def test_a_bad_value_is_one_line_and_exit_2(
    monkeypatch, tmp_path: Path, args: list[str], message: str
) -> None:
    monkeypatch.delenv("THINKTREE_API_KEY", raising=False)
    monkeypatch.chdir(tmp_path)
    out = runner.invoke(app, [a.format(tmp=tmp_path / "out") for a in args])
    assert out.exit_code == 2, out.output
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], out.stderr


@pytest.mark.parametrize(
    ("args", "option"),
    [(["rescore", "r"], "--scorer"), (["evolve"], "--out"), (["ppm", "pairs", "--out", "o"], "--runs"),
     (["ppm", "pairs", "--runs", "r"], "--out"), (["ppm", "train"], "--out"),
     (["ppm", "score", "d", "--steps", "s.json"], "--question")],
)  # fmt: skip
def test_a_required_field_is_a_required_option(args: list[str], option: str) -> None:
    out = runner.invoke(app, args)
    assert out.exit_code == 2 and f"Missing option '{option}'" in out.stderr, out.output


def test_choices_come_from_the_model() -> None:
    from thinktree.eval.rescore_config import RESCORE_RULES

    select = options(command("rescore"))["--select"]
    assert (select.metavar, select.default, RESCORE_RULES) == (
        "best|weighted", "best", ("best", "weighted"))  # fmt: skip


class Captured(Exception):
    """Stops evolve once its config is read."""


@pytest.fixture
def evolve_config(monkeypatch) -> list[object]:
    """Run `evolve` up to its Evolution: the config it was given, and no round run."""
    import thinktree.train.evolve.loop

    seen: list[object] = []

    def evolution(cfg, out_dir, reporter):
        seen.append(cfg)
        raise ValueError("captured")

    monkeypatch.setattr(thinktree.train.evolve.loop, "Evolution", evolution)
    return seen


def test_evolve_flags_override_the_yaml_file(tmp_path: Path, evolve_config) -> None:
    config = tmp_path / "evolve.yaml"
    config.write_text(
        "rounds: 5\npolicy: fast\npool:\n  size: 40\n  grow: 7\n  offset: 3\n"
        "reference:\n  enabled: true\n  problems: 9\nfanout:\n  max_attempts: 4\n"
        "store: from-yaml.db\nmax_minutes: 30\n"
    )
    out = runner.invoke(app, [
        "evolve", "--out", str(tmp_path / "out"), "--config", str(config), "--rounds", "1",
        "--bootstrap", "fast", "--pool-size", "12", "--pool-run", "run-0", "--no-reference",
        "--store", "flags.db", "--ray", "auto", "--workers", "3", "--max-minutes", "2.5",
        "--set", "sft.epochs=1",
    ])  # fmt: skip
    assert out.exit_code == 2 and "error: captured" in out.stderr, out.output
    (cfg,) = evolve_config
    assert (cfg.rounds, cfg.policy, cfg.bootstrap, cfg.pool_run) == (1, "fast", "fast", "run-0")
    assert (cfg.pool.size, cfg.pool.grow, cfg.pool.offset) == (12, 7, 3)
    assert (cfg.reference.enabled, cfg.reference.problems) == (False, 9)
    assert (cfg.fanout.ray, cfg.fanout.workers, cfg.fanout.max_attempts) == ("auto", 3, 4)
    assert (cfg.store, cfg.max_minutes, cfg.sft.epochs) == ("flags.db", 2.5, 1)


def test_evolve_without_flags_keeps_the_yaml_file(tmp_path: Path, evolve_config) -> None:
    config = tmp_path / "evolve.yaml"
    config.write_text("rounds: 5\npool:\n  size: 40\nreference:\n  enabled: true\n")
    out = runner.invoke(app, ["evolve", "--out", str(tmp_path / "out"), "--config", str(config)])
    assert out.exit_code == 2 and "error: captured" in out.stderr, out.output
    (cfg,) = evolve_config
    assert (cfg.rounds, cfg.pool.size, cfg.reference.enabled, cfg.store) == (5, 40, True, None)
    assert (cfg.policy, cfg.pool.grow, cfg.fanout.ray, cfg.max_minutes) == ("fast", 100, None, None)


def test_evolve_set_wins_over_a_flag_of_the_same_field(tmp_path: Path, evolve_config) -> None:
    out = runner.invoke(app, ["evolve", "--out", str(tmp_path / "out"), "--rounds", "1",
                              "--set", "rounds=3"])  # fmt: skip
    assert out.exit_code == 2 and "error: captured" in out.stderr, out.output
    assert evolve_config[0].rounds == 3


def test_ppm_train_defaults_are_the_evolve_rounds_head(monkeypatch, tmp_path: Path) -> None:
    """With no head option, `ppm train` trains the head evolve's rounds train (mlp, 32
    hidden units, 400 epochs, an ensemble of 5), on handcrafted features."""
    import thinktree.train.ppm.training

    seen: dict[str, object] = {}

    def train_ppm(db, runs, out, *, features, head, progress, seed_repeats):
        seen.update(features=features, head=head, seed_repeats=seed_repeats)
        raise ValueError("captured")

    monkeypatch.setattr(thinktree.train.ppm.training, "train_ppm", train_ppm)
    store = tmp_path / "s.db"
    from thinktree.store import RunStore

    RunStore(store).close()
    args = ["ppm", "train", "--runs", "r", "--out", str(tmp_path / "ppm"), "--store", str(store)]
    out = runner.invoke(app, args)
    assert out.exit_code == 2 and "error: captured" in out.stderr, out.output
    head = seen["head"]
    assert (head.kind, head.hidden, head.epochs, head.seed, head.ensemble) == (
        "mlp", 32, 400, 0, 5)  # fmt: skip
    assert seen["features"].to_dict()["kinds"] == ["handcrafted"]
    assert (seen["features"].model, seen["seed_repeats"]) == (None, 1)

    out = runner.invoke(app, [*args, "--head", "linear", "--hidden", "8", "--ensemble", "2",
                              "--epochs", "10", "--seed", "3", "--features", "embedding",
                              "--context", "last", "--backend", "llamacpp"])  # fmt: skip
    assert out.exit_code == 2 and "error: captured" in out.stderr, out.output
    head = seen["head"]
    assert (head.kind, head.hidden, head.epochs, head.seed, head.ensemble) == (
        "linear", 8, 10, 3, 2)  # fmt: skip
    assert seen["features"].to_dict() == {
        "kinds": ["embedding"], "model": "fast", "context": "last", "backend": "llamacpp",
        "handcrafted": list(FeatureSpec(("handcrafted",)).handcrafted),
    }  # fmt: skip


def test_ppm_score_reads_steps_as_the_policy_writes_them(monkeypatch, tmp_path: Path) -> None:
    import thinktree.reward.ppm

    seen = []

    class FakePPM:
        def score(self, items):
            seen.extend(items)
            return [0.5] * len(items)

        def close(self) -> None:
            pass

    monkeypatch.setattr(thinktree.reward.ppm, "load_ppm", lambda directory: FakePPM())
    steps = tmp_path / "steps.json"
    steps.write_text(json.dumps([{"code": "x = 1\nprint(x)", "output": "1"}, {"answer": "1"}]))
    out = runner.invoke(app, ["ppm", "score", "dir", "--question", "Q?", "--steps", str(steps)])
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout) == {"scores": [0.5, 0.5]}
    texts = [step.text for step in seen[-1].steps]
    assert texts == ["\n```python\nx = 1\nprint(x)\n```\n", "\nAnswer: \\boxed{1}"]
