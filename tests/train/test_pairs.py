"""Pair extraction on a hand-built tree with exact expected pairs."""

from __future__ import annotations

from pathlib import Path

from thinktree.search.mcts.tree import Node, add_local, backup, serialize
from thinktree.steps import Step, StepKind
from thinktree.train.ppm.pairs import (
    is_validation,
    pairs_from_tree,
    read_jsonl,
    trl_record,
    write_jsonl,
)

A = "\n```python\nx = 3\nprint(x)\n```\n"
B = "\n```python\n# Four apples in each of the boxes.\nx = 4\nprint(x)\n```\n"
C = "\n```python\nx = 3\nprint(x / 0)\n```\n"
D = "\nI think we are done here."


def code(text: str, output: str, error: str | None = None) -> Step:
    body = text.split("```python\n")[1].split("```")[0].strip()
    kind = StepKind.ERROR if error else StepKind.CODE
    return Step(text=text, kind=kind, code=body, output=error or output, error=error)


def final(answer: str) -> Step:
    return Step(text=f"\nAnswer: \\boxed{{{answer}}}", kind=StepKind.FINAL, answer=answer)


def build() -> Node:
    root = Node(0)
    nodes = [root]

    def add(parent: Node, step: Step) -> Node:
        node = Node(len(nodes), parent=parent, step=step, depth=parent.depth + 1)
        parent.children.append(node)
        parent.expanded = True
        nodes.append(node)
        return node

    a = add(root, code(A, "3"))
    b = add(root, code(B, "4"))
    c = add(root, code(C, "", "ZeroDivisionError: division by zero"))
    d = add(root, Step(text=D, kind=StepKind.INVALID))
    d.terminal, d.terminal_reason = True, "invalid"
    add_local(d, -1.0)
    for parent, answer, correct in [(a, "6", True), (a, "7", False), (b, "6", True),
                                    (b, "6.0", True), (c, "5", False)]:  # fmt: skip
        leaf = add(parent, final(answer))
        leaf.terminal, leaf.terminal_reason, leaf.correct = True, "answer", correct
        backup(leaf, 1.0 if correct else -1.0)
    return root


def test_exact_pairs_from_a_hand_built_tree() -> None:
    root = build()
    assert [round(c.q_value, 3) for c in root.children] == [0.0, 1.0, -1.0, -1.0]
    pairs = pairs_from_tree("p", "How many?", serialize(root))
    got = [(p.kind, p.node_id, "".join(s.text for s in p.chosen), "".join(s.text for s in p.rejected),
            p.chosen_q, p.rejected_q) for p in pairs]  # fmt: skip
    assert got == [
        ("step", 0, B, C, 1.0, -1.0),
        ("step", 0, B, D, 1.0, -1.0),
        # (A, C) is dropped: the two cells differ by 4 characters (< 20).
        ("step", 0, A, D, 0.0, -1.0),
        # At A, 6 vs 7 differ by one character; at B both answers are right.
        ("final", 0, B + "\nAnswer: \\boxed{6}", A + "\nAnswer: \\boxed{7}", 1.0, -1.0),
        ("final", 0, B + "\nAnswer: \\boxed{6}", C + "\nAnswer: \\boxed{5}", 1.0, -1.0),
    ]
    assert [p.clean for p in pairs] == [False, True, True, True, False]
    assert all(p.prefix == () for p in pairs)


def test_margin_rule_and_determinism() -> None:
    root = build()
    a = root.children[0]
    a.value_sum = -1.0  # A's Q becomes -0.5: A vs D has margin 0.5, still kept
    kept = pairs_from_tree("p", "q", serialize(root))
    assert ("step", A) in [(p.kind, p.chosen[0].text) for p in kept]
    a.value_sum = -1.2  # margin 0.4 < 0.5: dropped
    dropped = pairs_from_tree("p", "q", serialize(root))
    assert ("step", A) not in [(p.kind, p.chosen[0].text) for p in dropped]
    assert pairs_from_tree("p", "q", serialize(root)) == dropped


def test_jsonl_round_trip_and_trl_format(tmp_path: Path) -> None:
    pairs = pairs_from_tree("p", "How many?", serialize(build()))
    path = tmp_path / "pairs.jsonl"
    assert write_jsonl(pairs, path) == 5
    assert read_jsonl(path) == pairs
    record = trl_record(pairs[0])
    assert record == {
        "prompt": "Question: How many?\n\nStep 1:",
        "chosen": B + "Output: 4\n\nStep 2:",
        "rejected": C + "Output: ZeroDivisionError: division by zero\n\nStep 2:",
    }


def test_validation_split_is_by_problem_and_stable() -> None:
    ids = [f"gsm8k/train/{i}" for i in range(1000)]
    held = [i for i in ids if is_validation(i)]
    # A salted hash of the id alone: the same problems in every run and on every machine.
    assert len(held) == 193
    assert held[:5] == [
        "gsm8k/train/6",
        "gsm8k/train/10",
        "gsm8k/train/12",
        "gsm8k/train/19",
        "gsm8k/train/31",
    ]
