"""Pair extraction on a hand-built tree with exact expected pairs."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from typer.testing import CliRunner

from thinktree.cli import app
from thinktree.search.mcts.tree import Node, add_local, backup, serialize
from thinktree.search.sampling import final_answer
from thinktree.steps import Step, StepKind
from thinktree.store import ResultRow, RunStore
from thinktree.train.ppm.data import collect_pairs
from thinktree.train.ppm.pairs import (
    is_validation,
    outcome_pairs,
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


def test_gzip_pairs_round_trip_to_the_same_bytes(tmp_path: Path) -> None:
    """A .gz pairs file (the verifier's frozen training pairs live in git as one) reads
    back the same pairs, and the same pairs always give the same bytes."""
    pairs = pairs_from_tree("p", "How many?", serialize(build()))
    path = tmp_path / "pairs.jsonl.gz"
    assert write_jsonl(pairs, path) == 5
    first = path.read_bytes()
    assert first[:2] == b"\x1f\x8b"
    assert read_jsonl(path) == pairs
    write_jsonl(pairs, path)
    assert path.read_bytes() == first


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


# Outcome pairs: one problem's samples, as a sampling run stores them.
S1 = "\n```python\n# Two boxes of three.\nx = 2 * 3\nprint(x)\n```\n"
S2 = "\n```python\n# Seven, counting the lid as an apple.\nx = 7\nprint(x)\n```\n"
S3 = "\n```python\nx = 6\nprint(x)\n```\n"
S4 = "\n```python\nx = 5\nprint(x)\n```\n"
R1 = [code(S1, "6"), final("6")]
W1 = [code(S2, "7"), final("7")]
R2 = [code(S3, "6"), final("6.0")]
W2 = [code(S4, "5"), final("5")]  # 2 characters from R2: the pair (R2, W2) is dropped
R3 = [code(B, "4"), code(S3, "6"), final("6")]
W3 = [code(C, "", "ZeroDivisionError: division by zero"), final("9")]
CUT = [code(A, "3")]  # no answer: on neither side


def sample_row(samples: list[tuple[list[Step], bool]], gold: str | None = "6") -> ResultRow:
    trajectories = [
        {"steps": [s.to_dict() for s in steps], "answer": final_answer(steps), "value": None}
        for steps, _ in samples
    ]
    return ResultRow(
        problem_id="p", position=0, question="How many?", gold=gold, answer="6", correct=True,
        generated_tokens=0, prompt_tokens=0, cached_tokens=0, seconds=0.0, stop_reason="done",
        samples={"answers": [t["answer"] for t in trajectories],
                 "correct": [right for _, right in samples]},
        trajectories=trajectories,
    )  # fmt: skip


def text(steps: tuple[Step, ...] | list[Step]) -> str:
    return "".join(s.text for s in steps)


def test_exact_outcome_pairs_from_hand_made_samples() -> None:
    # R1's twin and the cut-off sample are skipped; R2 is too close to W2 and W3.
    row = sample_row([(R1, True), (CUT, False), (W1, False), (list(R1), True), (R2, True),
                      (W2, False), (R3, True), (W3, False)])  # fmt: skip
    pairs = outcome_pairs(row)
    got = [(p.kind, p.node_id, text(p.chosen), text(p.rejected), p.chosen_q, p.rejected_q)
           for p in pairs]  # fmt: skip
    assert got == [
        ("outcome", 0, text(R1), text(W1), 1.0, -1.0),
        ("outcome", 0, text(R1), text(W2), 1.0, -1.0),
        ("outcome", 0, text(R1), text(W3), 1.0, -1.0),
        ("outcome", 0, text(R2), text(W1), 1.0, -1.0),
        ("outcome", 0, text(R3), text(W1), 1.0, -1.0),
        ("outcome", 0, text(R3), text(W2), 1.0, -1.0),
        ("outcome", 0, text(R3), text(W3), 1.0, -1.0),
    ]
    assert all(p.prefix == () and p.question == "How many?" for p in pairs)
    assert outcome_pairs(row) == pairs


def test_outcome_pairs_take_the_first_four_samples_a_side() -> None:
    """Six right and six wrong samples, all far apart: 4 x 4 pairs, of the first four
    of each side in sample order."""
    right = [[code(f"\n```python\ntotal = {n} * 1000 + 6 - {n} * 1000\nprint(total)\n```\n", "6"), final("6")]
             for n in range(6)]  # fmt: skip
    wrong = [[code(f"\n```python\nwrong_{n} = {n} * 777 + 13\nprint(wrong_{n})\n```\n", str(n * 777 + 13)),
              final(str(n * 777 + 13))] for n in range(6)]  # fmt: skip
    row = sample_row([pair for r, w in zip(right, wrong, strict=True) for pair in
                      ((r, True), (w, False))])  # fmt: skip
    got = [(text(p.chosen), text(p.rejected)) for p in outcome_pairs(row)]
    assert got == [(text(r), text(w)) for r in right[:4] for w in wrong[:4]]


def test_no_outcome_pairs_without_both_sides_or_without_gold() -> None:
    assert outcome_pairs(sample_row([(R1, True), (R2, True), (CUT, False)])) == []
    assert outcome_pairs(sample_row([(R1, True), (W1, False)], gold=None)) == []


def test_collect_pairs_reads_trees_and_samples_in_the_order_given(tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    with RunStore(path) as store:
        ids = {}
        for strategy in ("mcts", "sc"):
            ids[strategy] = store.create_run(
                strategy, fingerprint=strategy, kind="eval", dataset="toy", strategy=strategy,
                model=f"{strategy}-policy", config={}, manifest={},
            ).id  # fmt: skip
        store.add_result(ids["mcts"], sample_row([]), tree=serialize(build()))
        store.add_result(ids["sc"], sample_row([(W1, False), (R1, True)]))
        ungraded = sample_row([(W1, False), (R1, True)], gold=None)
        store.add_result(ids["sc"], replace(ungraded, problem_id="q", position=1))
        collected = collect_pairs(store, [ids["sc"], ids["mcts"]])
        kinds = [p.kind for p in collected]
        assert kinds == ["outcome", "step", "step", "step", "final", "final"]
        # Each pair names the policy whose run gave it, and keeps it through a file.
        assert [p.policy for p in collected] == ["sc-policy"] + ["mcts-policy"] * 5

    out = CliRunner().invoke(app, ["ppm", "pairs", "--runs", ids["sc"], "--runs", ids["mcts"],
                                   "--store", str(path), "--out", str(tmp_path / "p.jsonl")])  # fmt: skip
    assert out.exit_code == 0, out.output
    assert out.stdout.splitlines() == [
        f"6 pairs (step 3, final 2, outcome 1) from 1 problem -> {tmp_path / 'p.jsonl'}",
        # Pairs of more than one policy: each one's share.
        "  mcts-policy: 5 pairs (step 3, final 2, outcome 0) from 1 problem",
        "  sc-policy: 1 pair (step 0, final 0, outcome 1) from 1 problem",
    ]
    assert read_jsonl(tmp_path / "p.jsonl") == collected


def test_training_counts_outcome_pairs_only_where_there_are_any() -> None:
    from thinktree.train.ppm.training import pairs_by_kind

    tree = pairs_from_tree("p", "How many?", serialize(build()))
    samples = outcome_pairs(sample_row([(R1, True), (W1, False)]))
    assert pairs_by_kind(tree) == {"step": 3, "final": 2}
    assert pairs_by_kind(tree + samples) == {"step": 3, "final": 2, "outcome": 1}
