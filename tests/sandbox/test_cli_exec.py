"""`thinktree exec FILE [--timeout S] [--json]`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest


def thinktree(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from thinktree.cli import main; main()", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture
def script(tmp_path: Path) -> Path:
    path = tmp_path / "step.py"
    path.write_text("x = 6 * 7\nprint('answer', x)\n")
    return path


def test_json_output(script: Path) -> None:
    done = thinktree("exec", str(script), "--json")
    assert done.returncode == 0
    result = json.loads(done.stdout)
    assert {k: result[k] for k in ("stdout", "error", "timed_out")} == {
        "stdout": "answer 42\n",
        "error": None,
        "timed_out": False,
    }
    assert 0 < result["seconds"] < 10


def test_human_output(script: Path) -> None:
    done = thinktree("exec", str(script))
    assert done.returncode == 0
    assert done.stdout == "answer 42\n"
    assert "ok in" in done.stderr


def test_code_failure_is_not_a_cli_failure(tmp_path: Path) -> None:
    (tmp_path / "bad.py").write_text("1 / 0\n")
    done = thinktree("exec", str(tmp_path / "bad.py"), "--json")
    assert done.returncode == 0
    assert json.loads(done.stdout)["error"] == "ZeroDivisionError: division by zero"
    human = thinktree("exec", str(tmp_path / "bad.py"))
    assert human.returncode == 0
    assert "ZeroDivisionError: division by zero" in human.stderr


def test_timeout_option(tmp_path: Path) -> None:
    (tmp_path / "loop.py").write_text("while True:\n    pass\n")
    done = thinktree("exec", str(tmp_path / "loop.py"), "--timeout", "0.5", "--json")
    assert done.returncode == 0
    result = json.loads(done.stdout)
    assert result["timed_out"] is True
    assert result["error"] == "TimeoutError: the code ran longer than the 0.5 s time limit"


def test_missing_file_is_a_one_line_error(tmp_path: Path) -> None:
    done = thinktree("exec", str(tmp_path / "nope.py"))
    assert done.returncode == 2
    assert done.stderr == f"error: no such file: {tmp_path / 'nope.py'}\n"
    assert done.stdout == ""


def test_bad_timeout_is_a_one_line_error(script: Path) -> None:
    done = thinktree("exec", str(script), "--timeout", "0")
    assert done.returncode == 2
    assert done.stderr == "error: --timeout must be positive, got 0.0\n"
