"""How fast LoRA SFT of the fast 0.5B trains on this CPU: fp32 against bf16 autocast.

    thinktree bench benchmarks/recipes/sft.yaml [--set steps=4] [--set max_length=2048]

Builds real SFT examples (the zero-shot format, masks as in training) from the
verified trajectories of a stored MCTS run, or from GSM8K's converted reference
solutions when no run is given, wraps the model in the LoRA evolve trains
(r 16, attention and MLP projections), and times forward + backward +
optimizer step per example for each precision, side by side in one process
after one warm-up step each. Writes ``benchmarks/results/sft.json`` (or ``out``),
with the CPU's capability and whether torch finds native bfloat16 on it
(``thinktree.train.lora.native_bf16``, which decides the SFT default).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from pydantic import Field, model_validator

from thinktree.eval.bench.probes.base import Probe, ProbeContext, ProbeError, ProbeOptions
from thinktree.eval.bench.probes.results import write_results


class SFTOptions(ProbeOptions):
    store: str | None = None
    """A run store whose MCTS run gives the trajectories (with run); default: GSM8K references."""
    run: str | None = None
    """The stored MCTS run whose verified trajectories are trained on (with store)."""
    steps: int = Field(4, ge=1)
    """Timed examples per precision."""
    max_length: int = Field(2048, ge=1)
    """Skip examples longer than this (tokens)."""
    out: str = "benchmarks/results/sft.json"
    """The results file (relative to the repository)."""

    @model_validator(mode="after")
    def _both_or_neither(self) -> SFTOptions:
        if (self.store is None) != (self.run is None):
            raise ValueError("give both store and run (a stored MCTS run), or neither")
        return self


def trajectories(store: Path | None, run: str | None, count: int) -> list[Any]:
    if store and run:
        from thinktree.store import RunStore
        from thinktree.train.sft.data import search_trajectories, select_top

        with RunStore(store, create=False) as db:
            return select_top(search_trajectories(db, [run]))[:count]
    from thinktree.grading import Grader
    from thinktree.problems import load_benchmark
    from thinktree.sandbox import Sandbox, SandboxConfig
    from thinktree.search.judge import GraderJudge
    from thinktree.train.sft.data import Trajectory
    from thinktree.train.sft.reference_check import convert_references

    problems = load_benchmark("gsm8k", "train")[: count * 2]
    with Sandbox(SandboxConfig(workers=2)) as box, Grader(workers=1) as grader:
        report = convert_references(problems, box, GraderJudge(grader))
    return [
        Trajectory(p.id, p.question, tuple(report.trajectories[p.id]), None, None, "reference")
        for p in problems
        if p.id in report.trajectories
    ][:count]


def run(options: SFTOptions, ctx: ProbeContext) -> Path:
    import torch
    from peft import LoraConfig, get_peft_model

    from thinktree.models import resolve_model
    from thinktree.train.export.hf_gguf import load_hf_from_gguf
    from thinktree.train.lora import TARGET_MODULES, native_bf16
    from thinktree.train.sft.training import build_examples

    # Four times as many as needed, so examples over max_length can be skipped.
    store = None if options.store is None else ctx.path(options.store)
    items = trajectories(store, options.run, 4 * (options.steps + 1))
    model, tokenizer = load_hf_from_gguf(resolve_model("fast").path)
    examples = build_examples(items, tokenizer, options.max_length)[0][: options.steps + 1]
    if len(examples) < 2:
        raise ProbeError(
            f"fewer than 2 examples fit in max_length {options.max_length}; raise max_length"
        )
    lora = LoraConfig(
        r=16, lora_alpha=32, target_modules=list(TARGET_MODULES), task_type="CAUSAL_LM"
    )
    model = get_peft_model(model, lora)
    model.train()
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-5)
    result: dict[str, object] = {
        "model": "qwen2.5-coder-0.5b-instruct (dequantised from Q4_K_M)",
        "lora_rank": 16,
        "torch_threads": torch.get_num_threads(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "native_bf16": native_bf16(),
        "examples": len(examples),
        "mean_tokens_per_example": sum(len(e.input_ids) for e in examples) / len(examples),
    }
    for label, autocast in (("fp32", False), ("bf16_autocast", True)):
        seconds = tokens = 0.0
        for i, example in enumerate(examples):
            ids = torch.tensor([example.input_ids])
            labels = torch.tensor([example.labels])
            started = time.perf_counter()
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
                loss = model(input_ids=ids, labels=labels).loss
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
            if i > 0:  # the first step warms up kernels and allocator
                seconds += time.perf_counter() - started
                tokens += len(example.input_ids)
        result[f"{label}_tokens_per_second"] = round(tokens / seconds, 1)
        ctx.say(f"{label}: {tokens / seconds:.1f} tokens/s")
    result["bf16_speedup"] = round(
        result["bf16_autocast_tokens_per_second"] / result["fp32_tokens_per_second"],
        2,  # type: ignore[operator]
    )
    path = write_results(ctx.path(options.out), result)
    ctx.say(json.dumps(result, indent=2))
    return path


PROBE = Probe(SFTOptions, "LoRA SFT tokens/s of the 0.5B, float32 against bf16 autocast", run)
