"""`thinktree models merge`: what it refuses, before any model is loaded."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from thinktree.cli import app


def _policy(directory: Path, **fields) -> Path:
    directory.mkdir(parents=True)
    data = {"base": "qwen2.5-coder-0.5b-instruct", "adapter": None, "prompt_style": "zero-shot"}
    (directory / "policy.json").write_text(json.dumps({**data, **fields}))
    return directory


def _merge(*args: str):
    return CliRunner().invoke(app, ["models", "merge", *args])


def test_refusals_are_one_line_and_leave_dest_alone(tmp_path: Path) -> None:
    round0 = _policy(tmp_path / "round-0")
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("mine")
    merged = _policy(tmp_path / "merged", model="m.gguf", model_sha256="0" * 64)
    (merged / "m.gguf").write_bytes(b"GGUF")
    cases = [
        ((str(tmp_path / "nowhere"), str(tmp_path / "out")), "is not an evolved policy"),
        ((str(round0), str(busy)), "exists and is not an earlier merge"),
        ((str(round0), str(round0)), "exists and is not an earlier merge"),
        ((str(round0), str(tmp_path / "out")), "names no adapter (round 0): nothing to merge"),
        ((str(merged), str(tmp_path / "out")), "is already a merged policy (m.gguf)"),
    ]
    for args, message in cases:
        result = _merge(*args)
        assert result.exit_code != 0
        assert message in result.output and result.output.count("\n") == 1, result.output
    assert (busy / "notes.txt").read_text() == "mine"
    assert not (tmp_path / "out").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["busy", "merged", "round-0"]
