"""Evaluation: the harness, metrics and reports."""

from thinktree.eval.harness import EvalOutcome, EvalPlan, Evaluation
from thinktree.eval.metrics import pairwise, pass_at_k, summarize, wilson_interval

__all__ = [
    "EvalOutcome",
    "EvalPlan",
    "Evaluation",
    "pairwise",
    "pass_at_k",
    "summarize",
    "wilson_interval",
]
