"""A tiny random Qwen2 model, a character tokenizer and a base GGUF to match, for the LM
PPM's tests: every piece of the trainer runs for real, on a model of a few thousand
weights."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest

from thinktree.steps import Step, StepKind, code_step_text, final_step_text
from thinktree.train.ppm.pairs import PreferencePair

YES_ID, NO_ID = 128, 129
VOCAB = 130
HIDDEN, LAYERS, MLP, HEADS, KV_HEADS = 32, 2, 64, 4, 2


class CharTokenizer:
    """One id a character (ASCII; anything else is ``?``), and `` yes`` / `` no`` as one
    id each, matched first as a BPE vocabulary would."""

    words: ClassVar[dict[str, int]] = {" yes": YES_ID, " no": NO_ID}

    def encode(self, text: str, add_special_tokens: bool = False) -> list[int]:
        ids, i = [], 0
        while i < len(text):
            for word, token in self.words.items():
                if text.startswith(word, i):
                    ids.append(token)
                    i += len(word)
                    break
            else:
                ids.append(ord(text[i]) if ord(text[i]) < 128 else ord("?"))
                i += 1
        return ids


def tiny_model(seed: int = 0) -> Any:
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    torch.manual_seed(seed)
    config = Qwen2Config(
        vocab_size=VOCAB, hidden_size=HIDDEN, intermediate_size=MLP, num_hidden_layers=LAYERS,
        num_attention_heads=HEADS, num_key_value_heads=KV_HEADS, max_position_embeddings=2048,
        tie_word_embeddings=True,
    )  # fmt: skip
    return Qwen2ForCausalLM(config).eval()


def load_tiny(path: Path) -> tuple[Any, Any]:
    """The trainer's loader: the same tiny model whatever the file."""
    return tiny_model(), CharTokenizer()


def write_base_gguf(path: Path) -> Path:
    """A GGUF file with the tiny model's projection shapes (zeros): what the adapter
    export checks the LoRA against."""
    from gguf import GGUFWriter

    head_dim = HIDDEN // HEADS
    shapes = {  # llama.cpp name: (n_out, n_in), numpy order
        "attn_q": (HIDDEN, HIDDEN), "attn_k": (KV_HEADS * head_dim, HIDDEN),
        "attn_v": (KV_HEADS * head_dim, HIDDEN), "attn_output": (HIDDEN, HIDDEN),
        "ffn_gate": (MLP, HIDDEN), "ffn_up": (MLP, HIDDEN), "ffn_down": (HIDDEN, MLP),
    }  # fmt: skip
    writer = GGUFWriter(str(path), "qwen2")
    for layer in range(LAYERS):
        for name, shape in shapes.items():
            writer.add_tensor(f"blk.{layer}.{name}.weight", np.zeros(shape, dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def code(text: str, output: str = "", error: str | None = None) -> Step:
    kind = StepKind.ERROR if error else StepKind.CODE
    return Step(code_step_text(text), kind, code=text, output=output, error=error)


def pair(problem: str, good: int, *, kind: str = "step") -> PreferencePair:
    """A pair whose chosen step prints a number and whose rejected step raises: the rule
    a model can learn from a handful of them."""
    question = f"Problem {problem}: what is {good} + 1?"
    prefix = (code(f"a = {good}\nprint(a)", output=str(good)),)
    chosen = (code("b = a + 1\nprint(b)", output=str(good + 1)),)
    rejected = (code("b = a / 0\nprint(b)", error="ZeroDivisionError: division by zero"),)
    if kind == "final":
        chosen = (*chosen, Step(final_step_text(str(good + 1)), StepKind.FINAL, answer="x"))
        return PreferencePair(problem, question, (), prefix + chosen, prefix + rejected,
                              1.0, -1.0, "final", 0)  # fmt: skip
    return PreferencePair(problem, question, prefix, chosen, rejected, 1.0, -1.0, "step", 1)


def node_pairs(problem: str, good: int, goods: int = 2, bads: int = 2) -> list[PreferencePair]:
    """Every (good, bad) pair of one MCTS node whose ``goods`` children print the next
    number (each in its own words) and whose ``bads`` children raise: ``goods`` x
    ``bads`` step pairs of ``goods + bads`` distinct sides, one shared prefix."""
    question = f"Problem {problem}: what is {good} + 1?"
    prefix = (code(f"a = {good}\nprint(a)", output=str(good)),)
    chosen = [code(f"b{i} = a + 1\nprint(b{i})", output=str(good + 1)) for i in range(goods)]
    rejected = [code(f"c{i} = a / 0\nprint(c{i})", error="ZeroDivisionError: division by zero")
                for i in range(bads)]  # fmt: skip
    return [
        PreferencePair(problem, question, prefix, (c,), (r,), 1.0, -1.0, "step", 1)
        for c in chosen
        for r in rejected
    ]


PAIRS = [pair(f"p{i}", 3 + i) for i in range(12)] + [pair("p4", 40, kind="final")]
"""With validation_fraction 0.3, problems p0 p2 p3 p7 p9 p11 are held out, the rest train."""


@pytest.fixture
def one_thread():
    """Tiny matrices on a busy machine: more threads only fight each other (a step took
    seconds with two threads, milliseconds with one)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def base(tmp_path: Path) -> Any:
    """The tiny model's base file as the trainer sees it."""
    from thinktree.train.ppm.lm.output import BaseFile

    return BaseFile("tiny", write_base_gguf(tmp_path / "tiny.gguf"), "ab" * 32)
