"""MCTS's own options, and how those that depend on the scorer are decided.

Four defaults follow the expansion, and the expansion follows the scorer
(:func:`decided`, called by :meth:`thinktree.search.mcts.search.MCTSSearch.resolve`):
without a scorer the tree expands lazily (one sibling at a time), with
``unvisited_first`` on, ``k`` as wide as the rollouts (at least 3) and the visits
backup, so that its rollouts are independent samples drawn step by step; with a
scorer it expands fully (k siblings at once, rStar's rule), with ``unvisited_first``
off, ``k`` = 3 and the local backup. A config still holding ``expand = "auto"`` or a
null ``unvisited_first``, ``k`` or ``invalid_backup`` is unresolved and has no run
fingerprint. The measurements behind each default are in BENCHMARKS.md, "Why each
search default is what it is"; each field names its rule in one comment (``§``: the
subsection of that section).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from thinktree.search.options import DEFAULT_K, BaseSearchConfig, StrategyOptions

Expansion = Literal["all", "lazy"]


class MCTSOptions(StrategyOptions):
    """The options only MCTS reads: selection, expansion, backup and answer values."""

    # Rule: rStar's paper. Measured: § c_uct.
    c_uct: float = Field(2.0, ge=0.0)
    """MCTS exploration constant c in Q + c·sqrt(ln N_parent / N_child)."""
    # Rule: rStar's code (full), classic UCT (lazy). Measured: § unvisited_first.
    unvisited_first: bool | None = None
    """MCTS: classic UCT (an unvisited child first) instead of rStar's rule (it scores 0);
    default: on with lazy expansion, off with full."""
    # Rule: rStar's code. Measured: § tie_break.
    tie_break: Literal["first", "random"] = "random"
    """MCTS selection ties: the first child, or one at random (seeded per run, problem,
    rollout and node)."""
    # Rule: rStar's paper and code (no resampling). Measured: § resample.
    resample: int = Field(0, ge=0, le=8)
    """MCTS: extra sampling rounds for a node whose deduplicated children number fewer
    than k."""
    # Rule: rStar's paper and code (all) with a scorer, thinktree (lazy). Measured: § expand.
    expand: Literal["auto", "all", "lazy"] = "auto"
    """MCTS: an expansion samples k candidates at once (all, rStar), or one at a time
    (lazy): a node's next child is sampled when the child not yet sampled wins
    selection, scored as an unvisited child; at most k children and k + resample
    requests a node, and a request that repeats a child continues below that child.
    auto: lazy without a scorer, all with one."""
    # Rule: thinktree (rStar never meets the case). Measured: § repeat_answers.
    repeat_answers: Literal["drop", "vote"] = "vote"
    """MCTS, lazy expansion: a sampled step that repeats an answer already in the tree
    ends its rollout there with nothing backed up (drop), or backs that answer up again
    as one more vote (vote), as a sample repeating an answer does in sc."""
    # Rule: thinktree (local, visits), not rStar's code (path). Measured: § invalid_backup.
    invalid_backup: Literal["local", "path", "visits"] | None = None
    """MCTS: an invalid ending's -1 stays on its node (local), is added to every node on
    its path to the root (path, rStar's code), or stays on its node while the path counts
    the rollout as a visit worth 0 (visits); default: visits with lazy expansion, local
    with full."""
    # Rule: thinktree (rStar has no scorer-free mode). Measured: § agreement.
    agreement: Literal["all", "earlier"] = "all"
    """MCTS without a scorer: an answer's value is its agreement with all answers found
    (re-valued as they arrive), or with those found before it, frozen (earlier, the
    old rule)."""

    @property
    def is_resolved(self) -> bool:
        return self.expand != "auto" and None not in (self.unvisited_first, self.invalid_backup)

    @property
    def lazy(self) -> bool:
        """Whether expansion is lazy; a ValueError while it still depends on the scorer."""
        if self.expand == "auto":
            raise ValueError(
                "expand=auto depends on the scorer: resolve the config first "
                "(thinktree.search.registry.resolved)"
            )
        return self.expand == "lazy"


def mcts_options(config: BaseSearchConfig) -> MCTSOptions:
    """``config``'s options, which an MCTS config always holds (routed by SearchConfig)."""
    if not isinstance(config.options, MCTSOptions):
        raise TypeError(f"a {config.strategy} config holds no MCTS options")
    return config.options


def decided(config: BaseSearchConfig, expand: Expansion) -> BaseSearchConfig:
    """``config`` with ``expand`` set where it is auto, and where unset the fields that
    follow it: ``unvisited_first`` (on with lazy expansion), ``k`` (the rollouts, at
    least :data:`DEFAULT_K`, with lazy expansion) and ``invalid_backup`` (visits with
    lazy expansion)."""
    options = mcts_options(config)
    chosen = expand if options.expand == "auto" else options.expand
    lazy = chosen == "lazy"
    follows: dict[str, Any] = {
        "unvisited_first": lazy,
        "invalid_backup": "visits" if lazy else "local",
    }
    update = {name: value for name, value in follows.items() if getattr(options, name) is None}
    if chosen != options.expand:
        update["expand"] = chosen
    shared = (
        {"k": max(DEFAULT_K, config.samples) if lazy else DEFAULT_K} if config.k is None else {}
    )
    if not update and not shared:
        return config
    return config.with_options(options.model_copy(update=update), **shared)


def check_vote_rule(config: BaseSearchConfig, scored: bool) -> None:
    """``settle = "decided"`` or ``"confident"`` reasons about the answers still to come
    and the vote over them, so it needs a tree whose rollouts each end in at most one
    answer (lazy expansion) and whose answer is the vote's (no scorer, agreement all)."""
    options = mcts_options(config)
    rule = config.settle
    if scored or options.expand != "lazy" or options.agreement != "all":
        raise ValueError(
            f"--settle {rule} needs mcts to answer by vote, one answer a rollout: "
            "no scorer, lazy expansion and --agreement all (or use agree or beta)"
        )
    if rule == "confident" and not config.logprobs:
        raise ValueError("--settle confident reads token log-probabilities; drop --no-logprobs")
