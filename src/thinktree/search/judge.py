"""Answer equality and correctness for search, backed by the grader."""

from __future__ import annotations

from functools import lru_cache

from thinktree.grading import Grader


class GraderJudge:
    """:class:`AnswerJudge` on :class:`thinktree.grading.Grader`, with a cache.

    MCTS and voting compare the same few answers many times; each verdict is
    computed once per (a, b) pair.
    """

    def __init__(self, grader: Grader) -> None:
        self.grader = grader
        self._check = lru_cache(maxsize=65536)(self._uncached)

    def _uncached(self, pred: str, gold: str) -> bool:
        return self.grader.check(pred, gold).equivalent

    def same(self, a: str, b: str) -> bool:
        return a == b or self._check(a, b)

    def correct(self, answer: str, gold: str) -> bool:
        return self._check(answer, gold)
