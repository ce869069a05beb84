"""Fine-tune the policy with LoRA on verified trajectories (transformers' Trainer + peft).

The base weights are dequantised from the very GGUF file llama.cpp serves
(:func:`thinktree.train.export.hf_gguf.load_hf_from_gguf`), so the adapter is trained
on the weights it will be applied to. LoRA targets the attention and MLP
projections only: both embedded models pair their input and output embeddings
and llama.cpp's adapter loader rejects adapters on them. The stage runs
unchanged on GPUs under accelerate (the Trainer picks the device).

Resumable: the Trainer checkpoints every ``save_steps`` optimizer steps; a
checkpoint counts only once a marker file is written after it is complete (the
Trainer writes checkpoints in place, so a kill can leave half of one), and a
rerun continues from the newest complete checkpoint, unless it was trained on other
data (its ``thinktree-state.json`` records :func:`~thinktree.train.sft.format.examples_hash`)
or with other settings (``sft_state.json``). :mod:`thinktree.train.sft.checkpoint_export`
carries a checkpoint to another machine. The final adapter is
written to a temporary directory and renamed, so ``peft/`` either holds a whole
adapter or does not exist.

Figures: tokens seen (every non-padding token of every training step, so
epochs count), target tokens (those with a loss), tokens per second over the
training time of this sitting and earlier ones, and the held-out loss before
and after training (problems held out by hash, never trained on).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from thinktree.train.lora import decide_bf16, lora_config
from thinktree.train.sft.data import Trajectory
from thinktree.train.sft.format import (
    IGNORE_INDEX,
    SFTExample,
    examples_hash,
    segments,
    tokenize,
)

COMPLETE_MARKER = "thinktree-complete"
ADAPTER_DIR = "peft"
REPORT_FILE = "sft.json"
CHECKPOINTS_DIR = "checkpoints"
CHECKPOINT_STATE = "thinktree-state.json"
"""Each checkpoint's counters (tokens, targets, seconds) and ``data_hash``."""
STATE_FILE = "sft_state.json"
"""The run's settled settings (``config``) and the base model's held-out loss."""

Progress = Callable[[str, int, int], None]


class SFTConfig(BaseModel):
    """LoRA fine-tuning settings (rStar-Math: 2 epochs, prompt masked, from the base)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rank: int = Field(16, ge=1, le=256)
    alpha: float = Field(32.0, gt=0)
    dropout: float = Field(0.05, ge=0.0, lt=1.0)
    epochs: float = Field(2.0, gt=0)
    max_steps: int = Field(-1, ge=-1)
    """Stop after this many optimizer steps (-1: run the epochs); for smoke runs."""
    learning_rate: float = Field(2e-4, gt=0)
    batch_size: int = Field(1, ge=1)
    """Examples per forward pass. 1 on a CPU: four padded 1024-token rows (activations
    and full-vocabulary logits) grew one SFT process past 24 GiB and the OOM killer;
    one row needs no padding and trains as fast (benchmarks/recipes/sft.yaml). Raise it
    on GPUs."""
    grad_accumulation: int = Field(8, ge=1)
    """Forward passes per optimizer step (batch_size x grad_accumulation examples)."""
    max_length: int = Field(1024, ge=32)
    warmup: float = Field(0.05, ge=0.0, lt=1.0)
    """Warm-up as a fraction of the training steps."""
    holdout_fraction: float = Field(0.05, ge=0.0, lt=1.0)
    save_steps: int = Field(20, ge=1)
    seed: int = 0
    bf16: bool | None = None
    """bfloat16 autocast (weights and LoRA stay float32). None: on where the hardware
    computes bfloat16 natively (:func:`thinktree.train.lora.native_bf16`), where it ran
    at 1.52x the float32 speed (an AVX512-BF16 CPU, benchmarks/recipes/sft.yaml); off
    elsewhere, where torch emulates it far slower than float32. A resumed run keeps its first sitting's choice."""


def settle_precision(config: SFTConfig, saved: dict[str, Any] | None) -> SFTConfig:
    """``config`` with ``bf16`` decided by :func:`thinktree.train.lora.decide_bf16`."""
    if config.bf16 is not None:
        return config
    bf16 = decide_bf16(None, (saved or {}).get("bf16"))
    return config.model_copy(update={"bf16": bf16})


@dataclass
class SFTReport:
    examples: int
    holdout_examples: int
    too_long: int
    steps: int
    tokens_seen: int
    target_tokens_seen: int
    train_seconds: float
    tokens_per_second: float
    holdout_loss_before: float | None
    holdout_loss_after: float | None
    adapter_dir: str
    bf16: bool | None = None
    """Whether it trained under bfloat16 autocast (None in reports written before
    this was recorded)."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def is_holdout(problem_id: str, fraction: float) -> bool:
    """Deterministic problem-level split (its own salt, independent of the PPM's)."""
    digest = hashlib.sha256(f"sft:{problem_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < fraction


def build_examples(
    trajectories: Sequence[Trajectory], tokenizer: Any, max_length: int
) -> tuple[list[SFTExample], int]:
    """Tokenised examples in the zero-shot format, and how many were too long."""
    render = chat_renderer(tokenizer)
    eos = end_of_turn_id(tokenizer)
    examples: list[SFTExample] = []
    too_long = 0
    for t in trajectories:
        example = tokenize(segments(t.question, t.steps, render), tokenizer, eos, max_length)
        if example is None:
            too_long += 1
        else:
            examples.append(example)
    return examples, too_long


def end_of_turn_id(tokenizer: Any) -> int:
    """The token that closes an assistant turn (ChatML ``<|im_end|>``), else EOS."""
    token = tokenizer.convert_tokens_to_ids("<|im_end|>")
    if isinstance(token, int) and token != tokenizer.unk_token_id and token is not None:
        return token
    return int(tokenizer.eos_token_id)


def chat_renderer(tokenizer: Any) -> Callable[[list[dict[str, str]]], str]:
    def render(messages: list[dict[str, str]]) -> str:
        return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)

    return render


class _Examples:
    """A map-style dataset of tokenised examples (what the Trainer iterates)."""

    def __init__(self, examples: Sequence[SFTExample]) -> None:
        self.examples = list(examples)

    def __len__(self) -> int:
        return len(self.examples)

    def __getitem__(self, index: int) -> dict[str, list[int]]:
        e = self.examples[index]
        return {"input_ids": e.input_ids, "labels": e.labels}


def _collate(pad_id: int) -> Callable[[list[dict[str, list[int]]]], dict[str, Any]]:
    import torch

    def collate(batch: list[dict[str, list[int]]]) -> dict[str, Any]:
        width = max(len(item["input_ids"]) for item in batch)
        ids, labels, mask = [], [], []
        for item in batch:
            pad = width - len(item["input_ids"])
            ids.append(item["input_ids"] + [pad_id] * pad)
            labels.append(item["labels"] + [IGNORE_INDEX] * pad)
            mask.append([1] * len(item["input_ids"]) + [0] * pad)
        return {
            "input_ids": torch.tensor(ids),
            "labels": torch.tensor(labels),
            "attention_mask": torch.tensor(mask),
        }

    return collate


def _checkpoints(folder: Path) -> list[tuple[int, Path, bool]]:
    """Every ``checkpoint-N`` folder, by step: its step, path and whether it is marked whole."""
    if not folder.is_dir():
        return []
    found = []
    for path in folder.glob("checkpoint-*"):
        suffix = path.name.removeprefix("checkpoint-")
        if suffix.isdigit() and path.is_dir():
            found.append((int(suffix), path, (path / COMPLETE_MARKER).is_file()))
    return sorted(found)


def newest_complete_checkpoint(folder: Path) -> Path | None:
    """The newest checkpoint whose marker says it was written whole (removes nothing:
    safe while a training writes its next one)."""
    complete = [path for _, path, whole in _checkpoints(folder) if whole]
    return complete[-1] if complete else None


def complete_checkpoint(folder: Path) -> Path | None:
    """The newest checkpoint whose marker says it was written whole; half-written
    ones (no marker) are removed so the Trainer never picks them."""
    for _, path, whole in _checkpoints(folder):
        if not whole:
            shutil.rmtree(path, ignore_errors=True)
    return newest_complete_checkpoint(folder)


def checkpoint_state(checkpoint: Path | None) -> dict[str, Any]:
    """A checkpoint's ``thinktree-state.json`` (empty when there is none)."""
    path = None if checkpoint is None else checkpoint / CHECKPOINT_STATE
    return json.loads(path.read_text()) if path is not None and path.is_file() else {}


def changed_settings(saved: dict[str, Any], config: SFTConfig) -> list[str]:
    """The fields of ``config`` whose value differs from the ``saved`` settings."""
    now = config.model_dump(mode="json")
    return sorted(k for k in now if saved.get(k) != now[k])


def check_same_data(saved: dict[str, Any], digest: str, checkpoint: Path, out_dir: Path) -> None:
    """Refuse to resume a checkpoint trained on other examples (``saved``: its
    thinktree state; one written before the data hash was recorded is taken as it is)."""
    trained_on = saved.get("data_hash")
    if trained_on is None or trained_on == digest:
        return
    imported = saved.get("imported_from")
    also = f" (and {imported}, which it was imported from)" if imported else ""
    raise ValueError(
        f"{checkpoint} was trained on other data (data hash {trained_on[:12]}, this data "
        f"{digest[:12]}); give the same data, or delete {out_dir}{also} to train again"
    )


def check_resumable(state: dict[str, Any], config: SFTConfig, out_dir: Path) -> None:
    """Refuse to resume checkpoints made with other settings (another batch shape
    replays other examples under the same step numbers)."""
    saved = state.get("config")
    changed = [] if saved is None else changed_settings(saved, config)
    if not changed:
        return
    raise ValueError(
        f"{out_dir} holds SFT checkpoints made with other settings ({', '.join(changed)}); "
        f"restore them, or delete {out_dir} to train again"
    )


def train_policy_lora(
    base_gguf: Path,
    trajectories: Sequence[Trajectory],
    out_dir: Path,
    config: SFTConfig,
    progress: Progress | None = None,
    deadline: float | None = None,
) -> SFTReport | None:
    """Train (or finish training) a LoRA adapter; returns the report also written
    to ``out_dir/sft.json``. A finished stage (``peft/`` and the report exist) is
    read back, not redone. When ``time.monotonic()`` passes ``deadline`` the
    training saves a checkpoint and stops, and None is returned: call again to
    resume."""
    out_dir = Path(out_dir)
    report_path = out_dir / REPORT_FILE
    adapter_dir = out_dir / ADAPTER_DIR
    if report_path.is_file() and (adapter_dir / "adapter_model.safetensors").is_file():
        return SFTReport(**json.loads(report_path.read_text()))
    if not trajectories:
        raise ValueError("no SFT trajectories: the pool search found no verified solutions")

    import torch
    from peft import get_peft_model
    from transformers import Trainer, TrainerCallback, TrainingArguments

    from thinktree.train.export.hf_gguf import load_hf_from_gguf

    out_dir.mkdir(parents=True, exist_ok=True)
    if progress:
        progress("load base model", 0, 1)
    model, tokenizer = load_hf_from_gguf(base_gguf)
    torch.manual_seed(config.seed)
    holdout = [t for t in trajectories if is_holdout(t.problem_id, config.holdout_fraction)]
    train = [t for t in trajectories if not is_holdout(t.problem_id, config.holdout_fraction)]
    if not train:
        raise ValueError("every trajectory fell into the held-out split; lower holdout_fraction")
    train_examples, too_long = build_examples(train, tokenizer, config.max_length)
    holdout_examples, too_long_holdout = build_examples(holdout, tokenizer, config.max_length)
    if not train_examples:
        raise ValueError(f"every SFT example is longer than max_length={config.max_length}")
    digest = examples_hash(train_examples, holdout_examples)
    model = get_peft_model(model, lora_config(config.rank, config.alpha, config.dropout))
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    checkpoints = out_dir / CHECKPOINTS_DIR
    resume = complete_checkpoint(checkpoints)
    saved_counters = checkpoint_state(resume)
    if resume is not None:
        check_same_data(saved_counters, digest, resume, out_dir)
    state_path = out_dir / STATE_FILE
    state = json.loads(state_path.read_text()) if state_path.is_file() else {}
    config = settle_precision(config, state.get("config"))
    check_resumable(state, config, out_dir)
    state["config"] = config.model_dump(mode="json")

    args = TrainingArguments(
        output_dir=str(checkpoints),
        num_train_epochs=config.epochs,
        max_steps=config.max_steps,
        per_device_train_batch_size=config.batch_size,
        per_device_eval_batch_size=config.batch_size,
        gradient_accumulation_steps=config.grad_accumulation,
        learning_rate=config.learning_rate,
        lr_scheduler_type="cosine",
        warmup_steps=config.warmup,
        weight_decay=0.0,
        logging_steps=1,
        save_strategy="steps",
        save_steps=config.save_steps,
        save_total_limit=2,
        report_to=[],
        use_cpu=not torch.cuda.is_available(),
        seed=config.seed,
        data_seed=config.seed,
        dataloader_num_workers=0,
        remove_unused_columns=False,
        bf16=config.bf16,
        disable_tqdm=True,
    )
    # Counted over every sitting: a checkpoint stores the counters as of its step.
    counters: dict[str, float] = {"tokens": 0, "targets": 0, "seconds": 0.0}
    clock = {"started": time.perf_counter(), "before": 0.0}

    def elapsed() -> float:
        return clock["before"] + time.perf_counter() - clock["started"]

    class Markers(TrainerCallback):
        def on_save(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            folder = checkpoints / f"checkpoint-{state.global_step}"
            if folder.is_dir():
                counters["seconds"] = elapsed()
                saved = {**counters, "data_hash": digest}
                (folder / CHECKPOINT_STATE).write_text(json.dumps(saved))
                (folder / COMPLETE_MARKER).write_text("ok\n")

        def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            if progress:
                progress("train", state.global_step, state.max_steps)
            if deadline is not None and time.monotonic() >= deadline:
                control.should_save = True
                control.should_training_stop = True

    class CountingTrainer(Trainer):
        def training_step(self, model: Any, inputs: dict[str, Any], *rest: Any, **kw: Any) -> Any:
            counters["tokens"] += int(inputs["attention_mask"].sum())
            counters["targets"] += int((inputs["labels"] != IGNORE_INDEX).sum())
            return super().training_step(model, inputs, *rest, **kw)

    trainer = CountingTrainer(
        model=model,
        args=args,
        train_dataset=_Examples(train_examples),
        eval_dataset=_Examples(holdout_examples) if holdout_examples else None,
        data_collator=_collate(pad_id),
        callbacks=[Markers()],
    )
    if "holdout_loss_before" not in state:
        before = trainer.evaluate()["eval_loss"] if holdout_examples else None
        state["holdout_loss_before"] = before
        state_path.write_text(json.dumps(state))
    counters.update({key: saved_counters[key] for key in counters if key in saved_counters})
    clock.update(started=time.perf_counter(), before=float(counters["seconds"]))
    trainer.train(resume_from_checkpoint=str(resume) if resume else None)
    if trainer.state.global_step < trainer.state.max_steps:
        return None
    seconds = elapsed()
    after = trainer.evaluate()["eval_loss"] if holdout_examples else None
    tmp = out_dir / (ADAPTER_DIR + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(str(tmp))
    shutil.rmtree(adapter_dir, ignore_errors=True)
    tmp.rename(adapter_dir)
    report = SFTReport(
        examples=len(train_examples),
        holdout_examples=len(holdout_examples),
        too_long=too_long + too_long_holdout,
        steps=int(trainer.state.global_step),
        tokens_seen=int(counters["tokens"]),
        target_tokens_seen=int(counters["targets"]),
        train_seconds=seconds,
        tokens_per_second=counters["tokens"] / seconds if seconds > 0 else 0.0,
        holdout_loss_before=state["holdout_loss_before"],
        holdout_loss_after=after,
        adapter_dir=str(adapter_dir),
        bf16=config.bf16,
    )
    tmp_report = report_path.with_suffix(".json.tmp")
    tmp_report.write_text(json.dumps(report.to_dict(), indent=2))
    tmp_report.replace(report_path)
    shutil.rmtree(checkpoints, ignore_errors=True)
    return report
