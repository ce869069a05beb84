"""A step's text as the policy generates it after ``Step n:``, for steps written by
code rather than a model (converted reference solutions).

:func:`~thinktree.steps.parse.parse_step` reads each back as the same kind, code
and answer; the prompt examples in :mod:`thinktree.steps.prompt` show the format.
"""

from __future__ import annotations


def code_step_text(code: str) -> str:
    """A code step: the cell in a python fence (generation stops before ``Output:``)."""
    return f"\n```python\n{code}\n```\n"


def final_step_text(answer: str) -> str:
    """The final step: the answer boxed."""
    return f"\nAnswer: \\boxed{{{answer}}}"
