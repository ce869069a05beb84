"""Does reading a group's distinct sides once pay? Time the LM PPM's training pass
(forward and backward, LoRA on every projection, the trainer's settings) over the
same real pairs grouped (``group_pairs``: one batch a group, each distinct side once)
and pair by pair, on the model the LM PPM trains over, and check both give the same
loss.

    thinktree bench benchmarks/recipes/lm_ppm_groups.yaml

The pairs: the first ``per_kind`` groups of each kind (outcome, step, final) of a
pairs file (``thinktree ppm pairs``), so the figure weighs the kinds alike rather
than as a training set mixes them; the results give each kind's seconds a pair
too. Writes ``benchmarks/results/lm_ppm_groups.json``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from pydantic import Field

from thinktree.eval.bench.probes.base import Probe, ProbeContext, ProbeError, ProbeOptions
from thinktree.eval.bench.probes.results import write_results


class LMPPMGroupsOptions(ProbeOptions):
    pairs: str = "benchmarks/pairs/probe-pairs.jsonl.gz"
    """A pairs file (relative to the repository)."""
    per_kind: int = Field(2, ge=1)
    """Groups timed of each kind of pair."""
    model: str = "fast"
    """The model the LM PPM trains over."""
    out: str = "benchmarks/results/lm_ppm_groups.json"
    """The results file (relative to the repository)."""


def run(options: LMPPMGroupsOptions, ctx: ProbeContext) -> Path:
    import torch
    from peft import get_peft_model

    from thinktree.models import resolve_model
    from thinktree.train.export.hf_gguf import load_hf_from_gguf
    from thinktree.train.lora import decide_bf16, lora_config
    from thinktree.train.ppm.lm.config import LMPPMConfig
    from thinktree.train.ppm.lm.plan import pair_groups
    from thinktree.train.ppm.lm.scoring import group_logits, group_loss
    from thinktree.train.ppm.lm.tokens import answer_ids, group_tokens
    from thinktree.train.ppm.pairs import read_jsonl

    source = ctx.path(options.pairs)
    if not source.is_file():
        raise ProbeError(f"{source} is not a file; write one with thinktree ppm pairs --out")
    pairs = read_jsonl(source)
    config = LMPPMConfig(base_model=options.model)
    chosen: list[list[int]] = []
    for kind in ("outcome", "step", "final"):
        of_kind = [g for g in pair_groups(pairs, True) if pairs[g[0]].kind == kind]
        chosen += of_kind[: options.per_kind]
    if not chosen:
        raise ProbeError(f"{source} holds no pairs")
    resolved = resolve_model(options.model)
    model, tokenizer = load_hf_from_gguf(resolved.path, sha256=resolved.digest())
    torch.manual_seed(0)
    model = get_peft_model(model, lora_config(config.rank, config.alpha, 0.0))
    model.train()
    bf16 = decide_bf16(None, None)
    answer = answer_ids(tokenizer)

    def timed(groups: list[Any]) -> tuple[float, float]:
        started, total = time.perf_counter(), 0.0
        for group in groups:
            with torch.autocast(device_type="cpu", dtype=torch.bfloat16, enabled=bf16):
                logits = group_logits(model, group, config.share_prefix)
            loss, _ = group_loss(logits, group.pairs, *answer, config.mass_weight)
            loss.backward()
            total += float(loss.detach())
        model.zero_grad()
        return time.perf_counter() - started, total

    warm = group_tokens(tokenizer, [pairs[chosen[0][0]]], config.max_length)
    timed([warm])  # the first pass pays one-time costs; neither layout should
    kinds: dict[str, Any] = {}
    together_s = apart_s = 0.0
    loss_gap = 0.0
    for kind in ("outcome", "step", "final"):
        groups = [g for g in chosen if pairs[g[0]].kind == kind]
        if not groups:
            continue
        members = [[pairs[i] for i in g] for g in groups]
        grouped = [group_tokens(tokenizer, m, config.max_length) for m in members]
        single = [group_tokens(tokenizer, [p], config.max_length) for m in members for p in m]
        seconds_grouped, loss_grouped = timed(grouped)
        seconds_single, loss_single = timed(single)
        count = len(single)
        kinds[kind] = {
            "groups": len(grouped),
            "pairs": count,
            "sides_read_grouped": sum(len(g.sides) for g in grouped),
            "sides_read_apart": 2 * count,
            "seconds_per_pair_grouped": round(seconds_grouped / count, 3),
            "seconds_per_pair_apart": round(seconds_single / count, 3),
            "speedup": round(seconds_single / seconds_grouped, 2),
        }
        together_s += seconds_grouped
        apart_s += seconds_single
        loss_gap = max(loss_gap, abs(loss_grouped - loss_single) / count)
        ctx.say(f"{kind}: {count} pairs in {len(grouped)} groups: "
                f"{seconds_grouped / count:.2f} s a pair grouped, "
                f"{seconds_single / count:.2f} apart ({seconds_single / seconds_grouped:.2f}x)")  # fmt: skip
    doc = {
        "command": ctx.command,
        "model": resolved.name,
        "pairs_file": options.pairs,
        "bf16": bf16,
        "torch_threads": torch.get_num_threads(),
        "kinds": kinds,
        "speedup": round(apart_s / together_s, 2),
        "max_loss_gap_per_pair": loss_gap,
    }
    return write_results(ctx.path(options.out), doc)


PROBE = Probe(LMPPMGroupsOptions, "the LM PPM's training pass with a group's sides read once", run)
