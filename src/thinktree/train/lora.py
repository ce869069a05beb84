"""What every LoRA that thinktree trains shares: the modules it adapts and when to use bfloat16.

The policy's SFT (:mod:`thinktree.train.sft.training`) and the LM PPM
(:mod:`thinktree.train.ppm.lm`) both train a LoRA over weights dequantised from the
GGUF file llama.cpp serves, and both adapters are served by llama.cpp over that
file, so they follow the same rules, kept here once:

- LoRA targets the attention and MLP projections only: both embedded models tie
  their input and output embeddings and llama.cpp's adapter loader rejects
  adapters on them; llama.cpp applies ``scale * alpha / rank`` (no rsLoRA).
- bfloat16 autocast where the device computes it natively (weights and LoRA stay
  float32), float32 elsewhere, where torch emulates bfloat16 far slower.
"""

from __future__ import annotations

from typing import Any

TARGET_MODULES = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
"""The attention and MLP projections of a Qwen2 block (llama.cpp's ``attn_*`` and ``ffn_*``)."""


def lora_config(rank: int, alpha: float, dropout: float) -> Any:
    """PEFT's LoRA settings for a causal LM that llama.cpp can serve over the base file."""
    from peft import LoraConfig

    return LoraConfig(
        r=rank,
        lora_alpha=alpha,
        lora_dropout=dropout,
        target_modules=list(TARGET_MODULES),
        bias="none",
        task_type="CAUSAL_LM",
    )


def native_bf16() -> bool:
    """Whether this machine's training device computes bfloat16 natively: a CUDA GPU
    that supports it, or a CPU with AVX512-BF16 or AMX (torch's own CPU probe)."""
    import torch

    if torch.cuda.is_available():
        return bool(torch.cuda.is_bf16_supported())
    return bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())


def decide_bf16(requested: bool | None, saved: bool | None) -> bool:
    """bfloat16 autocast or not: as ``requested``, else as a checkpoint's first sitting
    decided it (``saved``, so a run moved to other hardware still resumes the same
    way), else :func:`native_bf16`."""
    if requested is not None:
        return requested
    if saved is not None:
        return bool(saved)
    return native_bf16()
