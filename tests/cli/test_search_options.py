"""The search options of solve and eval are generated from SearchConfig."""

from __future__ import annotations

import pytest
import typer
from typer.testing import CliRunner

from thinktree.cli import app
from thinktree.engines.factory import EngineConfig
from thinktree.problems import ProblemSource
from thinktree.search import SearchConfig
from thinktree.search.identity import identity_of, run_identity, stored_aliases
from thinktree.search.mcts.options import MCTSOptions
from thinktree.search.registry import default_slots, resolved
from thinktree.search.sampling import SelfConsistencyOptions

runner = CliRunner()
OLD_FIELDS = {
    "strategy", "samples", "k", "temperature", "top_p", "max_step_tokens", "max_steps",
    "max_tokens", "max_seconds", "c_uct", "unvisited_first", "errors_threshold",
    "exec_timeout", "seed", "logprobs",
}  # fmt: skip


@pytest.mark.parametrize("command", ["solve", "eval"])
def test_every_search_config_field_is_an_option(command: str) -> None:
    click_command = typer.main.get_command(app).commands[command]  # type: ignore[attr-defined]
    params = {p.name: p for p in click_command.params}
    fields = {*SearchConfig.model_fields, *MCTSOptions.model_fields,
              *SelfConsistencyOptions.model_fields} - {"options"}  # fmt: skip
    assert len(fields) == 27 and fields <= set(params)
    for name in fields:
        assert "--" + name.replace("_", "-") in params[name].opts + params[name].secondary_opts
    assert params["samples"].opts == ["--samples", "--rollouts"]
    assert params["logprobs"].secondary_opts == ["--no-logprobs"]


@pytest.mark.parametrize("command", [["solve", "2+2?"], ["eval", "--benchmark", "gsm8k"]])
def test_search_options_reach_the_config(monkeypatch, command: list[str]) -> None:
    seen: list[SearchConfig] = []

    def capture(config: SearchConfig) -> int:
        seen.append(config)
        raise ValueError("captured")

    monkeypatch.setattr("thinktree.search.registry.default_slots", capture)
    out = runner.invoke(app, [*command, "--strategy", "mcts", "--rollouts", "6", "--k", "2",
                              "--tie-break", "random", "--resample", "2", "--invalid-backup",
                              "path", "--agreement", "earlier", "--settle", "beta",
                              "--settle-m", "4", "--settle-confidence", "0.9", "--c-uct", "1.5",
                              "--unvisited-first", "--top-p", "0.8", "--errors-threshold", "3",
                              "--max-seconds", "30", "--exec-timeout", "5", "--no-logprobs",
                              "--max-step-tokens", "128"])  # fmt: skip
    assert out.exit_code == 2 and "error: captured" in out.stderr, out.output
    assert seen[0].model_dump() == {
        **SearchConfig(strategy="mcts").model_dump(),
        "strategy": "mcts", "samples": 6, "k": 2, "tie_break": "random", "resample": 2,
        "invalid_backup": "path", "agreement": "earlier", "settle": "beta", "settle_m": 4,
        "settle_confidence": 0.9, "c_uct": 1.5, "unvisited_first": True, "top_p": 0.8,
        "errors_threshold": 3, "max_seconds": 30.0, "exec_timeout": 5.0, "logprobs": False,
        "max_step_tokens": 128, "expand": "lazy", "temperature": 0.7,
    }  # fmt: skip


@pytest.mark.parametrize(
    ("args", "expand", "unvisited_first", "temperature", "k", "invalid_backup"),
    [
        ([], "lazy", True, 0.7, 4, "visits"),
        (["--rollouts", "8"], "lazy", True, 0.7, 8, "visits"),
        (["--rollouts", "2"], "lazy", True, 0.7, 3, "visits"),
        (["--scorer", "outcome"], "all", False, None, 3, "local"),
        (["--expand", "all"], "all", False, None, 3, "local"),
        (["--expand", "all", "--unvisited-first"], "all", True, None, 3, "local"),
        (["--expand", "lazy", "--no-unvisited-first"], "lazy", False, 0.7, 4, "visits"),
        (["--scorer", "outcome", "--expand", "lazy"], "lazy", True, 0.7, 4, "visits"),
        (["--scorer", "outcome", "--no-unvisited-first"], "all", False, None, 3, "local"),
        (["--temperature", "1.0"], "lazy", True, 1.0, 4, "visits"),
        (["--k", "3", "--invalid-backup", "local"], "lazy", True, 0.7, 3, "local"),
        (["--scorer", "outcome", "--k", "5"], "all", False, None, 5, "local"),
    ],
)
def test_expansion_defaults_are_decided_by_the_scorer(
    monkeypatch,
    args: list[str],
    expand: str,
    unvisited_first: bool,
    temperature,
    k: int,
    invalid_backup: str,
) -> None:
    """Without a scorer MCTS expands lazily with the unsampled sibling first, at
    temperature 0.7, k as wide as the rollouts (at least 3) and visits backup; with one
    it expands fully under rStar's rule, at MCTS's default (None: 1.0), k = 3 and the
    local rule; a value given on the command line stands."""
    seen: list[SearchConfig] = []

    def capture(config: SearchConfig) -> int:
        seen.append(config)
        raise ValueError("captured")

    monkeypatch.setattr("thinktree.search.registry.default_slots", capture)
    out = runner.invoke(app, ["eval", "--benchmark", "gsm8k", "--strategy", "mcts", *args])
    assert out.exit_code == 2 and "error: captured" in out.stderr, out.output
    options = seen[0].options
    assert (options.expand, options.unvisited_first) == (expand, unvisited_first)
    assert seen[0].temperature == temperature
    assert (seen[0].k, options.invalid_backup) == (k, invalid_backup)


def test_an_unknown_scorer_is_said_before_the_search_is_built() -> None:
    out = runner.invoke(app, ["solve", "2+2?", "--strategy", "mcts", "--scorer", "oracle"])
    assert out.exit_code == 2
    assert out.stderr.strip().splitlines()[0].startswith("error: unknown scorer 'oracle'")


def test_settling_by_a_decided_vote_is_refused_for_a_fully_expanded_tree() -> None:
    args = ["solve", "2+2?", "--strategy", "mcts", "--settle", "decided", "--expand", "all"]
    out = runner.invoke(app, args)
    assert out.exit_code == 2
    assert out.stderr.strip().splitlines() == [
        "error: --settle decided needs mcts to answer by vote, one answer a rollout: "
        "no scorer, lazy expansion and --agreement all (or use agree or beta)"
    ]
    with pytest.raises(ValueError, match="one answer a rollout"):
        resolved(SearchConfig(strategy="mcts", settle="decided", expand="all"), scored=False)


def test_settling_on_confidence_without_log_probabilities_is_refused() -> None:
    args = ["solve", "2+2?", "--strategy", "sc", "--settle", "confident", "--no-logprobs"]
    out = runner.invoke(app, args)
    assert out.exit_code == 2
    assert out.stderr.strip().splitlines() == [
        "error: --settle confident reads token log-probabilities; drop --no-logprobs"
    ]


def test_a_step_floor_is_refused_where_there_are_no_sc_samples_to_drop() -> None:
    out = runner.invoke(app, ["solve", "2+2?", "--strategy", "mcts", "--step-floor", "0.69"])
    assert out.exit_code == 2
    assert out.stderr.strip().splitlines() == [
        "error: --step-floor drops unsure sc samples; mcts has none to drop"
        " (use --strategy sc or leave it out)"
    ]


def test_resolution_is_per_strategy_and_idempotent() -> None:
    auto = SearchConfig(strategy="mcts")
    assert (auto.options.expand, auto.options.unvisited_first, auto.is_resolved) == (
        "auto", None, False
    )  # fmt: skip
    lazy = resolved(auto, scored=False)
    assert (lazy.options.expand, lazy.options.unvisited_first, lazy.k) == ("lazy", True, 4)
    assert lazy.options.invalid_backup == "visits"
    assert resolved(lazy, scored=True) is lazy
    full = resolved(auto, scored=True)
    assert (full.options.expand, full.options.unvisited_first, full.k) == ("all", False, 3)
    assert full.options.invalid_backup == "local"
    # Strategies without MCTS's options resolve only k, and their stored runs record
    # MCTS's two original fields as they always did.
    for strategy in ("greedy", "sc", "best_of_n", "beam"):
        other = resolved(SearchConfig(strategy=strategy), scored=False)
        assert (other.k, other.is_resolved) == (3, True)
        identity = run_identity(other, scored=False)
        assert (identity["c_uct"], identity["unvisited_first"]) == (2.0, False)
    # Half a resolution (a width without the rest) is still unresolved.
    half = SearchConfig(strategy="mcts", expand="lazy", unvisited_first=True, k=3)
    assert not half.is_resolved
    with pytest.raises(ValueError, match="resolve it first"):
        identity_of(auto, frozenset())
    with pytest.raises(ValueError, match="resolve the config first"):
        default_slots(auto)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--tie-break", "sideways"], "tie_break: Input should be 'first' or 'random'"),
        (["--settle-m", "1"], "settle_m: Input should be greater than or equal to 2"),
        (["--top-p", "0"], "top_p: Input should be greater than 0"),
        (["--invalid-backup", "up"], "invalid_backup: Input should be 'local', 'path' or 'visits'"),
        (["--k", "0"], "k: Input should be greater than or equal to 1"),
        (["--step-floor", "1"], "step_floor: Input should be less than 1"),
    ],
)
def test_bad_search_options_are_one_line(args: list[str], message: str) -> None:
    out = runner.invoke(app, ["solve", "2+2?", *args])
    assert out.exit_code == 2
    assert out.stderr.strip().splitlines() == [f"error: {message}"]


def test_identity_keeps_old_fingerprints() -> None:
    """Fields added later are left out of a run's identity at their old behaviour, and
    everywhere a strategy never reads them."""
    assert set(run_identity(SearchConfig(strategy="sc"), scored=False)) == OLD_FIELDS
    old_rule = SearchConfig(strategy="mcts", agreement="earlier", tie_break="first", expand="all")
    assert set(run_identity(old_rule, scored=False)) == OLD_FIELDS
    assert set(run_identity(old_rule, scored=True)) == OLD_FIELDS
    # A scored search's defaults resolve to full expansion: its old identity.
    scored_rule = SearchConfig(strategy="mcts", tie_break="first")
    assert set(run_identity(scored_rule, scored=True)) == OLD_FIELDS
    assert run_identity(scored_rule, scored=True)["unvisited_first"] is False
    # Ties, resampling, lazy expansion and invalid backup are MCTS's: others refuse them
    # where they would change anything, and keep their identity at the values that do not.
    mcts_rules = {"resample": 2, "invalid_backup": "path", "expand": "lazy", "c_uct": 1.0}
    for strategy in ("greedy", "sc", "best_of_n", "beam"):
        for name, value in mcts_rules.items():
            with pytest.raises(ValueError, match=f"{strategy} does not read it"):
                SearchConfig(strategy=strategy, **{name: value})
        inert = {"tie_break": "first", "agreement": "earlier", "expand": "all", "c_uct": 2.0}
        config = SearchConfig(strategy=strategy, unvisited_first=False, **inert)
        assert set(run_identity(config, scored=True)) == OLD_FIELDS
    # The new defaults change MCTS's results: such runs get a new identity.
    assert set(run_identity(SearchConfig(strategy="mcts"), scored=False)) == OLD_FIELDS | {
        "agreement", "tie_break", "expand", "repeat_answers", "invalid_backup"
    }  # fmt: skip
    assert run_identity(SearchConfig(strategy="mcts"), scored=False)["repeat_answers"] == "vote"
    dropping = SearchConfig(strategy="mcts", repeat_answers="drop")
    assert "repeat_answers" not in run_identity(dropping, scored=False)
    # Full expansion never samples an answer again: the field is unread there.
    assert "repeat_answers" not in run_identity(SearchConfig(strategy="mcts"), scored=True)
    full = SearchConfig(strategy="mcts", expand="all")
    assert "repeat_answers" not in run_identity(full, scored=False)
    lazy_identity = run_identity(SearchConfig(strategy="mcts"), scored=False)
    assert (lazy_identity["expand"], lazy_identity["unvisited_first"]) == ("lazy", True)
    changed = SearchConfig(strategy="mcts", tie_break="random", settle="agree", expand="lazy")
    assert run_identity(changed, scored=True)["tie_break"] == "random"
    assert run_identity(changed, scored=True)["expand"] == "lazy"
    assert run_identity(changed, scored=True)["settle"] == "agree"


def test_the_confident_threshold_is_in_the_fingerprint_only_of_confident_runs() -> None:
    """The default threshold moved from 0.88 to 0.87: a confident run at it gets a new
    identity, one at 0.88 finds the runs stored before, and runs under any other settle
    rule (which never read it) keep theirs."""
    confident = SearchConfig(strategy="sc", settle="confident")
    assert run_identity(confident, scored=False)["settle_token_probability"] == 0.87
    stored = SearchConfig(strategy="sc", settle="confident", settle_token_probability=0.88)
    assert "settle_token_probability" not in run_identity(stored, scored=False)
    for settle in ("off", "agree", "beta", "decided"):
        config = SearchConfig(strategy="sc", settle=settle, settle_token_probability=0.5)
        assert "settle_token_probability" not in run_identity(config, scored=False)


def test_a_changed_default_temperature_is_named_in_the_fingerprint() -> None:
    """MCTS's stored runs wrote its former default (0.7) as null: a run at the new
    default (1.0) names it, and a run at 0.7 also finds the stored null ones."""
    assert run_identity(SearchConfig(strategy="mcts"), scored=True)["temperature"] == 1.0
    assert stored_aliases(SearchConfig(strategy="mcts"), scored=True) == []
    at_former = SearchConfig(strategy="mcts", temperature=0.7)
    assert run_identity(at_former, scored=True)["temperature"] == 0.7
    (alias,) = stored_aliases(at_former, scored=True)
    assert alias == {**run_identity(at_former, scored=True), "temperature": None}
    # Strategies whose default never changed keep a null temperature and no alias.
    assert run_identity(SearchConfig(strategy="sc"), scored=False)["temperature"] is None
    assert stored_aliases(SearchConfig(strategy="sc", temperature=0.7), scored=False) == []


def test_the_cell_prelude_is_in_the_fingerprint_only_when_on() -> None:
    """Runs stored before the prelude existed ran without it: off keeps their identity."""
    for strategy in ("greedy", "sc", "mcts"):
        assert "cell_prelude" not in run_identity(SearchConfig(strategy=strategy), scored=False)
        on = SearchConfig(strategy=strategy, cell_prelude=True)
        assert run_identity(on, scored=False)["cell_prelude"] is True


def test_the_cell_prelude_is_an_eval_option() -> None:
    out = runner.invoke(app, ["eval", "--help"], env={"COLUMNS": "200"})
    assert out.exit_code == 0
    assert "--cell-prelude" in out.stdout and "--no-cell-prelude" in out.stdout


def test_help_comes_from_the_field_docstrings() -> None:
    out = runner.invoke(app, ["eval", "--help"], env={"COLUMNS": "200"})
    assert out.exit_code == 0
    assert "extra sampling rounds for a node whose deduplicated children" in out.stdout


@pytest.mark.parametrize(
    ("command", "config", "exclude"),
    [
        ("solve", EngineConfig, {"api_key"}),
        ("eval", EngineConfig, {"api_key"}),
        ("serve", EngineConfig, {"api_key"}),
        ("eval", ProblemSource, set()),
    ],
)
def test_every_engine_and_source_field_is_an_option(command, config, exclude) -> None:
    click_command = typer.main.get_command(app).commands[command]  # type: ignore[attr-defined]
    params = {p.name: p for p in click_command.params}
    assert set(config.model_fields) - exclude <= set(params)
    assert params["kind" if config is EngineConfig else "offset"].opts[0] in (
        "--engine",
        "--offset",
    )


@pytest.mark.parametrize(
    "command", [["solve", "2+2?"], ["eval", "--benchmark", "gsm8k"], ["serve"]]
)
def test_engine_options_reach_the_config(monkeypatch, command: list[str]) -> None:
    seen: list[EngineConfig] = []

    def capture(config: EngineConfig, **_: object) -> None:
        seen.append(config)
        raise ValueError("captured")

    monkeypatch.setattr("thinktree.api.open_runtime", capture)
    monkeypatch.setattr("thinktree.eval.fanout.backend.open_runtime", capture)
    out = runner.invoke(app, [*command, "--engine", "openai", "-m", "served", "--base-url",
                              "http://h:1", "--ctx-per-slot", "2048", "--timeout", "5",
                              "--max-retries", "1", "--threads", "1", "--cache-ram-mib", "0",
                              "--verbose"])  # fmt: skip
    assert out.exit_code == 2 and "error: captured" in out.output, out.output
    assert seen[0].model_dump() == {
        "kind": "openai", "model": "served", "base_url": "http://h:1", "api_key": None,
        "parallel": 4, "ctx_per_slot": 2048, "threads": 1, "cache_ram_mib": 0,
        "timeout": 5.0, "max_retries": 1, "verbose": True, "chat_template": None,
        "policy": None,
    }  # fmt: skip


def test_problem_source_options_reach_the_slice(tmp_path) -> None:
    data = tmp_path / "p.jsonl"
    data.write_text("".join(f'{{"q": "{i}+{i}?", "a": {2 * i}, "n": "p{i}"}}\n' for i in range(5)))
    out = runner.invoke(app, ["eval", "--data", str(data), "--question-field", "q",
                              "--answer-field", "a", "--id-field", "n", "--offset", "4",
                              "--limit", "2", "--strategy", "nope"])  # fmt: skip
    assert out.stderr.strip().splitlines() == [
        "error: unknown strategy 'nope'; choose one of beam, best_of_n, chat_cot, greedy, mcts, sc"
    ]
    out = runner.invoke(app, ["eval", "--data", str(data), "--question-field", "q",
                              "--answer-field", "a", "--offset", "5", "--limit", "2"])  # fmt: skip
    assert out.stderr.strip().splitlines() == [
        "error: the slice holds no problems; check --offset/--limit"
    ]
    out = runner.invoke(app, ["eval", "--data", str(data), "--limit", "0"])
    assert out.stderr.strip().splitlines() == [
        "error: limit: Input should be greater than or equal to 1"
    ]


@pytest.mark.parametrize("strategy", ["greedy", "sc", "best_of_n", "beam", "mcts"])
def test_a_config_dumps_flat_and_builds_again(strategy: str) -> None:
    """Flat names in, flat names out: a dump (stored manifests, the evolve YAML, the
    Python API's ``config`` plus keyword options) builds the same config."""
    config = SearchConfig(strategy=strategy, samples=6, seed=3)
    assert "options" not in config.model_dump()
    assert SearchConfig(**config.model_dump()) == config
    resolved_config = resolved(config, scored=False)
    assert SearchConfig(**resolved_config.model_dump()) == resolved_config


def test_a_config_written_out_whole_still_loads() -> None:
    """benchmarks/recipes/evolve/config.yaml's greedy dev search names MCTS's fields at values that
    change nothing for greedy: they load, and greedy's fingerprint is as it was."""
    pinned = {"strategy": "greedy", "samples": 4, "k": 3, "temperature": None, "top_p": 0.95,
              "c_uct": 2.0, "unvisited_first": False, "expand": "all", "errors_threshold": 2,
              "agreement": "all", "tie_break": "first", "resample": 0,
              "invalid_backup": "local", "settle": "off", "seed": 0}  # fmt: skip
    config = SearchConfig(**pinned)
    assert config.options == SearchConfig().options  # greedy has no options of its own
    assert set(run_identity(config, scored=False)) == OLD_FIELDS


def test_another_strategys_option_is_refused_in_one_line() -> None:
    out = runner.invoke(app, ["solve", "2+2?", "--strategy", "sc", "--c-uct", "1.5"])
    assert out.exit_code == 2
    assert out.stderr.strip().splitlines() == [
        "error: --c-uct is an option of mcts; sc does not read it"
        " (use --strategy mcts or leave it out)"
    ]
    out = runner.invoke(app, ["solve", "2+2?", "--strategy", "greedy", "--settle", "agree"])
    assert out.stderr.strip().splitlines() == [
        "error: --settle agree: greedy does not settle early"
        " (use --strategy sc or mcts or leave it out)"
    ]


LAZY_NOTE = (
    "note: without a learned scorer mcts's rollouts are independent samples, as sc's; "
    "give it one with --scorer ppm:DIR"
)
FULL_NOTE = (
    "note: without a learned scorer mcts values its answers by their agreement alone, "
    "no verifier; give it one with --scorer ppm:DIR"
)


@pytest.mark.parametrize("command", [["solve", "2+2?"], ["eval", "--benchmark", "gsm8k"]])
@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--strategy", "mcts"], [LAZY_NOTE]),
        (["--strategy", "mcts", "--expand", "all"], [FULL_NOTE]),
        (["--strategy", "mcts", "--scorer", "ppm:/no/such/ppm"], []),
        (["--strategy", "mcts", "--scorer", "outcome", "--gold", "4"], []),
        (["--strategy", "sc"], []),
    ],
)
def test_mcts_without_a_learned_scorer_says_what_its_rollouts_are(
    monkeypatch, command: list[str], args: list[str], said: list[str]
) -> None:
    """One line on stderr, before anything is loaded; none with a scorer or for sc."""

    def stop(config: SearchConfig) -> int:
        raise ValueError("stopped")

    monkeypatch.setattr("thinktree.search.registry.default_slots", stop)
    if command[0] == "eval" and "--gold" in args:
        args = args[:-2]
    out = runner.invoke(app, [*command, *args])
    assert out.exit_code == 2, out.output
    assert out.stderr.strip().splitlines() == [*said, "error: stopped"]
