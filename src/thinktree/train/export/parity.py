"""Parity of a fine-tuned policy between PEFT (training) and llama.cpp (serving).

The proof that an exported LoRA adapter serves the model that was trained: at
teacher-forced positions of held-out texts, the PEFT model's most likely next
token is compared with llama.cpp's greedy next token after the same token prefix.

How agreement is scored:
- A text is a ``(prompt, solution)`` pair, or one string (then its first token is
  the prompt). Prompt and solution are tokenised separately with the HF tokenizer
  and concatenated, as when a served model continues a prompt; both sides get
  those same ids, so tokenisation cannot cause a disagreement. Texts whose
  llama.cpp tokenisation differs are counted in ``tokenization_mismatches``.
- Positions are every solution token, the first one predicted from the prompt
  alone, texts taken in order until ``max_positions`` are used.
- ``agree`` is the fraction of positions where llama.cpp with the adapter (the
  engine's own scales) picks the PEFT model's argmax; ``base_agree`` the same for
  llama.cpp with every adapter at scale 0. The gap says the adapter does something;
  ``agree`` below 1 measures the base quantisation (llama.cpp multiplies in
  quantised arithmetic, PEFT in float over dequantised weights) plus any export bug.
  Measured on the 0.5B with a random r=8 adapter: agree 1.0 and base_agree 0.91
  over 64 positions (1.0 / 0.92 over 116); the two sides' log-probabilities of
  llama.cpp's pick differ by 0.001 (median) to 0.09 (max), with or without adapter.

Cost: one HF forward pass per text; in llama.cpp, per text and setting, the
prompt once and then one token per position (the slot's prefix cache holds the
rest). The adapter and base passes of a text run one after the other because a
change of LoRA scale empties the slot's cache. The engine must be a
``LlamaCppEngine`` with ``LlamaCppOptions(lora=((adapter, 1.0),), cache_ram_mib=0)``:
llama.cpp's RAM prompt cache would hand the base pass states computed with the
adapter (measured: it turned a base-model argmax around), so the engine refuses
the scale-0 requests otherwise.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol


class NextTokenEngine(Protocol):
    """What parity needs from a serving engine (``LlamaCppEngine`` has both)."""

    def greedy_next_token(self, token_ids: Sequence[int], lora_scale: float | None = None) -> int:
        """Most likely next token id after ``token_ids``; ``lora_scale`` 0 = no adapter."""
        ...

    def tokenize(self, text: str) -> list[int]: ...


@dataclass(frozen=True)
class ParityReport:
    positions: int
    agree: float
    """Fraction of positions where llama.cpp with the adapter picks the PEFT argmax."""
    base_agree: float
    """The same with every adapter at scale 0 (the unchanged base model)."""
    texts: int
    """Texts that contributed at least one position."""
    tokenization_mismatches: int
    """Of those, texts that llama.cpp's own tokenizer would have split differently."""
    seconds: float


def split_text(text: str | tuple[str, str], tokenizer: Any) -> tuple[list[int], list[int]]:
    """``(prompt ids, solution ids)`` of one text, each tokenised on its own."""

    def encode(part: str) -> list[int]:
        return list(tokenizer(part, add_special_tokens=False)["input_ids"])

    if isinstance(text, tuple):
        prompt, solution = text
        return encode(prompt), encode(solution)
    ids = encode(text)
    return ids[:1], ids[1:]


def hf_argmax(model: Any, token_ids: Sequence[int], start: int) -> list[int]:
    """The model's argmax next token after each prefix ``token_ids[:i]``, ``start <= i < len``."""
    import torch

    with torch.inference_mode():
        logits = model(input_ids=torch.tensor([list(token_ids)])).logits[0]
    return logits[start - 1 : len(token_ids) - 1].argmax(dim=-1).tolist()


def teacher_forced_agreement(
    hf_model: Any,
    tokenizer: Any,
    engine: NextTokenEngine,
    texts: Sequence[str | tuple[str, str]],
    max_positions: int,
) -> ParityReport:
    """Compare PEFT's and llama.cpp's next-token choices (see the module docstring).

    ``hf_model`` is the PEFT model (adapter active) in eval mode; ``engine`` serves
    the same base file with the exported adapter. Raises ``ValueError`` when the
    texts give no position to compare.
    """
    if max_positions < 1:
        raise ValueError(f"max_positions must be at least 1, got {max_positions}")
    started = time.perf_counter()
    positions = agreed = base_agreed = used_texts = mismatches = 0
    for text in texts:
        if positions >= max_positions:
            break
        prompt, solution = split_text(text, tokenizer)
        take = min(len(solution), max_positions - positions)
        if not prompt or take == 0:
            continue
        ids = prompt + solution[:take]
        start = len(prompt)
        expected = hf_argmax(hf_model, ids, start)
        served = [engine.greedy_next_token(ids[:i]) for i in range(start, len(ids))]
        base = [engine.greedy_next_token(ids[:i], lora_scale=0.0) for i in range(start, len(ids))]
        agreed += sum(e == s for e, s in zip(expected, served, strict=True))
        base_agreed += sum(e == b for e, b in zip(expected, base, strict=True))
        positions += take
        used_texts += 1
        mismatches += _tokenized_differently(text, prompt, solution, engine)
    if positions == 0:
        raise ValueError("no text has a solution token to compare; give (prompt, solution) pairs")
    return ParityReport(
        positions=positions,
        agree=agreed / positions,
        base_agree=base_agreed / positions,
        texts=used_texts,
        tokenization_mismatches=mismatches,
        seconds=time.perf_counter() - started,
    )


def _tokenized_differently(
    text: str | tuple[str, str], prompt: list[int], solution: list[int], engine: NextTokenEngine
) -> bool:
    if isinstance(text, tuple):
        return engine.tokenize(text[0]) != prompt or engine.tokenize(text[1]) != solution
    return engine.tokenize(text) != prompt + solution


def measure_adapter_parity(
    base_gguf: Path,
    peft_dir: Path,
    adapter_gguf: Path,
    texts: Sequence[str | tuple[str, str]],
    max_positions: int,
    threads: int = 0,
) -> ParityReport:
    """Parity of a saved PEFT adapter and its GGUF export, loading both sides.

    Loads the base model from ``base_gguf`` in torch (~40 s for the 0.5B here)
    with the adapter of ``peft_dir``, and serves ``adapter_gguf`` over the same
    file in a one-slot llama.cpp engine started as the measurement needs it
    (``cache_ram_mib=0``, a context that fits the longest text). ``threads`` is
    llama.cpp's (0 = all cores; 1 when another process keeps the cores busy).
    """
    from peft import PeftModel

    from thinktree.engines.llamacpp import LlamaCppEngine, LlamaCppOptions
    from thinktree.train.export.hf_gguf import load_hf_from_gguf

    if not texts or max_positions < 1:  # refused before the slow load, not after
        raise ValueError("parity needs at least one text and max_positions >= 1")
    if not Path(adapter_gguf).is_file():
        raise ValueError(f"GGUF adapter {adapter_gguf} does not exist")
    model, tokenizer = load_hf_from_gguf(base_gguf)
    policy = PeftModel.from_pretrained(model, str(peft_dir)).eval()
    longest = max((sum(map(len, split_text(t, tokenizer))) for t in texts), default=0)
    options = LlamaCppOptions(
        n_parallel=1,
        ctx_per_slot=max(512, -(-(longest + 8) // 256) * 256),
        threads=threads,
        cache_ram_mib=0,
        lora=((str(adapter_gguf), 1.0),),
    )
    with LlamaCppEngine(base_gguf, options) as engine:
        return teacher_forced_agreement(policy, tokenizer, engine, texts, max_positions)
