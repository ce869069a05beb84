"""`thinktree models ship OUT/round-r --name default`: a round of the 1.5B becomes the
model `default` serves (and `ppm:default` scores with its PPM); a round over another
base file, an adapter above 40 MB in either slot, or a `ppm:default` with none shipped
is refused in one line."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.train.test_ship import ADAPTER, STAGES, make_round
from thinktree.cli import app
from thinktree.models import catalog, find_embedded
from thinktree.models import policy as policy_module
from thinktree.models import resolve as resolve_module
from thinktree.models.resolve import resolve_model
from thinktree.reward import registry
from thinktree.train.export import ship

BASE = find_embedded("base")
FAST = find_embedded("fast")
assert BASE is not None and FAST is not None
SKIPPED = {**STAGES, "ppm": {"pairs": None, "skipped": "12 pairs, too few to fit a head"}}


@pytest.fixture
def package(monkeypatch, tmp_path: Path) -> Path:
    """The package's models directory in tmp_path: both slots empty, the 1.5B's file a
    stand-in that needs no assembly."""
    package = tmp_path / "package"
    package.mkdir()
    for name in ("default", "evolved"):
        slot = dataclasses.replace(ship.PACKAGE_SLOTS[name], directory=lambda n=name: package / n)
        monkeypatch.setitem(ship.PACKAGE_SLOTS, name, slot)
    for module in (policy_module, resolve_module, registry):
        monkeypatch.setattr(module, "default_policy_dir", lambda: package / "default")
    monkeypatch.setattr(policy_module, "embedded_policy_dir", lambda: package / "evolved")
    monkeypatch.setattr(resolve_module, "embedded_policy_dir", lambda: package / "evolved")
    monkeypatch.setattr(registry, "embedded_ppm_dir", lambda: package / "evolved" / "ppm")
    base_file = tmp_path / "base.gguf"
    base_file.write_bytes(b"GGUF")
    monkeypatch.setattr(resolve_module, "assemble", lambda model, progress=None: base_file)
    monkeypatch.setattr(catalog, "is_assembled", lambda model: False)
    return package


def round_over(directory: Path, base: str, sha256: str | None, **kwargs) -> Path:
    """An evolve round (tests/train/test_ship.py's) whose adapter was trained over ``base``."""
    make_round(directory, **kwargs)
    policy = json.loads((directory / "policy.json").read_text())
    policy.update(base=base, base_sha256=sha256)
    (directory / "policy.json").write_text(json.dumps(policy))
    return directory


def _ship(*args: str):
    return CliRunner().invoke(app, ["models", "ship", *args])


def test_a_round_of_the_1_5b_becomes_what_default_serves(tmp_path: Path, package: Path) -> None:
    source = round_over(tmp_path / "evolve" / "round-2", BASE.name, BASE.sha256)
    result = _ship(str(source), "--name", "default")
    assert result.exit_code == 0, result.output
    slot = package / "default"
    assert result.stdout.splitlines() == [
        f"shipped {source} as {slot} (0.0 MB adapter)",
        "data gsm8k train, 431 trajectories, dev_greedy 31.0% of 100, dev_mcts 36.0% of 50, "
        "parity 98.0% of 256 tokens, round 1, sft_trajectories 431",
    ]
    assert sorted(p.name for p in slot.iterdir()) == ["adapter.gguf", "policy.json", "ppm"]
    assert sorted(p.name for p in package.iterdir()) == ["default"]  # no staging left

    served = resolve_model(None)
    assert (served.name, served.adapter, served.prompt_style) == (
        "default", slot / "adapter.gguf", "zero-shot",
    )  # fmt: skip
    assert (served.sha256, served.adapter_sha256) == (
        BASE.sha256, hashlib.sha256(ADAPTER).hexdigest(),
    )  # fmt: skip
    untouched = resolve_model("base")
    assert (untouched.name, untouched.adapter) == (BASE.name, None)
    assert registry._directory("default") == slot / "ppm"

    listed = CliRunner(env={"COLUMNS": "400"}).invoke(app, ["models", "list"])
    assert listed.exit_code == 0, listed.output
    rows = [line for line in listed.stdout.splitlines() if line.startswith("│")]
    assert [row.strip("│ ").split(" ", 1)[0] for row in rows] == [
        "default", "base", "fast", "evolved",
    ]  # fmt: skip
    assert f"LoRA over {BASE.name}, zero-shot; round 1, data gsm8k train" in rows[0]
    assert "the untouched 1.5B, whatever default serves" in rows[1]


def test_a_round_whose_ppm_was_skipped_ships_to_default_without_one(
    tmp_path: Path, package: Path
) -> None:
    source = round_over(tmp_path / "round-1", BASE.name, BASE.sha256, stages=SKIPPED, ppm=False)
    result = _ship(str(source), "--name", "default")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1] == (
        "no PPM: the round's PPM stage was skipped, so ppm:default serves none"
    )
    assert sorted(p.name for p in (package / "default").iterdir()) == [
        "adapter.gguf", "policy.json",
    ]  # fmt: skip
    with pytest.raises(ValueError) as refused:
        registry.load_scorer("ppm:default")
    assert str(refused.value) == (
        "this thinktree ships no PPM with default (no evolved 1.5B shipped, or its round "
        "trained none); pass ppm:OUT/round-N/ppm, or ship a round that has one: "
        "thinktree models ship OUT/round-N --name default"
    )
    # The evolved slot serves ppm:evolved: there a round without its PPM is refused.
    evolved = _ship(str(source), "--name", "evolved")
    assert evolved.exit_code == 2
    assert evolved.output.strip().splitlines() == [
        f"error: {source} has no trained PPM ({source / 'ppm'}); its PPM stage was skipped"
    ]
    assert not (package / "evolved").exists()


def test_ppm_default_loads_the_shipped_ppm(tmp_path: Path, package: Path, monkeypatch) -> None:
    with pytest.raises(ValueError, match=r"^this thinktree ships no PPM with default"):
        registry.load_scorer("ppm:default")  # nothing shipped yet
    loaded: list[Path] = []

    class FakePPM:
        identity = "ppm-1234"

    monkeypatch.setattr(registry, "load_ppm", lambda d: loaded.append(d) or FakePPM())
    assert _ship(str(round_over(tmp_path / "round-1", BASE.name, BASE.sha256)), "--name",
                 "default").exit_code == 0  # fmt: skip
    scorer, identity = registry.load_scorer("ppm:default")
    assert (type(scorer), identity, loaded) == (
        FakePPM,
        "ppm:ppm-1234",
        [package / "default" / "ppm"],
    )


def _big_adapter(directory: Path) -> None:
    """A 41.5 MB adapter (sparse) that its policy.json names rightly."""
    with open(directory / "adapter.gguf", "wb") as handle:
        handle.truncate(41_500_000)
    digest = hashlib.sha256(b"\0" * 41_500_000).hexdigest()
    policy = json.loads((directory / "policy.json").read_text())
    (directory / "policy.json").write_text(json.dumps({**policy, "adapter_sha256": digest}))


@pytest.mark.parametrize(
    ("base", "sha256", "spoil", "message"),
    [
        (FAST.name, FAST.sha256, None,
         f"{{round}} is a LoRA over {FAST.name} (sha256 {FAST.sha256[:12]}), not over "
         f"{BASE.name} (sha256 {BASE.sha256[:12]}), the file the default slot serves; ship a "
         f"round evolved from {BASE.name} (evolve with policy: default)"),
        (BASE.name, "0" * 64, None,
         f"{{round}} is a LoRA over {BASE.name} (sha256 000000000000), not over {BASE.name} "
         f"(sha256 {BASE.sha256[:12]}), the file the default slot serves"),
        (BASE.name, None, None, f"{{round}} is a LoRA over {BASE.name} (no sha256), not over"),
        (BASE.name, BASE.sha256, _big_adapter,
         "{round}/adapter.gguf is 41.5 MB, above the package's 40 MB bound; train with a "
         "lower LoRA rank (sft: {{rank: N}} in the evolve config; r8 fits the 1.5B in float32)"),
    ],
)  # fmt: skip
def test_default_refuses_another_base_or_a_large_adapter_in_one_line(
    tmp_path: Path, package: Path, base: str, sha256: str | None, spoil, message: str
) -> None:
    (package / "default").mkdir()
    (package / "default" / "old.txt").write_text("the 1.5B shipped before")
    source = round_over(tmp_path / "round-1", base, sha256)
    if spoil is not None:
        spoil(source)
    result = _ship(str(source), "--name", "default")
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: " + message.format(round=source))
    assert sorted(p.name for p in package.iterdir()) == ["default"]
    assert sorted(p.name for p in (package / "default").iterdir()) == ["old.txt"]


def test_the_40_mb_bound_holds_for_the_evolved_slot_too(tmp_path: Path, package: Path) -> None:
    source = make_round(tmp_path / "round-1")
    _big_adapter(source)
    result = _ship(str(source), "--name", "evolved")
    assert result.exit_code == 2
    assert (
        result.output.strip()
        .splitlines()[0]
        .startswith(f"error: {source}/adapter.gguf is 41.5 MB, above the package's 40 MB bound")
    )
    assert not (package / "evolved").exists()
