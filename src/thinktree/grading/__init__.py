"""Grading: is a model's answer equivalent to the gold answer?

One module per stage, as in Math-Verify: :mod:`.extract` finds the answer in
model text, :mod:`.normalise` rewrites it to a canonical string,
:mod:`.compare` decides equivalence (fast path in-process, math-verify in a
worker); :mod:`.grader` runs the stages under deadlines with persistent worker
processes (:mod:`.worker`, which warms its LaTeX parser with :mod:`.warmup` and
parses SLL-first with :mod:`.two_stage`); :mod:`.voting` groups answers for
majority voting.
The regression corpus the grader is held to lives in ``corpus/`` (see
:mod:`.cases`). The semantics, with their surprises (asymmetry, units,
percentages, text answers), are written down in :mod:`.compare` and
:mod:`.normalise`.
"""

from thinktree.grading.config import GradeConfig
from thinktree.grading.extract import answer_from_text, extract_answer
from thinktree.grading.grader import Grader, GraderError, Verdict, is_equivalent
from thinktree.grading.normalise import normalise
from thinktree.grading.voting import answers_equivalent, group_answers

__all__ = [
    "GradeConfig",
    "Grader",
    "GraderError",
    "Verdict",
    "answer_from_text",
    "answers_equivalent",
    "extract_answer",
    "group_answers",
    "is_equivalent",
    "normalise",
]
