"""Issue 18's figures of one run: budget used, answers found, ties broken by
confidence, what its rollouts or samples gave the vote, crashing branches.
"""

from __future__ import annotations

from typing import Any

from thinktree.eval.bench.analyses.search18.kinds import is_mcts, search_of
from thinktree.eval.bench.analyses.search18.replay import sample_tokens, tokens_of_first
from thinktree.eval.metrics import dominance
from thinktree.eval.report import RunReport
from thinktree.search.settle import token_probability
from thinktree.steps import Step
from thinktree.store import ResultRow, RunStore


def tree_pass(rows: list[ResultRow]) -> float:
    """The share of problems whose searched tree (or samples) holds any correct answer."""
    return sum(any(r.samples.get("correct") or []) for r in rows) / len(rows)


def budget_used(rep: RunReport) -> dict[str, Any]:
    """Samples or rollouts each problem spent, and how many stopped as settled."""
    budget = search_of(rep.run)["samples"]
    if is_mcts(rep.run):
        used = [int(r.extra.get("rollouts", budget)) for r in rep.rows]
    else:
        used = [len(r.samples.get("correct") or []) or budget for r in rep.rows]
    return {
        "budget": budget,
        "mean_used": sum(used) / len(used),
        "problems_by_used": {str(n): used.count(n) for n in sorted(set(used))},
        "settled": sum(r.stop_reason == "settled" for r in rep.rows),
        "n": len(rep.rows),
    }


def compare(a: RunReport, b: RunReport) -> dict[str, Any]:
    d = dominance(a.rows, b.rows)
    return {
        "a": a.run.id, "b": b.run.id, "a_label": a.label, "b_label": b.label,
        **d, "token_ratio": d["tokens_a"] / d["tokens_b"] if d["tokens_b"] else None,
    }  # fmt: skip


def first_two_agree(rep: RunReport) -> dict[str, Any]:
    """sc: problems whose first two samples agree, and the share of the run's tokens a
    rule stopping each of them after two samples would have spent (the floor for any
    rule that waits for two agreeing answers)."""
    agree, spent = 0, 0.0
    for row in rep.rows:
        answers, classes = row.samples.get("answers") or [], row.samples.get("classes") or []
        answered = len(answers) >= 2 and None not in answers[:2] and len(row.trajectories) >= 2
        if answered and classes[0] == classes[1]:
            agree += 1
            spent += tokens_of_first(row, 2)
        else:
            spent += row.generated_tokens
    total = sum(row.generated_tokens for row in rep.rows)
    return {"problems": agree, "n": len(rep.rows), "token_share_if_stopped": spent / total}


def first_step_kind(steps: list[dict[str, Any]]) -> str:
    """How a sample's first step ended: a cell (``cell``, run or failed), an answer with
    no cell (``answer_without_cell``: the problem solved in prose), text with neither
    cut at max_step_tokens (``cut``), or other text with neither (``other``)."""
    first = steps[0] if steps else {}
    if first.get("code"):
        return "cell"
    if first.get("kind") == "final":
        return "answer_without_cell"
    return "cut" if first.get("finish_reason") == "length" else "other"


def first_steps(rep: RunReport) -> dict[str, dict[str, Any]]:
    """sc: the run's samples by how their first step ended (:func:`first_step_kind`),
    each kind with its samples, right samples and share of the run's sample tokens.
    Where the tokens of samples that never answer go."""
    kinds: dict[str, dict[str, Any]] = {}
    total = 0
    for row in rep.rows:
        correct = row.samples.get("correct") or []
        for index, (trajectory, tokens) in enumerate(
            zip(row.trajectories, sample_tokens(row), strict=True)
        ):
            entry = kinds.setdefault(first_step_kind(trajectory["steps"]),
                                     {"samples": 0, "right": 0, "tokens": 0})  # fmt: skip
            entry["samples"] += 1
            entry["right"] += index < len(correct) and bool(correct[index])
            entry["tokens"] += tokens
            total += tokens
    return {
        name: {"samples": e["samples"], "right": e["right"], "token_share": e["tokens"] / total}
        for name, e in sorted(kinds.items())
    }


def stopped_after_one(a: RunReport, full: RunReport) -> dict[str, int]:
    """Adaptive sc (or confident mcts): problems that stopped after one sample (rollout),
    how many of them it got right, and how many of them the full sc run got right; and
    the problems it lost to the full run (right there, wrong here), to set beside other
    rules' losses."""
    full_right = {row.problem_id: bool(row.correct) for row in full.rows}
    used = "rollouts" if is_mcts(a.run) else "samples"
    alone = [row for row in a.rows if row.extra.get(used) == 1]
    return {
        "problems": len(alone),
        "right": sum(bool(row.correct) for row in alone),
        "full_sc_right": sum(full_right.get(row.problem_id, False) for row in alone),
        "lost_to_sc": lost_to(a, full),
    }


def lost_to(a: RunReport, b: RunReport) -> list[str]:
    """The problems run b got right and run a did not."""
    right_b = {row.problem_id for row in b.rows if row.correct}
    return [row.problem_id for row in a.rows if row.problem_id in right_b and not row.correct]


def answers_found(rep: RunReport) -> int:
    """Answers in the run's samples (sc) or answer terminals in its trees (mcts; a lazy
    rollout's repeat vote for a terminal already found is not counted again)."""
    return sum(
        answer is not None for row in rep.rows for answer in row.samples.get("answers") or []
    )


def same_answers(a: RunReport, b: RunReport) -> int:
    """Problems where run a's sample answers are run b's first ones, in order."""
    theirs = {row.problem_id: row.samples.get("answers") or [] for row in b.rows}
    return sum(
        (mine := row.samples.get("answers") or []) == theirs.get(row.problem_id, [])[: len(mine)]
        for row in a.rows
    )


def confidence_tie_break(rep: RunReport) -> dict[str, int]:
    """The answer rule's ties (classes sharing the top vote) broken by the classes' mean
    trajectory token probability instead of by discovery order, replayed on the stored
    answers (exact: the choice changes nothing the search did): ties, and problems right."""
    ties = right = 0
    for row in rep.rows:
        answers = row.samples.get("answers") or []
        classes = row.samples.get("classes") or []
        top = max(row.votes.values(), default=0.0)
        tied = [answer for answer, votes in row.votes.items() if abs(votes - top) < 1e-9]
        if len(tied) < 2 or len(row.trajectories) != len(answers):
            right += bool(row.correct)
            continue
        ties += 1
        members: dict[int, list[float]] = {}
        for trajectory, label in zip(row.trajectories, classes, strict=True):
            if label is not None:
                steps = [Step.from_dict(s) for s in trajectory["steps"]]
                members.setdefault(label, []).append(token_probability(steps) or 0.0)
        class_of = {a: c for a, c in reversed(list(zip(answers, classes, strict=True)))}
        means = {label: sum(p) / len(p) for label, p in members.items()}
        scores = {answer: means.get(class_of.get(answer, -1), 0.0) for answer in tied}
        chosen = max(tied, key=scores.__getitem__)
        right += bool((row.samples.get("class_correct") or {}).get(str(class_of.get(chosen))))
    return {"ties": ties, "right": right, "n": len(rep.rows)}


def tree_nodes(store: RunStore, rep: RunReport) -> dict[str, list[dict[str, Any]]]:
    """An mcts run's stored tree nodes by problem id, read once for every figure of them."""
    return {
        row.problem_id: (store.tree(rep.run.id, row.problem_id) or {}).get("nodes", [])
        for row in rep.rows
    }


def votes_by_problem(
    rep: RunReport, trees: dict[str, list[dict[str, Any]]]
) -> dict[str, tuple[int, int, int, bool]]:
    """Per problem, what its rollouts (mcts) or samples (sc) gave the vote: rollouts,
    votes for an answer (a tree's repeat votes counted, as a repeated sample's are),
    right votes, and whether the first rollout or sample was right."""
    out = {}
    for row in rep.rows:
        if is_mcts(rep.run):
            ends = [
                n
                for n in trees[row.problem_id]
                if n["terminal"] and n["terminal_reason"] == "answer"
            ]
            out[row.problem_id] = (
                int(row.extra.get("rollouts", 0)),
                sum(n["visits"] for n in ends),
                sum(n["visits"] for n in ends if n["correct"]),
                bool(ends and min(ends, key=lambda n: n["id"])["correct"]),
            )
        else:
            answers = row.samples.get("answers") or []
            correct = row.samples.get("correct") or []
            out[row.problem_id] = (
                len(answers),
                sum(a is not None for a in answers),
                sum(bool(c) for c in correct),
                bool(correct and correct[0]),
            )
    return out


def rollout_votes(rep: RunReport, trees: dict[str, list[dict[str, Any]]]) -> dict[str, int]:
    """What a run's rollouts (mcts) or samples (sc) gave the vote, summed over its
    problems (:func:`votes_by_problem`). Tells a tree whose draws are as good as sc's but
    fewer or more alike from one whose draws are worse."""
    per_problem = votes_by_problem(rep, trees).values()
    rollouts, votes, right, first_right = (sum(column) for column in zip(*per_problem, strict=True))
    return {"rollouts": rollouts, "answer_votes": votes, "right_votes": right,
            "first_right": first_right, "n": len(rep.rows)}  # fmt: skip


def crashing_branches(rep: RunReport, trees: dict[str, list[dict[str, Any]]]) -> dict[str, int]:
    """mcts: rollouts that ended without an answer, and those that ended below a node
    still at N = 0 (a branch whose rollouts only crashed, under the local rule)."""
    ended = below_unvisited = 0
    for row in rep.rows:
        nodes = trees[row.problem_id]
        visits = {node["id"]: node["visits"] for node in nodes}
        for node in nodes:
            if node["terminal"] and node["terminal_reason"] != "answer":
                ended += 1
                below_unvisited += visits.get(node["parent"], 1) == 0
    return {"answerless_rollouts": ended, "below_an_unvisited_node": below_unvisited}
