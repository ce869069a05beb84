"""The worker's warm-up shapes: each one exercises the LaTeX parser, none is a corpus answer."""

from __future__ import annotations

import pytest

from thinktree.grading.cases import load_corpus, load_public_corpus
from thinktree.grading.compare import _parse, quiet_math_verify
from thinktree.grading.grader import Verdict, prepare
from thinktree.grading.warmup import WARMUP_PAIRS

WARMUP_ANSWERS = sorted({a for pair in WARMUP_PAIRS for a in pair})


@pytest.mark.parametrize("answer", WARMUP_ANSWERS)
def test_every_warmup_answer_parses_to_an_expression(answer: str) -> None:
    quiet_math_verify()
    assert _parse(answer), f"{answer!r} does not parse: it warms nothing"


def test_no_warmup_answer_is_one_the_benchmark_grades() -> None:
    """A warm-up answer that the corpus also sends to a worker would be parsed from
    the cache in the benchmark's cold round, and the cold figure would flatter."""
    graded: set[str] = set()
    for case in [*load_corpus(), *load_public_corpus()]:
        job = prepare(case.pred, case.gold)
        if not isinstance(job, Verdict):
            graded |= {job.pred, job.gold}
    assert sorted(graded.intersection(WARMUP_ANSWERS)) == []
