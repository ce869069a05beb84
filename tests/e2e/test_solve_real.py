"""End to end on the real embedded models: the README's sample problem, the API."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytestmark = pytest.mark.model

SAMPLE = (
    "A shop sells pens at 3 dollars each. Ana buys 4 pens and pays with a 20-dollar bill. "
    "How much change does she get?"
)


def test_cli_solves_the_sample_with_the_default_model() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "thinktree", "solve", SAMPLE, "--json"],
        capture_output=True, text=True, timeout=300, check=True,
    )  # fmt: skip
    result = json.loads(out.stdout)
    assert result["answer"] == "8"
    assert result["model"] == "qwen2.5-coder-1.5b-instruct"
    code_steps = [s for s in result["steps"] if s["code"]]
    assert code_steps and all(s["error"] is None for s in code_steps)
    assert code_steps[-1]["output"] == "8"
    assert result["tokens"] > 0 and result["seconds"] > 0


def test_python_api_with_the_fast_model(fast_engine) -> None:
    import thinktree

    result = thinktree.solve(SAMPLE, engine=fast_engine, max_steps=6)
    assert result.answer == "8"
    assert result.usage.generated_tokens > 0
    assert all(s.kind.value in ("code", "final") for s in result.trajectories[0].steps)


@pytest.mark.parametrize("question", ["", "   "])
def test_empty_question_is_a_one_line_error(question: str) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "thinktree", "solve", question],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 2
    assert out.stderr.strip() == "error: the question is empty; pass the problem text"


@pytest.mark.parametrize("question", ["\x00\x01\x02", "?!? ..."])
def test_unreadable_question_is_a_one_line_error(question: str) -> None:
    from thinktree.api import check_question

    with pytest.raises(ValueError, match="holds no readable text"):
        check_question(question)
    with pytest.raises(ValueError, match="must be text"):
        check_question(b"2+2")  # type: ignore[arg-type]
