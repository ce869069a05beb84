"""The LM PPM's settings: one field a line, each with why it has its default."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class LMPPMConfig(BaseModel):
    """A LoRA over the policy's base file, trained as a process preference model
    (``thinktree ppm train --kind lm``; the options are these fields prefixed ``--lm-``)."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    base_model: str = "fast"
    """Embedded model or .gguf file the adapter is trained over and served with (the
    evolved policy's base file)."""
    rank: int = Field(16, ge=1, le=256)
    """LoRA rank of every attention and MLP projection (SFT's)."""
    alpha: float = Field(32.0, gt=0)
    """LoRA alpha; llama.cpp applies scale x alpha / rank."""
    dropout: float = Field(0.05, ge=0.0, lt=1.0)
    """LoRA dropout (SFT's)."""
    epochs: float = Field(1.0, gt=0)
    """Passes over the training pairs (one: about 3 s a pair for the 0.5B on 2 cores,
    grouped)."""
    max_steps: int = Field(-1, ge=-1)
    """Stop after this many optimizer steps (-1: run the epochs); for smoke runs."""
    learning_rate: float = Field(1e-4, gt=0)
    """AdamW's peak learning rate (linear warm-up, cosine decay)."""
    warmup: float = Field(0.05, ge=0.0, lt=1.0)
    """Warm-up as a fraction of the optimizer steps."""
    pairs_per_step: int = Field(8, ge=1)
    """Pairs whose gradients add up to one optimizer step (at least: whole groups)."""
    group_pairs: bool = True
    """Read the pairs of one problem, kind and prefix together, each distinct side once
    (InstructGPT's reward-model batching; 2.1x faster on the verifier's pairs, 2.4x on
    outcome pairs: BENCHMARKS.md); off: every pair alone, its two sides a forward pass."""
    max_length: int = Field(512, ge=32)
    """Ids of each side; longer sides lose their earliest steps, never the question
    (a GSM8K solution in the step format reads in about 300)."""
    mass_weight: float = Field(0.1, ge=0.0)
    """Weight of -log(p_yes + p_no), which keeps both answer tokens in llama.cpp's top-k."""
    share_prefix: bool = True
    """Run a pair's shared prefix once for both sides (1.2-1.9x faster a pair on small
    random models, growing with size; same scores: BENCHMARKS.md)."""
    validation_fraction: float = Field(0.2, gt=0.0, lt=1.0)
    """Problems held out (train.ppm.pairs.is_validation); their pairs measure accuracy."""
    feature_baseline: bool = True
    """Also fit the default feature PPM on the training pairs and score the same held-out
    pairs (seconds; a figure to compare with, not part of the LM PPM)."""
    eval_steps: int = Field(0, ge=0)
    """Every this many optimizer steps, score the held-out pairs and add the pairwise
    accuracy to ppm.json's held_out_curve (a measurement: nothing is chosen by it);
    0: at the end only."""
    eval_pairs: int = Field(0, ge=0)
    """The curve's held-out pairs: whole held-out groups in a seeded order up to at least
    this many (0: all). Scoring all of them is forward passes over every held-out side
    each time; the accuracy in ppm.json is always over all."""
    save_steps: int = Field(10, ge=1)
    """Optimizer steps between checkpoints (a killed run resumes from the last)."""
    seed: int = 0
    """Seed of the LoRA's initialisation, the pair order and dropout."""
    bf16: bool | None = None
    """bfloat16 autocast; unset: where the device computes it natively (SFT's rule)."""
