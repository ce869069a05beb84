"""MCTS over code-augmented steps, as a lock-step :class:`ProblemSearch`.

A rollout descends from the root by the selection rule to an unexpanded node,
expands it (``k`` candidates in one engine call, duplicates dropped, each cell
executed), evaluates the new children, and continues down the best selectable
new child, one expansion per round, until an expansion leaves no selectable
child (every new child is terminal). ``samples`` rollouts are run, or fewer when
a budget ends the search or the tree is exhausted.

Values by scorer kind (see :mod:`thinktree.search.mcts.tree` for N/W rules):
- ``outcome``: a final answer is worth +1 if it equals the gold answer, else −1;
- ``learned`` (PPM): a new non-terminal node is initialised with its score; a
  final answer's value is its score, or its outcome ±1 when the scorer says
  ``terminal_outcome`` (``ppm+outcome``: rStar's training rollouts after round 1);
- ``none``: a final answer's value is its agreement with the answers found
  before it, ``2·m/T − 1`` where ``T`` earlier answer terminals exist and ``m``
  of them are equivalent to it; the first answer found is worth 0.
Invalid terminals (no parsable step, ``errors_threshold`` consecutive errors,
non-final at ``max_steps``) take −1 at that node only.
"""

from __future__ import annotations

from thinktree.search.base import ProblemSearch
from thinktree.search.expand import Expansion
from thinktree.search.mcts.tree import (
    Node,
    add_local,
    answer_nodes,
    backup,
    choose_answer,
    group_answers,
    select_child,
    select_leaf,
    serialize,
)
from thinktree.search.result import SolveResult, Trajectory
from thinktree.steps import StepKind, consecutive_errors


class MCTSSearch(ProblemSearch):
    default_temperature = 0.7

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.root = Node(0)
        self.nodes: list[Node] = [self.root]
        self.rollouts = 0
        self.frontier: Node | None = None
        self.answers_found: list[Node] = []
        self.mode = self.ctx.scorer.kind
        self.outcome_terminals = self.ctx.scorer.terminal_outcome
        if self.outcome_terminals and self.problem.answer is None:
            raise ValueError(f"problem {self.problem.id} has no gold answer for the outcome scorer")

    # -- rounds --------------------------------------------------------------------------

    def next_expansions(self) -> list[Expansion]:
        if self.rollouts >= self.config.samples:
            return []
        node = self.frontier or select_leaf(
            self.root, self.config.c_uct, self.config.unvisited_first
        )
        if node is None:
            return []
        self.frontier = node
        expansion = self.expansion(
            node.steps(), self.config.k, node.id, tag=node, want_scores=self.mode == "learned"
        )
        expansion.dedupe = True
        return [expansion]

    def absorb(self, expansions: list[Expansion]) -> None:
        expansion = expansions[0]
        node: Node = expansion.tag
        node.expanded = True
        for i, candidate in enumerate(expansion.candidates):
            child = Node(len(self.nodes), parent=node, step=candidate, depth=node.depth + 1)
            if expansion.scores is not None:
                child.score = expansion.scores[i]
            node.children.append(child)
            self.nodes.append(child)
            self._evaluate(child)
        self.frontier = select_child(node, self.config.c_uct, self.config.unvisited_first)
        if self.frontier is None:
            node.exhausted = True
            self.rollouts += 1

    # -- values --------------------------------------------------------------------------

    def _evaluate(self, child: Node) -> None:
        assert child.step is not None
        steps = child.steps()
        if child.step.kind is StepKind.FINAL:
            reason = "answer"
        elif child.step.kind is StepKind.INVALID:
            reason = "invalid"
        elif consecutive_errors(steps) >= self.config.errors_threshold:
            reason = "errors"
        elif child.depth >= self.config.max_steps:
            reason = "too_deep"
        else:
            if self.mode == "learned" and child.score is not None:
                add_local(child, child.score)
            return
        child.terminal = True
        child.terminal_reason = reason
        if reason != "answer":
            add_local(child, -1.0)
            return
        backup(child, self._answer_value(child))
        self.answers_found.append(child)

    def _answer_value(self, child: Node) -> float:
        answer = child.answer or ""
        if self.outcome_terminals:
            child.correct = self.ctx.judge.correct(answer, self.problem.answer or "")
            return 1.0 if child.correct else -1.0
        if self.mode == "learned":
            return float(child.score if child.score is not None else 0.0)
        others = self.answers_found
        if not others:
            return 0.0
        agree = sum(1 for n in others if self.ctx.judge.same(n.answer or "", answer))
        return 2.0 * agree / len(others) - 1.0

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
        if stop_reason == "done" and self.rollouts < self.config.samples:
            stop_reason = "exhausted"
        return SolveResult(
            problem_id=self.problem.id,
            strategy="mcts",
            answer=answer,
            trajectories=[Trajectory(n.steps(), n.answer, n.q_value) for n in ranked],
            usage=self.usage,
            seconds=self.elapsed(),
            stop_reason=stop_reason,
            sample_answers=[n.answer for n in terminals],
            votes=votes,
            tree=serialize(self.root),
            extra={
                "rollouts": self.rollouts,
                "nodes": len(self.nodes),
                "mean_value": means,
                "mode": self.mode,
            },
        )

    def progress(self) -> dict[str, object]:
        leader = max(self.answers_found, key=lambda n: n.q_value, default=None)
        return {
            "rollouts": f"{self.rollouts}/{self.config.samples}",
            "nodes": len(self.nodes),
            "leader": f"{leader.answer} (Q={leader.q_value:+.2f})" if leader else "-",
        }
