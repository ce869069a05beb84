"""SFT data selection (rStar's rule) and the SFT example's rendering and loss mask."""

from __future__ import annotations

from thinktree.engines.scripted import ScriptedEngine
from thinktree.search.mcts.tree import Node, serialize
from thinktree.steps import Step, StepKind
from thinktree.train.sft.data import (
    Trajectory,
    read_trajectories,
    select_top,
    tree_trajectories,
    with_references,
    write_trajectories,
)
from thinktree.train.sft.format import IGNORE_INDEX, SFTExample, examples_hash, segments, tokenize


def code(text: str, output: str = "1", error: str | None = None) -> Step:
    kind = StepKind.ERROR if error else StepKind.CODE
    return Step(
        text=f" {text}\n```python\n{text}\n```\n", kind=kind, code=text, output=output, error=error
    )


def final(answer: str) -> Step:
    return Step(text=f" Answer: \\boxed{{{answer}}}", kind=StepKind.FINAL, answer=answer)


def add(parent: Node, nodes: list[Node], step: Step, visits: int, value: float, **kw) -> Node:
    node = Node(len(nodes), parent=parent, step=step, depth=parent.depth + 1)
    node.visits, node.value_sum = visits, value
    for key, val in kw.items():
        setattr(node, key, val)
    parent.children.append(node)
    nodes.append(node)
    return node


def sample_tree() -> dict:
    """root ─ a (Q 0.5) ─ a1 answer 6 ✓ (Q 1)
               └ a2 answer 7 ✗
    b (Q 1)   ─ b1 answer 6 ✓ (Q 1)
    c error (Q 1) ─ c1 answer 6 ✓ (a repaired error: dropped)
    d (Q 0)   ─ d1 answer 6 ✓ (Q 1)"""
    root = Node(0)
    nodes = [root]
    a = add(root, nodes, code("a = 1"), 2, 1.0)
    add(a, nodes, final("6"), 1, 1.0, terminal=True, terminal_reason="answer", correct=True)
    add(a, nodes, final("7"), 1, -1.0, terminal=True, terminal_reason="answer", correct=False)
    b = add(root, nodes, code("b = 1"), 1, 1.0)
    add(b, nodes, final("6"), 1, 1.0, terminal=True, terminal_reason="answer", correct=True)
    c = add(root, nodes, code("c = 1/0", error="ZeroDivisionError"), 1, 1.0)
    add(c, nodes, final("6"), 1, 1.0, terminal=True, terminal_reason="answer", correct=True)
    d = add(root, nodes, code("d = 1"), 2, 0.0)
    add(d, nodes, final("6"), 1, 1.0, terminal=True, terminal_reason="answer", correct=True)
    return serialize(root)


def test_tree_trajectories_are_correct_error_free_paths_with_q() -> None:
    found = tree_trajectories("p", "Q?", sample_tree(), "run-1")
    summary = [(t.node_id, t.mean_q, t.min_q, len(t.steps)) for t in found]
    # a1: (0.5 + 1) / 2; b1: 1; d1: (0 + 1) / 2. The wrong a2 and the repaired c1 are dropped.
    assert summary == [(2, 0.75, 0.5, 2), (5, 1.0, 1.0, 2), (9, 0.5, 0.0, 2)]
    assert all(t.source == "run-1" and t.question == "Q?" for t in found)


def test_select_top_two_by_mean_then_min_q_with_distinct_texts() -> None:
    found = tree_trajectories("p", "Q?", sample_tree(), "run-1")
    top = select_top(found)
    assert [t.node_id for t in top] == [5, 2]
    # Ties on mean Q go to the higher minimum Q; identical texts count once.
    steps = (code("x = 1"), final("6"))
    tie = [
        Trajectory("q", "Q", steps, 0.5, 0.0, "r1", 1),
        Trajectory("q", "Q", steps, 0.5, 0.2, "r2", 2),
        Trajectory("q", "Q", (code("y = 1"), final("6")), 0.5, 0.1, "r1", 3),
    ]
    assert [(t.source, t.node_id) for t in select_top(tie)] == [("r2", 2), ("r1", 3)]
    assert [t.node_id for t in select_top(tie, per_problem=1)] == [2]


def test_references_join_once_per_problem_and_never_duplicate(tmp_path) -> None:
    steps = (code("x = 1"), final("6"))
    searched = [Trajectory("p", "Q", steps, 1.0, 1.0, "run", 3)]
    refs = [
        Trajectory("p", "Q", steps, None, None, "reference"),  # same text: dropped
        Trajectory("p", "Q", (code("z = 6"), final("6")), None, None, "reference"),
        Trajectory("p", "Q", (code("w = 6"), final("6")), None, None, "reference"),
        Trajectory("q", "Q2", steps, None, None, "reference"),
    ]
    merged = with_references(searched, refs)
    assert [(t.problem_id, t.source, t.steps[0].code) for t in merged] == [
        ("p", "run", "x = 1"),
        ("p", "reference", "z = 6"),
        ("q", "reference", "x = 1"),
    ]
    digest = write_trajectories(merged, tmp_path / "sft.jsonl")
    assert len(digest) == 64
    assert read_trajectories(tmp_path / "sft.jsonl") == merged
    assert not list(tmp_path.glob("*.tmp"))


class CharTokenizer:
    """One token per character, ids = code points: masks can be checked exactly."""

    def __call__(self, text, add_special_tokens=False, return_offsets_mapping=False):
        return {
            "input_ids": [ord(ch) for ch in text],
            "offset_mapping": [(i, i + 1) for i in range(len(text))],
        }


def test_sft_example_masks_prompt_and_sandbox_output() -> None:
    engine = ScriptedEngine(lambda r, i: "")
    steps = [code("x = 2", output="2"), final("2")]
    parts = segments("Q?", steps, engine.render_chat)
    texts = [(p.text, p.target) for p in parts]
    assert texts[1:] == [
        (" x = 2\n```python\nx = 2\n```\n", True),
        ("Output:", True),
        (" 2\n\nStep 2:", False),
        (" Answer: \\boxed{2}", True),
    ]
    assert texts[0][1] is False
    assert parts[0].text.endswith("Question: Q?\n</user>\n<assistant>\nStep 1:")
    example = tokenize(parts, CharTokenizer(), eos_token_id=0, max_length=10_000)
    assert example is not None
    targets = "".join(chr(i) for i, label in zip(example.input_ids, example.labels, strict=True)
                      if label != IGNORE_INDEX and i)  # fmt: skip
    assert targets == " x = 2\n```python\nx = 2\n```\nOutput: Answer: \\boxed{2}"
    assert example.input_ids[-1] == 0 and example.labels[-1] == 0  # end of turn is a target
    assert example.target_tokens == len(targets) + 1
    assert tokenize(parts, CharTokenizer(), 0, max_length=20) is None


def test_sft_rendering_matches_the_prompt_the_policy_is_served() -> None:
    from thinktree.steps import PromptStyle, build_step_prompt

    engine = ScriptedEngine(lambda r, i: "")
    steps = [code("x = 2", output="2"), code("y = 3", output="3"), final("5")]
    parts = segments("Q?", steps, engine.render_chat)
    served = build_step_prompt("Q?", engine.render_chat, PromptStyle.ZERO_SHOT)
    assert "".join(p.text for p in parts) == served.prompt(steps)


def test_the_examples_hash_pins_ids_labels_order_and_split() -> None:
    """Pinned: a change of the hash would refuse every carried SFT checkpoint."""
    first, second = SFTExample([5, 6, 7], [-100, 6, 7]), SFTExample([8, 9], [-100, 9])
    digest = examples_hash([first], [second])
    assert digest == "ade5b392a509547f60669e9c329eefdbe0a3b504d03f4ad0615e908e3873837b"
    assert examples_hash([second], [first]) != digest
    assert examples_hash([first, second], []) != digest
    assert examples_hash([SFTExample([5, 6, 7], [-100, -100, 7])], [second]) != digest
