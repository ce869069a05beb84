"""Does running a pair's shared prefix once pay? Time the LM PPM's training step (forward
and backward of one pair, LoRA on every projection) with and without prefix sharing,
on small random Qwen2 models, and check both give the same scores.

    thinktree bench benchmarks/recipes/lm_ppm_prefix.yaml [--set hidden=[32,128]]

The pair's shape follows GSM8K step pairs: a long shared prefix (question and earlier
steps) and two short continuations (one step and the suffix). Writes
``benchmarks/results/lm_ppm_prefix.json`` (one entry per hidden size).
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import Field

from thinktree.eval.bench.probes.base import Probe, ProbeContext, ProbeOptions
from thinktree.eval.bench.probes.results import write_results

if TYPE_CHECKING:
    import torch


class LMPPMPrefixOptions(ProbeOptions):
    hidden: list[int] = Field(default_factory=lambda: [32, 128], min_length=1)
    """Hidden sizes of the random models timed, one after the other."""
    layers: int = Field(2, ge=1)
    """Transformer layers of each model."""
    vocab: int = Field(2048, ge=3)
    """Vocabulary size (the pair's ids are drawn from it)."""
    shared: int = Field(250, ge=1)
    """Tokens of the shared prefix (question and earlier steps)."""
    sides: tuple[int, int] = (60, 45)
    """Tokens of each side's continuation (one step and the suffix)."""
    repeats: int = Field(5, ge=1)
    """Timed steps per layout (the median counts)."""
    out: str = "benchmarks/results/lm_ppm_prefix.json"
    """The results file (relative to the repository)."""


def tiny_model(hidden: int, layers: int, vocab: int) -> torch.nn.Module:
    import torch
    from peft import get_peft_model
    from transformers import Qwen2Config, Qwen2ForCausalLM

    from thinktree.train.lora import lora_config

    torch.manual_seed(0)
    config = Qwen2Config(
        vocab_size=vocab, hidden_size=hidden, intermediate_size=4 * hidden,
        num_hidden_layers=layers, num_attention_heads=4, num_key_value_heads=2,
        max_position_embeddings=1024, tie_word_embeddings=True,
    )  # fmt: skip
    model = Qwen2ForCausalLM(config)
    return get_peft_model(model, lora_config(8, 16, 0.0))


def run(options: LMPPMPrefixOptions, ctx: ProbeContext) -> Path:
    import torch

    from thinktree.train.ppm.lm.scoring import pair_logits, pair_loss
    from thinktree.train.ppm.lm.tokens import PairTokens

    torch.set_num_threads(1)
    gen = torch.Generator().manual_seed(1)

    def ids(n: int) -> tuple[int, ...]:
        return tuple(torch.randint(2, options.vocab, (n,), generator=gen).tolist())

    pair = PairTokens(ids(options.shared), ids(options.sides[0]), ids(options.sides[1]), False)
    figures: dict[str, Any] = {}
    for hidden in options.hidden:
        model = tiny_model(hidden, options.layers, options.vocab)
        model.train()
        times: dict[bool, list[float]] = {True: [], False: []}
        scores = {}
        for _ in range(options.repeats):
            for share in (True, False):
                started = time.perf_counter()
                loss, s = pair_loss(pair_logits(model, pair, share), 0, 1, 0.1)
                loss.backward()
                times[share].append(time.perf_counter() - started)
                scores[share] = s
                model.zero_grad()
        gap = float((scores[True] - scores[False]).abs().max())
        shared_ms = 1000 * statistics.median(times[True])
        apart_ms = 1000 * statistics.median(times[False])
        figures[str(hidden)] = {
            "shared_prefix_ms": round(shared_ms, 1),
            "whole_sides_ms": round(apart_ms, 1),
            "speedup": round(apart_ms / shared_ms, 2),
            "max_score_gap": gap,
        }
        ctx.say(
            f"hidden {hidden}, {options.layers} layers, shared {options.shared} + "
            f"{list(options.sides)}: shared prefix {shared_ms:.1f} ms, whole sides "
            f"{apart_ms:.1f} ms ({apart_ms / shared_ms:.2f}x), max score gap {gap:.2e}"
        )
    doc = {
        "command": ctx.command,
        "layers": options.layers,
        "vocab": options.vocab,
        "shared": options.shared,
        "sides": list(options.sides),
        "repeats": options.repeats,
        "torch_threads": 1,
        "hidden": figures,
    }
    return write_results(ctx.path(options.out), doc)


PROBE = Probe(LMPPMPrefixOptions, "the LM PPM's training step with a pair's prefix run once", run)
