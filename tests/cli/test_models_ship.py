"""`thinktree models ship ROUND_DIR`: a round into the package slot, or a one-line refusal
that leaves the slot as it was."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.train.test_ship import make_round
from thinktree.cli import app
from thinktree.train.export import ship


@pytest.fixture
def slot(monkeypatch, tmp_path: Path) -> Path:
    """The package's `evolved` slot, here a directory of tmp_path holding an old policy."""
    directory = tmp_path / "package" / "evolved"
    directory.mkdir(parents=True)
    (directory / "old.txt").write_text("the policy shipped before")
    slot = dataclasses.replace(ship.PACKAGE_SLOTS["evolved"], directory=lambda: directory)
    monkeypatch.setitem(ship.PACKAGE_SLOTS, "evolved", slot)
    return directory


def _ship(*args: str):
    return CliRunner().invoke(app, ["models", "ship", *args])


def test_a_whole_round_replaces_the_slot(tmp_path: Path, slot: Path) -> None:
    source = make_round(tmp_path / "evolve" / "round-1")
    result = _ship(str(source), "--name", "evolved")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        f"shipped {source} as {slot} (0.0 MB adapter)",
        "data gsm8k train, 431 trajectories, dev_greedy 31.0% of 100, dev_mcts 36.0% of 50, "
        "parity 98.0% of 256 tokens, round 1, sft_trajectories 431",
    ]  # policy.json keeps its provenance sorted
    assert sorted(p.name for p in slot.iterdir()) == ["adapter.gguf", "policy.json", "ppm"]
    assert sorted(p.name for p in slot.parent.iterdir()) == ["evolved"]  # no staging left


def _unreadable_ledger(directory: Path) -> None:
    (directory / "manifest.json").write_text("{not json")


def _no_stages(directory: Path) -> None:
    (directory / "manifest.json").write_text(json.dumps({"round": 1, "config": {}}))


def _no_dev_mcts(directory: Path) -> None:
    manifest = json.loads((directory / "manifest.json").read_text())
    del manifest["stages"]["dev_mcts"]
    (directory / "manifest.json").write_text(json.dumps(manifest))


@pytest.mark.parametrize(
    ("spoil", "args", "message"),
    [
        (lambda d: (d / "manifest.json").unlink(), [],
         "error: {round} holds no manifest.json; is it an evolve round directory?"),
        (_unreadable_ledger, [],
         "error: {round}/manifest.json is not an evolve round's ledger; give an OUT/round-N "
         "directory"),
        (_no_stages, [], "error: {round}/manifest.json is not an evolve round's ledger"),
        (_no_dev_mcts, [], "error: {round} is not finished (dev_mcts not done); rerun"),
        (lambda d: (d / "adapter.gguf").unlink(), [],
         "error: {round}/policy.json names adapter 'adapter.gguf', which is missing; ship from "
         "the machine that trained the round"),
        (lambda d: None, ["--name", "fast"],
         "error: name: 'fast' is not a package slot; ship into evolved or default"),
    ],
)  # fmt: skip
def test_a_refusal_is_one_line_and_leaves_the_slot_alone(
    tmp_path: Path, slot: Path, spoil, args: list[str], message: str
) -> None:
    source = make_round(tmp_path / "round-1")
    spoil(source)
    result = _ship(str(source), *args)
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(message.format(round=source)), result.output
    assert sorted(p.name for p in slot.parent.iterdir()) == ["evolved"]
    assert sorted(p.name for p in slot.iterdir()) == ["old.txt"]


def test_a_copy_that_fails_halfway_leaves_the_slot_alone(
    monkeypatch, tmp_path: Path, slot: Path
) -> None:
    def full_disk(source: Path, dest: Path) -> None:
        dest.mkdir()
        raise OSError("No space left on device")

    monkeypatch.setattr(ship, "copy_ppm", full_disk)
    result = _ship(str(make_round(tmp_path / "round-1")))
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == ["error: No space left on device"]
    assert sorted(p.name for p in slot.parent.iterdir()) == ["evolved"]
    assert sorted(p.name for p in slot.iterdir()) == ["old.txt"]


def test_a_directory_that_is_no_round_at_all_is_refused(tmp_path: Path, slot: Path) -> None:
    result = _ship(str(tmp_path / "nowhere"))
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        f"error: {tmp_path / 'nowhere'} holds no manifest.json; is it an evolve round directory?"
    ]
    assert sorted(p.name for p in slot.iterdir()) == ["old.txt"]
