"""MCTS over code-augmented steps, as a lock-step :class:`ProblemSearch`.

A rollout descends from the root by the selection rule to an unexpanded node,
expands it (full expansion, the default with a scorer: ``k`` candidates in one
engine call, duplicates dropped, each cell executed), evaluates the new
children, and continues down the best selectable new child, one expansion per
round, until an expansion leaves no selectable child (every new child is
terminal). ``samples`` rollouts are run, or fewer when a budget ends the search,
the tree is exhausted or the answers settle.

Values by the scorer's type (:mod:`thinktree.reward.base`; the mode recorded in
``extra["mode"]``; see :mod:`thinktree.search.mcts.tree` for N/W rules):
- ``outcome`` (a :class:`NeedsGold` scorer): a final answer is worth +1 if it
  equals the gold answer, else −1;
- ``learned`` (a :class:`StepScorer`, the PPM): a new non-terminal node is
  initialised with its score; a final answer's value is its score, or its outcome
  ±1 when the scorer also :class:`NeedsGold` (``ppm+outcome``: rStar's training
  rollouts after round 1); the answer is then the one whose terminals' scores
  average highest (:func:`choose_answer`), the PPM's choice, not the vote's;
- ``none``, ``agreement = "all"`` (default): a final answer's value is its
  agreement with every other answer found so far (:func:`agreement_values`), and
  every answer is re-valued whenever new ones arrive, so ``W`` along each path
  always holds the current values; the chosen answer is then the majority vote's.
  Answers A, B, B, B are worth −1 (A) and +1/3 (each B): B is chosen;
- ``none``, ``agreement = "earlier"`` (the old rule, kept to reproduce old runs):
  an answer's value is ``2·m/T − 1`` over the ``T`` answers found before it, ``m``
  of them equivalent, frozen when found; the first answer is worth 0. A, B, B, B
  give A 0 and B a mean of (−1 + 0 + 1/3)/3 = −2/9, so the lone A wins.
Invalid terminals (no parsable step, ``errors_threshold`` consecutive errors,
non-final at ``max_steps``) take −1: at that node only (``invalid_backup =
"local"``), added along the path to the root (``"path"``, rStar's code), or at that
node only while a value of 0 goes up the path (``"visits"``: the path counts the
rollout, so a branch whose rollouts only crash is no longer unvisited to lazy
selection, and its ancestors' Q are not pulled towards −1; the terminal's Q is
then −1/2).

Lazy expansion (``expand = "lazy"``, the default without a scorer, where
``unvisited_first`` then defaults to on, ``k`` to the rollouts (at least 3) and
``invalid_backup`` to ``"visits"``, so that every rollout starts a new first step
unless it repeats one; :meth:`MCTSSearch.resolve`;
:class:`~thinktree.search.mcts.tree.LazyWidth`): a request asks for one candidate
(seeded by node id, ``"lazy"``, the node's request count). A new child is valued
like any other and the rollout goes on below it, one step per round, until a
terminal; a candidate that repeats a child (same dedupe key) adds nothing and
the rollout goes on below that child, as a sample that drew the same step would.
Where that child is an answer, the rollout ends there: with ``repeat_answers =
"drop"`` nothing is backed up, with ``"vote"`` the answer is backed up again and
counts once more among the answers found (its ``N`` grows; agreement counts each
backup), as a sample repeating an answer votes again in sc. A rollout then costs
about one sampled solution, less the prefix it shares with the tree.

Exploration knobs: ``tie_break = "random"`` draws among tied children with a seed
derived from (run seed, problem, ``"tie"``, rollout index, node id); ``resample``
asks a node for up to that many more rounds of ``k − children`` candidates
(seeded by node id, ``"resample"``, round) while deduplication has left it fewer
than ``k`` children, dropping repeats of the children it has. That includes a node
whose candidates all state one answer: resampling costs tokens there too, which the
measurements of ``resample`` should weigh.

Adaptive compute (``settle``): after every expansion that finds an answer (under
``agree`` and ``beta``) or after every rollout (``decided`` and ``confident``) the
answers found so far, in discovery order, are checked by
:func:`thinktree.search.settle.settled`; when they have settled the search stops
with ``stop_reason = "settled"``. A rollout cut short by settling counts as used in
``extra["rollouts"]``. ``decided`` and ``confident`` need the answers still to come
bounded by the rollouts left and the answer to be the vote's, so they are refused
unless expansion is lazy, there is no scorer and ``agreement = "all"``: then the
rollouts are drawn one at a time, as sc's samples would be in waves of one, and
``confident`` trusts the first rollout's answer alone when its token probability
reaches ``settle_token_probability``.
"""

from __future__ import annotations

from thinktree.reward.base import NeedsGold, Scorer, StepScorer
from thinktree.search.base import ProblemSearch
from thinktree.search.expand import Expansion
from thinktree.search.mcts.options import MCTSOptions, check_vote_rule, decided, mcts_options
from thinktree.search.mcts.tree import (
    LazyWidth,
    Node,
    TieSeed,
    add_local,
    agreement_values,
    answer_nodes,
    backup,
    choose_answer,
    group_answers,
    revalue,
    select_child,
    select_leaf,
    serialize,
)
from thinktree.search.options import BaseSearchConfig
from thinktree.search.result import SolveResult, Trajectory
from thinktree.search.seeds import derive_seed
from thinktree.search.settle import VOTE_RULES, settled, token_probability
from thinktree.steps import dedupe_key


def scorer_mode(scorer: Scorer) -> str:
    """How nodes are valued, by the scorer's type; recorded in ``extra["mode"]``."""
    if isinstance(scorer, StepScorer):
        return "learned"
    if isinstance(scorer, NeedsGold):
        return "outcome"
    return "none"


class MCTSSearch(ProblemSearch):
    options_model = MCTSOptions
    settle_rules = frozenset({"off", "agree", "beta", *VOTE_RULES})
    # Full expansion: rStar's later rounds; lazy expansion resolves to lazy_temperature.
    # Both measured in issue 18 (BENCHMARKS.md, search defaults, "MCTS temperature").
    default_temperature = 1.0
    stored_default_temperature = 0.7
    lazy_temperature = 0.7
    # rStar's search is guided by its PPM; without one its rollouts are samples (notice).
    takes_shipped_verifier = True

    @classmethod
    def resolve(cls, config: BaseSearchConfig, scored: bool) -> BaseSearchConfig:
        # A scorer compares siblings and training rollouts pair them: full expansion.
        chosen = decided(config, "all" if scored else "lazy")
        if config.settle in VOTE_RULES:
            check_vote_rule(chosen, scored)
        if mcts_options(chosen).lazy and chosen.temperature is None:
            # One sibling at a time: each sample's own accuracy counts, not their spread.
            return chosen.model_copy(update={"temperature": cls.lazy_temperature})
        return chosen

    @classmethod
    def width(cls, config: BaseSearchConfig) -> int:
        return 1 if mcts_options(config).lazy else config.candidates

    @classmethod
    def trajectories(cls, config: BaseSearchConfig) -> float:
        if mcts_options(config).lazy:
            return float(config.samples)  # about one sampled solution a rollout
        # The first rollout expands k candidates per depth; later ones fewer new nodes.
        return (1 + 0.5 * (config.samples - 1)) * config.candidates

    @classmethod
    def notice(cls, config: BaseSearchConfig, scorer: type[Scorer]) -> str | None:
        """Without a scorer (neither learned nor gold) the tree is no better than its
        samples (DESIGN.md: a tree needs a verifier): say so, and how to give one."""
        if issubclass(scorer, (StepScorer, NeedsGold)):
            return None
        if mcts_options(config).lazy:
            what = "mcts's rollouts are independent samples, as sc's"
        else:
            what = "mcts values its answers by their agreement alone, no verifier"
        return f"note: without a learned scorer {what}; give it one with --scorer ppm:DIR"

    @classmethod
    def unread_fields(cls, config: BaseSearchConfig, scored: bool) -> frozenset[str]:
        unread = {"agreement"} if scored else set()
        if mcts_options(config).expand == "all":
            unread.add("repeat_answers")  # only a lazy rollout samples an answer again
        return frozenset(unread)

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.root = Node(0)
        self.nodes: list[Node] = [self.root]
        self.rollouts = 0
        self.frontier: Node | None = None
        self.resample_round = 0
        self.resampled = 0
        self.repeats = 0
        self.answers_found: list[Node] = []
        self.settled = False
        self.first_probability: float | None = None
        """The first rollout's token probability, where it ended in an answer (confident)."""
        self.mode = scorer_mode(self.ctx.scorer)
        self.options = mcts_options(self.config)
        self.unvisited_first = self.options.unvisited_first is True  # resolved: a bool
        self.outcome_terminals = isinstance(self.ctx.scorer, NeedsGold)
        self.revalues = self.mode == "none" and self.options.agreement == "all"
        self.lazy = (
            LazyWidth(self.config.candidates, self.config.candidates + self.options.resample)
            if self.options.expand == "lazy"
            else None
        )
        if self.outcome_terminals and self.problem.answer is None:
            raise ValueError(f"problem {self.problem.id} has no gold answer for the outcome scorer")

    # -- rounds --------------------------------------------------------------------------

    def _tie_seed(self) -> TieSeed | None:
        if self.options.tie_break != "random":
            return None
        rollout = self.rollouts
        return lambda node: derive_seed(self.config.seed, self.problem.id, "tie", rollout, node.id)

    def _select_child(self, node: Node) -> Node | None:
        return select_child(node, self.options.c_uct, self.unvisited_first, self._tie_seed())

    def _select_leaf(self, node: Node) -> Node | None:
        return select_leaf(
            node, self.options.c_uct, self.unvisited_first, self._tie_seed(), self.lazy
        )

    def next_expansions(self) -> list[Expansion]:
        if self.settled or self.rollouts >= self.config.samples:
            return []
        node = self.frontier or self._select_leaf(self.root)
        if node is None:
            return []
        self.frontier = node
        want_scores = self.mode == "learned"
        if self.lazy is not None:
            # No dedupe here: absorb follows a repeated step into the child it repeats.
            return [
                self.expansion(
                    node.steps(), 1, node.id, "lazy", node.asks, tag=node, want_scores=want_scores
                )
            ]
        if node.expanded:  # a resampling round of a node left short by deduplication
            expansion = self.expansion(
                node.steps(),
                self.config.candidates - len(node.children),
                node.id,
                "resample",
                self.resample_round,
                tag=node,
                want_scores=want_scores,
            )
            expansion.seen = frozenset(dedupe_key(c.step) for c in node.children if c.step)
        else:
            expansion = self.expansion(
                node.steps(), self.config.candidates, node.id, tag=node, want_scores=want_scores
            )
        expansion.dedupe = True
        return [expansion]

    def absorb(self, expansions: list[Expansion]) -> None:
        if self.lazy is not None:
            self._absorb_one(expansions[0])
        else:
            self._absorb_all(expansions[0])

    def _add_child(self, node: Node, expansion: Expansion, index: int) -> Node:
        child = Node(
            len(self.nodes), parent=node, step=expansion.candidates[index], depth=node.depth + 1
        )
        if expansion.scores is not None:
            child.score = expansion.scores[index]
        node.children.append(child)
        self.nodes.append(child)
        return child

    def _answers_grew(self) -> None:
        """Re-value the answers and check whether they have settled."""
        if self.revalues:
            self._revalue_answers()
        if self.config.settle not in ("off", *VOTE_RULES):
            self.settled = self._answers_settled(remaining=None)

    def _answers_settled(self, remaining: int | None) -> bool:
        """:func:`settled` over the answers found so far, in discovery order."""
        cfg = self.config
        return settled(
            [n.answer for n in self.answers_found],
            self.ctx.judge.same,
            cfg.settle,
            cfg.settle_m,
            cfg.settle_confidence,
            remaining,
            self.first_probability,
            cfg.settle_token_probability,
        )

    def _absorb_one(self, expansion: Expansion) -> None:
        """Lazy expansion: add the node's one candidate, or follow the child it repeats."""
        node: Node = expansion.tag
        node.expanded = True
        node.asks += 1
        self.frontier = None
        if expansion.candidates:
            key = dedupe_key(expansion.candidates[0])
            twin = next(
                (c for c in node.children if c.step is not None and dedupe_key(c.step) == key),
                None,
            )
            if twin is not None:
                self.repeats += 1
                if twin.answer is not None and self.options.repeat_answers == "vote":
                    self._vote_again(twin)
                else:
                    self.frontier = self._select_leaf(twin)
            else:
                child = self._add_child(node, expansion, 0)
                if self._evaluate(child):
                    if self.rollouts == 0:
                        self.first_probability = token_probability(child.steps())
                    self._answers_grew()
                if not child.terminal and not self.settled:
                    self.frontier = child
        if self.frontier is None:
            self.rollouts += 1
            if self.config.settle in VOTE_RULES:
                self._settle_on_the_vote()

    def _settle_on_the_vote(self) -> None:
        """After a lazy rollout (``decided``, ``confident``): settled when the rollouts
        left cannot change the vote, each adding at most one answer, or (confident)
        when the first rollout's answer is trusted alone."""
        remaining = self.config.samples - self.rollouts
        if remaining > 0:  # the full budget spent is done, not settled
            self.settled = self._answers_settled(remaining)

    def _absorb_all(self, expansion: Expansion) -> None:
        node: Node = expansion.tag
        if node.expanded:
            self.resampled += 1
        node.expanded = True
        found = False
        for i in range(len(expansion.candidates)):
            found |= self._evaluate(self._add_child(node, expansion, i))
        if found:
            self._answers_grew()
        if self.settled:
            self.rollouts += 1
            self.frontier = None
            return
        if (
            len(node.children) < self.config.candidates
            and self.resample_round < self.options.resample
        ):
            self.resample_round += 1
            return
        self.resample_round = 0
        self.frontier = self._select_child(node)
        if self.frontier is None:
            node.exhausted = True
            self.rollouts += 1

    # -- values --------------------------------------------------------------------------

    def _evaluate(self, child: Node) -> bool:
        """Mark and value a new child; True when it is an answer terminal."""
        reason = self.end_reason(child.steps())
        if reason is None:
            if self.mode == "learned" and child.score is not None:
                add_local(child, child.score)
            return False
        child.terminal = True
        child.terminal_reason = reason
        if reason != "answer":
            if self.options.invalid_backup == "path":
                backup(child, -1.0)
            else:
                add_local(child, -1.0)
                if self.options.invalid_backup == "visits":
                    backup(child, 0.0)
            return False
        backup(child, self._answer_value(child))
        self.answers_found.append(child)
        return True

    def _vote_again(self, terminal: Node) -> None:
        """A lazy rollout that re-found an answer terminal: back it up once more, and
        count it as one more answer found (agreement, settling)."""
        backup(terminal, self._answer_value(terminal))
        self.answers_found.append(terminal)
        self._answers_grew()

    def _answer_value(self, child: Node) -> float:
        """The value backed up when an answer is found (re-valued later with ``"all"``)."""
        answer = child.answer or ""
        if self.outcome_terminals:
            child.correct = self.ctx.judge.correct(answer, self.problem.answer or "")
            return 1.0 if child.correct else -1.0
        if self.mode == "learned":
            return float(child.score if child.score is not None else 0.0)
        if self.revalues:
            return 0.0  # provisional: _revalue_answers sets it before anything reads it
        others = self.answers_found
        if not others:
            return 0.0
        agree = sum(1 for n in others if self.ctx.judge.same(n.answer or "", answer))
        return 2.0 * agree / len(others) - 1.0

    def _revalue_answers(self) -> None:
        values = agreement_values(group_answers(self.answers_found, self.ctx.judge.same))
        for node in self.answers_found:
            revalue(node, values[node.id])

    # -- result --------------------------------------------------------------------------

    def result(self, stop_reason: str) -> SolveResult:
        terminals = answer_nodes(self.root)
        if self.problem.answer is not None:
            for node in terminals:
                if node.correct is None:
                    node.correct = self.ctx.judge.correct(node.answer or "", self.problem.answer)
        groups = group_answers(terminals, self.ctx.judge.same)
        answer, means, votes = choose_answer(groups)
        ranked = sorted(terminals, key=lambda n: (-n.q_value, n.id))
        if stop_reason == "done" and self.settled:
            stop_reason = "settled"
        elif stop_reason == "done" and self.rollouts < self.config.samples:
            stop_reason = "exhausted"
        extra: dict[str, object] = {
            "rollouts": self.rollouts,
            "nodes": len(self.nodes),
            "mean_value": means,
            "mode": self.mode,
        }
        if self.lazy is not None:
            extra["repeats"] = self.repeats
        elif self.options.resample:
            extra["resampled"] = self.resampled
        if self.config.settle != "off":
            extra["answers_found"] = len(self.answers_found)
        return self.solve_result(
            stop_reason,
            answer,
            [Trajectory(n.steps(), n.answer, n.q_value) for n in ranked],
            [n.answer for n in terminals],
            votes=votes,
            tree=serialize(self.root),
            extra=extra,
        )

    def progress(self) -> dict[str, object]:
        leader = max(self.answers_found, key=lambda n: n.q_value, default=None)
        return {
            "rollouts": f"{self.rollouts}/{self.config.samples}",
            "nodes": len(self.nodes),
            "leader": f"{leader.answer} (Q={leader.q_value:+.2f})" if leader else "-",
        }
