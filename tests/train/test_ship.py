"""Shipping an evolve round as the embedded policy, and naming PPMs by policy."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from thinktree.models import ModelError, find_embedded
from thinktree.models.policy import Policy, read_policy, write_policy
from thinktree.reward import registry
from thinktree.train.export.ship import restore_shipped_round, ship_round

FAST = find_embedded("fast")
assert FAST is not None
ADAPTER = b"adapter bytes"
STAGES = {
    "sft_data": {"trajectories": 431},
    "export": {"adapter": "adapter.gguf", "adapter_sha256": hashlib.sha256(ADAPTER).hexdigest()},
    "parity": {"agree": 0.98, "base_agree": 0.7, "positions": 256},
    "ppm": {"pairs": 900},
    "dev_greedy": {"accuracy": 0.31, "n": 100},
    "dev_mcts": {"accuracy": 0.36, "n": 50},
}


def make_round(directory: Path, stages: dict = STAGES, ppm: bool = True) -> Path:
    directory.mkdir(parents=True)
    (directory / "adapter.gguf").write_bytes(ADAPTER)
    write_policy(
        Policy(
            directory=directory,
            name=directory.name,
            base=FAST.name,
            base_sha256=FAST.sha256,
            adapter=directory / "adapter.gguf",
            adapter_sha256=hashlib.sha256(ADAPTER).hexdigest(),
            prompt_style="zero-shot",
            provenance={"round": 1, "sft_trajectories": 431},
        )
    )
    manifest = {
        "round": 1,
        "config": {"pool": {"benchmark": "gsm8k", "split": "train", "size": 300}},
        "stages": stages,
    }
    (directory / "manifest.json").write_text(json.dumps(manifest))
    if ppm:
        (directory / "ppm").mkdir()
        (directory / "ppm" / "ppm.json").write_text("{}")
        (directory / "ppm" / "head.npz").write_bytes(b"head")
        (directory / "ppm" / "pairs.jsonl").write_text("{}\n")
        (directory / "ppm" / "checkpoint-0.pt").write_bytes(b"state")
    return directory


def test_a_whole_round_ships_with_its_provenance_and_ppm(tmp_path) -> None:
    source = make_round(tmp_path / "evo" / "round-1")
    dest = tmp_path / "pkg" / "evolved"
    policy = ship_round(source, dest)
    assert sorted(p.name for p in dest.iterdir()) == ["adapter.gguf", "policy.json", "ppm"]
    assert (dest / "ppm" / "head.npz").read_bytes() == b"head"
    assert sorted(p.name for p in (dest / "ppm").iterdir()) == ["head.npz", "ppm.json"]
    assert policy.adapter == dest / "adapter.gguf"
    assert policy.adapter_sha256 == hashlib.sha256(ADAPTER).hexdigest()
    assert policy.base == FAST.name and policy.prompt_style == "zero-shot"
    assert policy.provenance == {
        "round": 1,
        "sft_trajectories": 431,
        "data": "gsm8k train, 431 trajectories",
        "dev_greedy": "31.0% of 100",
        "dev_mcts": "36.0% of 50",
        "parity": "98.0% of 256 tokens",
    }
    assert sorted(p.name for p in dest.parent.iterdir()) == ["evolved"]  # no staging left


def test_shipping_again_replaces_the_old_policy_whole(tmp_path) -> None:
    dest = tmp_path / "evolved"
    ship_round(make_round(tmp_path / "a" / "round-1"), dest)
    (dest / "stale.txt").write_text("from the old policy")
    ship_round(make_round(tmp_path / "b" / "round-2"), dest)
    assert not (dest / "stale.txt").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b", "evolved"]
    assert read_policy(dest).adapter_sha256 == hashlib.sha256(ADAPTER).hexdigest()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: (d / "manifest.json").unlink(), "holds no manifest.json"),
        (
            lambda d: _edit_manifest(d, lambda m: m["stages"].pop("dev_mcts")),
            r"not finished \(dev_mcts not done\)",
        ),
        (lambda d: shutil.rmtree(d / "ppm"), "has no trained PPM"),
        (lambda d: (d / "ppm" / "head.npz").unlink(), "has no trained PPM"),
        (lambda d: _edit_manifest(d, lambda m: m.update(round=0)), "is round 0, the base model"),
    ],
)
def test_an_unfinished_round_is_refused_and_nothing_is_written(tmp_path, change, message) -> None:
    source = make_round(tmp_path / "round-1")
    change(source)
    with pytest.raises(ValueError, match=message):
        ship_round(source, tmp_path / "out" / "evolved")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_an_adapter_above_the_bound_or_edited_is_refused(tmp_path) -> None:
    source = make_round(tmp_path / "round-1")
    with pytest.raises(ValueError, match="above the package's"):
        ship_round(source, tmp_path / "evolved", max_adapter_bytes=len(ADAPTER) - 1)
    (source / "adapter.gguf").write_bytes(b"edited")
    with pytest.raises(ModelError, match=r"does not match its policy\.json"):
        ship_round(source, tmp_path / "evolved")
    assert not (tmp_path / "evolved").exists()


def _edit_manifest(directory: Path, edit) -> None:
    manifest = json.loads((directory / "manifest.json").read_text())
    edit(manifest)
    (directory / "manifest.json").write_text(json.dumps(manifest))


def test_ppm_names_a_directory_a_round_or_the_embedded_one(tmp_path, monkeypatch) -> None:
    source = make_round(tmp_path / "round-1")
    assert registry._directory(str(source)) == source / "ppm"
    assert registry._directory(str(source / "ppm")) == source / "ppm"
    monkeypatch.setattr(registry, "embedded_ppm_dir", lambda: tmp_path / "absent")
    with pytest.raises(ValueError, match="ships no evolved PPM yet"):
        registry.load_scorer("ppm:evolved")
    monkeypatch.setattr(registry, "embedded_ppm_dir", lambda: source / "ppm")
    assert registry._directory("evolved") == source / "ppm"


def test_models_list_shows_the_shipped_policy_with_its_provenance(tmp_path, monkeypatch) -> None:
    from typer.testing import CliRunner

    from thinktree.cli import app
    from thinktree.models import policy as policy_module

    dest = tmp_path / "evolved"
    monkeypatch.setattr(policy_module, "embedded_policy_dir", lambda: dest)
    runner = CliRunner(env={"COLUMNS": "400"})
    before = runner.invoke(app, ["models", "list"])
    assert before.exit_code == 0 and "not shipped in this version" in before.stdout
    source = make_round(tmp_path / "round-1")
    manifest = json.loads((source / "policy.json").read_text())
    manifest["provenance"]["sft_sha256"] = "ab" * 32
    (source / "policy.json").write_text(json.dumps(manifest))
    ship_round(source, dest)
    row = next(
        line for line in runner.invoke(app, ["models", "list"]).stdout.splitlines()
        if line.strip("│ ").startswith("evolved")
    )  # fmt: skip
    assert "LoRA over qwen2.5-coder-0.5b-instruct, zero-shot; round 1" in row
    assert (
        "data gsm8k train, 431 trajectories, dev_greedy 31.0% of 100, dev_mcts 36.0% of 50" in row
    )
    assert "abab" not in row


def ledger_only(out: Path, trained: Path) -> Path:
    """``out`` as a fresh machine sees it: round 1's ledger restored from git, no weights."""
    (out / "round-1").mkdir(parents=True)
    shutil.copy2(trained / "manifest.json", out / "round-1" / "manifest.json")
    return out


def test_a_shipped_round_comes_back_into_its_round_on_a_fresh_machine(tmp_path) -> None:
    trained = make_round(tmp_path / "trained" / "round-1")
    shipped = tmp_path / "evolved"
    ship_round(trained, shipped)
    out = ledger_only(tmp_path / "fresh", trained)
    said = restore_shipped_round(out, shipped)
    assert said == f"restored {out / 'round-1'} (adapter, policy, PPM) from {shipped}"
    policy = read_policy(out / "round-1")
    assert policy.adapter.read_bytes() == ADAPTER
    assert policy.provenance["round"] == 1
    assert sorted(p.name for p in (out / "round-1" / "ppm").iterdir()) == ["head.npz", "ppm.json"]
    assert restore_shipped_round(out, shipped) is None  # already whole: nothing to do


def test_restore_never_takes_another_adapter_for_the_rounds_own(tmp_path) -> None:
    trained = make_round(tmp_path / "trained" / "round-1")
    shipped = tmp_path / "evolved"
    ship_round(trained, shipped)
    out = ledger_only(tmp_path / "fresh", trained)
    manifest = json.loads((out / "round-1" / "manifest.json").read_text())
    manifest["stages"]["export"]["adapter_sha256"] = "0" * 64  # a retrained round 1
    (out / "round-1" / "manifest.json").write_text(json.dumps(manifest))
    said = restore_shipped_round(out, shipped)
    assert (
        said == f"{shipped} is not {out / 'round-1'}'s adapter (sha256 differs); nothing restored"
    )
    assert sorted(p.name for p in (out / "round-1").iterdir()) == ["manifest.json"]
    (shipped / "adapter.gguf").write_bytes(b"corrupted")  # and a damaged shipped file
    manifest["stages"]["export"]["adapter_sha256"] = hashlib.sha256(ADAPTER).hexdigest()
    (out / "round-1" / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ModelError, match=r"does not match its policy\.json"):
        restore_shipped_round(out, shipped)
    assert not (out / "round-1" / "policy.json").exists()


def test_restore_with_nothing_shipped_or_no_ledger_does_nothing(tmp_path) -> None:
    trained = make_round(tmp_path / "trained" / "round-1")
    assert restore_shipped_round(ledger_only(tmp_path / "a", trained), tmp_path / "absent") is None
    shipped = tmp_path / "evolved"
    ship_round(trained, shipped)
    assert restore_shipped_round(tmp_path / "b", shipped) is None  # no round-1 ledger there
    assert not (tmp_path / "b").exists()


def test_restore_skips_a_shipped_policy_over_another_base(tmp_path) -> None:
    """The 1.5B's evolve run finds the `evolved` slot (a LoRA over the 0.5B) holding a
    round 1 too: not its own, so it is left alone, and silently."""
    trained = make_round(tmp_path / "trained" / "round-1")
    shipped = tmp_path / "evolved"
    ship_round(trained, shipped)
    out = ledger_only(tmp_path / "fresh", trained)
    over = read_policy(shipped).base
    assert restore_shipped_round(out, shipped, base="qwen2.5-coder-1.5b-instruct") is None
    assert sorted(p.name for p in (out / "round-1").iterdir()) == ["manifest.json"]
    said = restore_shipped_round(out, shipped, base=over)
    assert said == f"restored {out / 'round-1'} (adapter, policy, PPM) from {shipped}"


@pytest.mark.parametrize(("policy", "restored"), [("fast", True), ("default", False)])
def test_an_evolve_recipe_restores_the_slot_over_the_model_it_evolves(
    monkeypatch, tmp_path, policy: str, restored: bool
) -> None:
    """The `evolved` slot holds round 1 over the 0.5B and `default` nothing: the 0.5B's
    recipe gets its round back, the 1.5B's recipe (policy: default) finds no slot of its
    own and restores nothing."""
    from types import SimpleNamespace

    import thinktree.models.policy as policy_module
    from thinktree.cli.bench_cmd import _restore_shipped
    from thinktree.eval.bench.recipe import EvolveSpec

    trained = make_round(tmp_path / "trained" / "round-1")
    ship_round(trained, tmp_path / "package" / "evolved")
    monkeypatch.setattr(policy_module, "embedded_policy_dir", lambda: tmp_path / "package/evolved")
    monkeypatch.setattr(policy_module, "default_policy_dir", lambda: tmp_path / "package/default")
    ledger_only(tmp_path / "out", trained)
    (tmp_path / "evolve.yaml").write_text(f"policy: {policy}\n")
    spec = SimpleNamespace(evolve=EvolveSpec(config="evolve.yaml", out="out", ledgers="l"))
    said = _restore_shipped(spec, tmp_path)
    round_dir = tmp_path / "out" / "round-1"
    assert said == ([f"restored {round_dir} (adapter, policy, PPM) from "
                     f"{tmp_path / 'package/evolved'}"] if restored else [])  # fmt: skip
    assert (round_dir / "policy.json").is_file() == restored
