"""The evolve config: YAML, flag overrides, one-line errors; pool bounds; the round ledger."""

from __future__ import annotations

import pytest

from thinktree.cli.evolve_cmd import parse_set
from thinktree.train.evolve.config import EvolveConfig, load_evolve_config
from thinktree.train.evolve.ledger import RoundLedger


def test_defaults_have_rstar_shape_scaled_down() -> None:
    cfg = EvolveConfig()
    assert (cfg.rounds, cfg.policy, cfg.bootstrap) == (2, "fast", "base")
    assert (cfg.pool.size, cfg.pool.grow, cfg.per_problem) == (300, 100, 2)
    assert cfg.bootstrap_search.strategy == "mcts" and cfg.bootstrap_search.temperature is None
    assert cfg.evolved_search.temperature == 1.0
    assert (cfg.sft.epochs, cfg.dev.greedy_limit, cfg.dev.mcts_limit) == (2.0, 100, 50)


def test_the_default_bootstrap_search_is_what_eval_runs() -> None:
    """Round 0 finds a run made by `thinktree eval --strategy mcts --rollouts 4 --k 3`."""
    from thinktree.search import SearchConfig

    eval_config = SearchConfig(strategy="mcts", samples=4, k=3)
    assert EvolveConfig().bootstrap_search.model_dump() == eval_config.model_dump()


def test_yaml_then_overrides(tmp_path) -> None:
    path = tmp_path / "evolve.yaml"
    path.write_text("rounds: 1\npool:\n  size: 5\nsft:\n  epochs: 1\n")
    cfg = load_evolve_config(path, {"pool.grow": 3, "sft.max_steps": 4, "rounds": 2})
    assert (cfg.rounds, cfg.pool.size, cfg.pool.grow) == (2, 5, 3)
    assert (cfg.sft.epochs, cfg.sft.max_steps) == (1.0, 4)


def test_pool_bounds_per_round() -> None:
    pool = EvolveConfig(pool={"offset": 10, "size": 300, "grow": 100}).pool
    assert [pool.bounds(r) for r in range(3)] == [(10, 310), (310, 410), (410, 510)]


@pytest.mark.parametrize(
    ("text", "overrides", "message"),
    [
        ("rounds: -1\n", {}, "evolve config: rounds: Input should be greater than or equal to 0"),
        ("sft:\n  rank: 0\n", {}, "evolve config: sft.rank:"),
        ("bogus: 1\n", {}, "evolve config: bogus: Extra inputs are not permitted"),
        ("- a\n- b\n", {}, "must hold a mapping of options, not list"),
        ("rounds: [\n", {}, "is not valid YAML"),
        ("", {"bootstrap_search.strategy": "sc"}, "bootstrap_search.strategy must be mcts"),
        ("", {"evolved_search.strategy": "nope"}, "unknown strategy 'nope'"),
    ],
)
def test_bad_config_gives_one_line_errors(tmp_path, text, overrides, message) -> None:
    path = tmp_path / "evolve.yaml"
    path.write_text(text)
    with pytest.raises(ValueError, match=message.replace("[", r"\[")) as info:
        load_evolve_config(path, overrides)
    assert "\n" not in str(info.value)


def test_missing_config_file(tmp_path) -> None:
    with pytest.raises(ValueError, match=r"config file .*nope.yaml does not exist"):
        load_evolve_config(tmp_path / "nope.yaml")


def test_set_flags_parse_yaml_values() -> None:
    assert parse_set(["sft.epochs=1", "reference.enabled=true", "pool_run=abc"]) == {
        "sft.epochs": 1,
        "reference.enabled": True,
        "pool_run": "abc",
    }
    with pytest.raises(ValueError, match="--set expects KEY=VALUE"):
        parse_set(["sft.epochs"])


def test_ledger_records_finished_stages_atomically(tmp_path) -> None:
    ledger = RoundLedger.open(tmp_path / "round-1", 1, {"parent": 0})
    assert not ledger.done("sft")
    ledger.finish("sft", {"tokens": 5})
    ledger.record_data("sft_sha256", "abc")
    again = RoundLedger.open(tmp_path / "round-1", 1, {"parent": 99})
    assert again.done("sft") and again.figures("sft")["tokens"] == 5
    assert again.data["parent"] == 0 and again.data["data"] == {"sft_sha256": "abc"}
    assert not list((tmp_path / "round-1").glob("*.tmp"))
    (tmp_path / "round-1" / "manifest.json").write_text("{")
    with pytest.raises(ValueError, match="is damaged"):
        RoundLedger.open(tmp_path / "round-1", 1, {})


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--set", "rounds=-1"], "error: evolve config: rounds: Input should be greater than"),
        (["--set", "sft.epochs"], "error: --set expects KEY=VALUE"),
        (["--config", "/nonexistent.yaml"], "error: config file /nonexistent.yaml does not exist"),
        (["--policy", "gpt-5"], "error: policy 'gpt-5' is not an embedded model"),
    ],
)
def test_evolve_command_bad_input_is_one_line(tmp_path, args, message) -> None:
    from typer.testing import CliRunner

    from thinktree.cli import app

    result = CliRunner().invoke(app, ["evolve", "--out", str(tmp_path / "out"), *args])
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(message), result.output
