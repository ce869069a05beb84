"""What a strategy reads of a search's configuration: the shared fields and its own options.

:class:`BaseSearchConfig` holds the fields every strategy reads (or that size and
seed every run: budget, sampling, steps, cell execution, settling) and
``options``, an instance of the strategy's own model (its
:attr:`~thinktree.search.base.ProblemSearch.options_model`, a
:class:`StrategyOptions`: MCTS's in :mod:`thinktree.search.mcts.options`, sc's
``step_floor`` in :mod:`thinktree.search.sampling`). Users build one through
:class:`thinktree.search.config.SearchConfig`, which routes flat field names into
the options; strategies, which sit below the registry that routing needs, see it as
this class.

Where each default comes from (the rule it follows: rStar's paper, rStar's code or
thinktree's own, and what was measured for it) is written in BENCHMARKS.md, "Why
each search default is what it is". Each field names its rule in one comment,
``# Rule: ... Measured: § item``, where the item is that section's subsection.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, SerializeAsAny

# Candidates per expansion where no rule widens them (full expansion, beam).
DEFAULT_K = 3


class StrategyOptions(BaseModel):
    """A strategy's own options; this base holds none (greedy, best_of_n, beam and any
    strategy that declares no model of its own)."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    refusals: ClassVar[dict[str, str]] = {}
    """Why a field of this model is refused for a strategy that does not own it, where
    the generic line says too little (``{strategy}`` is that strategy's name)."""

    @property
    def is_resolved(self) -> bool:
        """Whether the defaults that depend on the scorer are decided."""
        return True


class BaseSearchConfig(BaseModel):
    """The fields every strategy reads, and the strategy's own ``options``.

    ``samples`` is N for ``sc``/``best_of_n``, the number of rollouts for ``mcts``
    and the number of beams kept for ``beam``; ``k`` is the number of candidate steps
    sampled per expansion (``mcts``, ``beam``).
    """

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    strategy: str
    """The search strategy: a name registered in thinktree.search.registry (default:
    its DEFAULT_STRATEGY, set by SearchConfig)."""
    samples: int = Field(4, ge=1, le=1024)
    """Samples (sc, best_of_n), rollouts (mcts) or beams kept (beam)."""
    # Rule: rStar's code scaled down for a CPU; lazy MCTS: thinktree. Measured: § k.
    k: int | None = Field(None, ge=1, le=1024)
    """Candidate steps sampled per expansion (mcts, beam); default 3, and for lazily
    expanded mcts the rollouts (at least 3), so every rollout may start a new first step."""
    # Rule: rStar's code (full MCTS), thinktree (lazy MCTS). Measured: § MCTS temperature.
    temperature: float | None = Field(None, ge=0.0, le=2.0)
    """Sampling temperature; default 0 for greedy, 0.7 for the other sampling strategies
    and lazily expanded mcts, 1.0 for fully expanded mcts."""
    top_p: float = Field(0.95, gt=0.0, le=1.0)
    """Nucleus sampling mass (ignored at temperature 0)."""
    max_step_tokens: int = Field(256, ge=8, le=4096)
    """Tokens per step."""
    max_steps: int = Field(8, ge=1, le=64)
    """Maximum steps per solution."""
    max_tokens: int | None = Field(None, ge=1)
    """Generated-token budget per problem; default unlimited."""
    max_seconds: float | None = Field(None, gt=0)
    """Wall-clock budget per problem in seconds; default unlimited."""
    # Rule: rStar's (no early stop; the rules are thinktree's). Measured: § settle.
    settle: Literal["off", "agree", "beta", "decided", "confident"] = "off"
    """Stop a problem early (sc, mcts) once its answers settle: the first settle_m agree
    (agree), the leader beats the runner-up with posterior probability
    settle_confidence (beta), or the samples (rollouts) left cannot change the vote
    (decided: the full budget's answer at fewer tokens), or that or a first sample
    whose token probability reaches settle_token_probability (confident); mcts takes
    the last two with lazy expansion and no scorer."""
    settle_m: int = Field(3, ge=2, le=1024)
    """Answers needed before settling; sc samples in waves of this size when settling."""
    settle_confidence: float = Field(0.95, gt=0.5, lt=1.0)
    """Posterior probability that the leading answer beats the runner-up (settle=beta)."""
    # Rule: thinktree, chosen on gsm8k train. Measured: § settle.
    settle_token_probability: float = Field(0.87, gt=0.0, lt=1.0)
    """Geometric-mean token probability at which a first sample's (rollout's) answer is
    trusted alone (settle=confident; needs logprobs)."""
    # Rule: rStar's code (DESIGN.md, the step format); not measured here.
    errors_threshold: int = Field(2, ge=1)
    """Consecutive code errors that end a branch."""
    exec_timeout: float = Field(10.0, gt=0)
    """Seconds a code cell may run."""
    # Rule: thinktree, off by a rule fixed before measuring. Measured: § cell_prelude.
    cell_prelude: bool = False
    """Run each trajectory's cells after a prelude that binds math, fractions, Fraction
    and sympy, the names the step prompt offers (thinktree.steps.CELL_PRELUDE)."""
    seed: int = 0
    """Run seed; every request's seed derives from it."""
    logprobs: bool = True
    """Record each step's mean token log-probability (a few per cent of speed)."""
    options: SerializeAsAny[StrategyOptions] = Field(default_factory=StrategyOptions)
    """The strategy's own options (its ``options_model``); routed from flat names."""

    def sampling_temperature(self, default: float) -> float:
        return default if self.temperature is None else self.temperature

    @property
    def candidates(self) -> int:
        """``k`` as resolved (:data:`DEFAULT_K` while unset)."""
        return DEFAULT_K if self.k is None else self.k

    @property
    def is_resolved(self) -> bool:
        """Whether the defaults that depend on the scorer are decided (``k`` and the
        strategy's own, :meth:`thinktree.search.base.ProblemSearch.resolve`)."""
        return self.k is not None and self.options.is_resolved

    def with_options(self, options: StrategyOptions, **fields: Any) -> BaseSearchConfig:
        """This config with ``options`` (and any shared ``fields``) replaced."""
        return self.model_copy(update={**fields, "options": options})
