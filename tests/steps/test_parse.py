"""Regression corpus for the step parser: one line per case in parse_cases.jsonl."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from thinktree.steps import StepKind, parse_step

CASES = [
    json.loads(line)
    for line in (Path(__file__).parent / "parse_cases.jsonl").read_text().splitlines()
    if line.strip()
]


@pytest.mark.parametrize("case", CASES, ids=[f"{i}-{c['group']}" for i, c in enumerate(CASES)])
def test_parse_case(case: dict) -> None:
    parsed = parse_step(case["text"])
    assert parsed.kind is StepKind(case["kind"])
    assert parsed.code == case["code"]
    assert parsed.answer == case["answer"]
    assert parsed.text == case.get("cut_text", case["text"])
