"""What the language-model PPM reads and how its answer becomes a score.

The LM PPM (rStar-Math's process preference model as a language model) is the
policy's small backbone with a LoRA adapter, trained so that after a partial
solution and a fixed question it puts more weight on one fixed token than on
another. Training (:mod:`thinktree.train.ppm`) and serving (llama.cpp, one
request a node) share this module, so both read exactly the same text:

- the text is the solution so far in the step format without instruction or
  examples (:func:`thinktree.steps.solution_text`), then :data:`SUFFIX`;
- the score is the log-probability of :data:`YES` minus that of :data:`NO` at
  the next position, a logit difference that the pairwise (Bradley-Terry) loss
  trains directly; search reads it squashed to [-1, 1] by :func:`squash`, which is
  ``P(yes) - P(no)`` renormalised over the two tokens.

A child's text extends its parent's up to the suffix, so a server that keeps the
parent's prompt in its prefix cache reads only the child's new step and the suffix.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from thinktree.steps import Step, solution_text

SUFFIX = "\n\nIs every step so far right? Answer:"
"""Asked after the solution so far; the PPM answers with one token."""
YES = " yes"
NO = " no"
"""The two answer tokens (each one token in the Qwen2.5 vocabulary)."""


def ppm_text(question: str, steps: Sequence[Step]) -> str:
    """The full text the PPM scores for ``steps`` of ``question``."""
    return solution_text(question, steps) + SUFFIX


def squash(logit_difference: float) -> float:
    """``log P(yes) - log P(no)`` as a value in [-1, 1]: ``tanh(d / 2)``, which is
    ``(P(yes) - P(no)) / (P(yes) + P(no))``."""
    return math.tanh(logit_difference / 2)
