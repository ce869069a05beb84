"""`thinktree grade`: good input and one-line errors for bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from thinktree.cli import app


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def test_pred_gold(runner: CliRunner) -> None:
    result = runner.invoke(app, ["grade", "--pred", "so \\boxed{\\$18}", "--gold", "18"])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("equivalent")


def test_pred_gold_json(runner: CliRunner) -> None:
    result = runner.invoke(app, ["grade", "--pred", "\\boxed{0.5}", "--gold", "\\frac12", "--json"])
    assert result.exit_code == 0, result.output
    verdict = json.loads(result.stdout)
    assert verdict["equivalent"] is True
    assert verdict["timed_out"] is False
    assert verdict["pred_answer"] == "0.5"


def test_not_equivalent(runner: CliRunner) -> None:
    result = runner.invoke(app, ["grade", "--pred", "#### 17", "--gold", "18", "--json"])
    assert result.exit_code == 0
    assert json.loads(result.stdout)["equivalent"] is False


def test_file(runner: CliRunner, tmp_path: Path) -> None:
    path = tmp_path / "pairs.jsonl"
    lines = [
        {"pred": "\\boxed{1,000}", "gold": "1000"},
        {"pred": "no answer here, just words and more words", "gold": "3"},
        {"pred": "The answer is $\\frac{\\sqrt{3}}{3}$.", "gold": "\\frac{1}{\\sqrt{3}}"},
        {"pred": "\\boxed{27}", "gold": 27.0},
    ]
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n\n", encoding="utf-8")
    result = runner.invoke(app, ["grade", "--file", str(path)])
    assert result.exit_code == 0, result.output
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert [v["equivalent"] for v in out] == [True, False, True, True]
    assert [v["pred_answer"] for v in out] == ["1,000", None, "\\frac{\\sqrt{3}}{3}", "27"]
    assert all(v["timed_out"] is False for v in out)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"pred": "1", "gold": "1"}\n{"pred": "1", "gold": \n', "pairs.jsonl:2: not valid JSON"),
        ('{"pred": "1"}\n', "pairs.jsonl:1: missing field 'gold'"),
        ('\n{"gold": "1"}\n', "pairs.jsonl:2: missing field 'pred'"),
        ('["1", "1"]\n', 'pairs.jsonl:1: expected a JSON object like {"pred": ..., "gold": ...}'),
        ('{"pred": 1, "gold": "1"}\n', "pairs.jsonl:1: field 'pred' must be a string"),
        ('{"pred": "1", "gold": null}\n', "pairs.jsonl:1: field 'gold' must be"),
    ],
    ids=["bad-json", "no-gold", "no-pred", "not-object", "pred-not-string", "gold-null"],
)
def test_bad_file_lines(runner: CliRunner, tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "pairs.jsonl"
    path.write_text(content, encoding="utf-8")
    result = runner.invoke(app, ["grade", "--file", str(path)])
    assert result.exit_code == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    assert message in lines[0]


@pytest.mark.parametrize(
    "args",
    [
        ["grade", "--file", "/no/such/file.jsonl"],
        ["grade", "--pred", "3"],
        ["grade", "--gold", "3"],
        ["grade"],
        ["grade", "--file", "x.jsonl", "--pred", "3", "--gold", "3"],
    ],
    ids=["missing-file", "no-gold", "no-pred", "nothing", "file-and-pred"],
)
def test_bad_arguments(runner: CliRunner, args: list[str]) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
