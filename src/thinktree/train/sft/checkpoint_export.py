"""An SFT run's newest checkpoint as one file that travels (in git, to a fresh clone).

A 1.5B SFT on a CPU takes hours and a sitting may end on one machine and resume on
another, so :func:`export_checkpoint` writes the newest complete checkpoint of an
SFT out dir to one gzip-compressed tar, and :func:`import_checkpoint` puts it back
into another out dir as a complete checkpoint that
:func:`thinktree.train.sft.training.train_policy_lora` resumes from. The file holds
``manifest.json`` (format, precision, step, the data hash and settings it was
trained with, the run's ``sft_state.json``) and every file of the checkpoint: the
LoRA adapter, the optimizer's and the scheduler's state, the Trainer's state (step,
epoch, log; the data position follows from the step and the seeded sampler), the
RNG states and the counters. The same checkpoint always exports to the same bytes
(no timestamps), so git sees no change when nothing trained.

Two precisions:

- ``exact``: every file as the Trainer wrote it (float32); a resume continues the
  uninterrupted run bit for bit.
- ``compact``: the adapter weights in float16 and Adam's moments (``exp_avg``,
  ``exp_avg_sq``) in bfloat16 (its float32 range: squared gradients underflow
  float16), put back to float32 on import. A resume keeps the step, the data
  position, the learning-rate schedule and the RNG, but starts from weights
  rounded to 2^-11 relative (a fraction of one optimizer step's change at the
  default learning rate) and moments rounded to 2^-8 relative, so its losses
  drift from the uninterrupted run's by that rounding's effect (at most 3.8e-6 on
  losses near 4.5 in the test's tiny model) and its adapter is not bit-identical.

Sizes for Qwen2.5-1.5B (hidden 1536, intermediate 8960, 28 layers, 12 query and 2
KV heads of 128) with LoRA r16 on all seven projections: a layer adapts
q and o (1536 -> 1536: 16 x 3072 = 49,152 each), k and v (1536 -> 256: 28,672 each)
and gate, up, down (1536 <-> 8960: 167,936 each), 659,456 weights, so 18,464,768 in
all. ``exact`` holds them three times in float32 (weights, ``exp_avg``,
``exp_avg_sq``): 221.6 MB before gzip, about 207 MB after (gzip took 6-7 % off
float32 and 8-18 % off 16-bit data, measured on synthetic weights and moments),
over GitHub's 100 MiB limit on a file; ``compact`` holds them in 16 bits: 110.8 MB
before gzip, about 95 MB (90 MiB) after. (The fast 0.5B, hidden 896, intermediate
4864, 24 layers, 2 KV heads of 64: 8,798,208 weights, 105.6 MB exact and 52.8 MB
compact before gzip.) Everything else is a few kB plus the Trainer's log (~150
bytes a step).
"""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path
from typing import Any, Literal

from thinktree.train.export.archive import (
    archive_members,
    read_checkpoint_manifest,
    write_archive,
)
from thinktree.train.sft.training import (
    ADAPTER_DIR,
    CHECKPOINT_STATE,
    CHECKPOINTS_DIR,
    COMPLETE_MARKER,
    REPORT_FILE,
    STATE_FILE,
    SFTConfig,
    changed_settings,
    checkpoint_state,
    newest_complete_checkpoint,
    settle_precision,
)

Precision = Literal["exact", "compact"]
PRECISIONS: tuple[Precision, ...] = ("exact", "compact")
FORMAT = "thinktree-sft-checkpoint"
VERSION = 1
ADAPTER_WEIGHTS = "adapter_model.safetensors"
OPTIMIZER = "optimizer.pt"
MOMENTS = ("exp_avg", "exp_avg_sq")


def export_checkpoint(out_dir: Path, dest: Path, precision: Precision = "exact") -> Path | None:
    """Write the newest complete checkpoint of ``out_dir`` to ``dest`` (replaced whole);
    None when ``out_dir`` holds no complete checkpoint. A ``dest`` that already holds
    that checkpoint at that precision is left as it is. Half-written checkpoints (no
    marker) are never exported, nor removed: a training may be writing one."""
    if precision not in PRECISIONS:
        raise ValueError(f"unknown checkpoint precision {precision!r}; use exact or compact")
    out_dir, dest = Path(out_dir), Path(dest)
    try:
        return _export(out_dir, dest, precision)
    except FileNotFoundError:
        # The Trainer rotated the checkpoint away while it was read: take the next one.
        return _export(out_dir, dest, precision)


def _export(out_dir: Path, dest: Path, precision: Precision) -> Path | None:
    checkpoint = newest_complete_checkpoint(out_dir / CHECKPOINTS_DIR)
    if checkpoint is None:
        return None
    counters = checkpoint_state(checkpoint)
    if "data_hash" not in counters:
        raise ValueError(
            f"{checkpoint} records no data hash (written before thinktree recorded one); "
            "resume the run until it saves another checkpoint, then export"
        )
    state_path = out_dir / STATE_FILE
    state = json.loads(state_path.read_text()) if state_path.is_file() else {}
    manifest = {
        "format": FORMAT,
        "version": VERSION,
        "precision": precision,
        "step": int(checkpoint.name.removeprefix("checkpoint-")),
        "data_hash": counters["data_hash"],
        "config": state.get("config"),
        "sft_state": state,
    }
    if dest.is_file() and _same_checkpoint(_manifest_or_none(dest), manifest):
        return dest
    files = sorted(p for p in checkpoint.iterdir() if p.is_file() and p.name != COMPLETE_MARKER)
    members = {p.name: _converted(p.name, p.read_bytes(), precision, compact=True) for p in files}
    manifest["files"] = sorted(members)
    write_archive(dest, manifest, members)
    return dest


def _manifest_or_none(path: Path) -> dict[str, Any] | None:
    try:
        return read_manifest(path)
    except ValueError:
        return None  # damaged or of another version: written again


def _same_checkpoint(old: dict[str, Any] | None, new: dict[str, Any]) -> bool:
    keys = ("precision", "step", "data_hash", "config")
    return old is not None and all(old.get(key) == new[key] for key in keys)


def read_manifest(source: Path) -> dict[str, Any]:
    """The manifest of an exported checkpoint (ValueError, one line, if it is not one)."""
    return read_checkpoint_manifest(
        source, FORMAT, VERSION, PRECISIONS, "an SFT checkpoint", "the base"
    )


def check_import(
    manifest: dict[str, Any], source: Path, data_hash: str | None, config: SFTConfig | None
) -> None:
    """Refuse (one line) an exported checkpoint trained on other data than ``data_hash``
    or with other settings than ``config`` (an unset ``bf16`` takes the file's)."""
    trained_on = manifest["data_hash"]
    if data_hash is not None and trained_on != data_hash:
        raise ValueError(
            f"{source} was trained on other data (data hash {trained_on[:12]}, this data "
            f"{data_hash[:12]}); give the data it was trained on, or delete {source} "
            "to train from the base"
        )
    saved = manifest["config"]
    if config is None or saved is None:
        return
    changed = changed_settings(saved, settle_precision(config, saved))
    if changed:
        raise ValueError(
            f"{source} was made with other settings ({', '.join(changed)}); give the "
            f"settings it was trained with, or delete {source} to train from the base"
        )


def import_checkpoint(
    source: Path,
    out_dir: Path,
    *,
    data_hash: str | None = None,
    config: SFTConfig | None = None,
) -> Path | None:
    """Put the checkpoint exported to ``source`` into ``out_dir`` as a complete
    checkpoint (``checkpoints/checkpoint-N``, and ``sft_state.json`` where ``out_dir``
    has none); returns it, or None when ``out_dir`` needs none (its SFT finished, or it
    holds a complete checkpoint as new). Checked against ``data_hash`` (what the run
    would train on now, :func:`~thinktree.train.sft.format.examples_hash`) and
    ``config`` when given; the resume checks the data hash again in any case."""
    source, out_dir = Path(source), Path(out_dir)
    manifest = read_manifest(source)
    check_import(manifest, source, data_hash, config)
    step = int(manifest["step"])
    if (out_dir / REPORT_FILE).is_file() and (out_dir / ADAPTER_DIR / ADAPTER_WEIGHTS).is_file():
        return None
    checkpoints = out_dir / CHECKPOINTS_DIR
    local = newest_complete_checkpoint(checkpoints)
    if local is not None and int(local.name.removeprefix("checkpoint-")) >= step:
        return None
    staging = checkpoints / f".import-{step}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    for name, data in archive_members(source, set(manifest["files"])):
        converted = _converted(name, data, manifest["precision"], compact=False)
        (staging / name).write_bytes(converted)
    counters = {**checkpoint_state(staging), "imported_from": str(source)}
    (staging / CHECKPOINT_STATE).write_text(json.dumps(counters))
    state_path = out_dir / STATE_FILE
    if not state_path.is_file() and manifest["sft_state"]:
        state_path.write_text(json.dumps(manifest["sft_state"]))
    target = checkpoints / f"checkpoint-{step}"
    shutil.rmtree(target, ignore_errors=True)
    staging.rename(target)
    (target / COMPLETE_MARKER).write_text("ok\n")
    return target


def _converted(name: str, data: bytes, precision: str, *, compact: bool) -> bytes:
    """A checkpoint file as exported (``compact``: float32 weights to float16, Adam's
    moments to bfloat16) or back as the Trainer reads it (those tensors to float32);
    an ``exact`` export and every other file are the bytes as they are."""
    import torch

    if precision == "exact" or name not in (ADAPTER_WEIGHTS, OPTIMIZER):
        return data
    narrow = torch.float16 if name == ADAPTER_WEIGHTS else torch.bfloat16
    source, target = (torch.float32, narrow) if compact else (narrow, torch.float32)
    cast = _cast_safetensors if name == ADAPTER_WEIGHTS else _cast_moments
    return cast(data, source, target)


def _cast_safetensors(data: bytes, source: Any, target: Any) -> bytes:
    from safetensors.torch import load, save

    tensors = {k: v.to(target) if v.dtype == source else v for k, v in load(data).items()}
    return save(tensors, metadata={"format": "pt"})


def _cast_moments(data: bytes, source: Any, target: Any) -> bytes:
    import torch

    saved = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    for per_parameter in saved.get("state", {}).values():
        for key in MOMENTS:
            moment = per_parameter.get(key)
            if isinstance(moment, torch.Tensor) and moment.dtype == source:
                per_parameter[key] = moment.to(target)
    buffer = io.BytesIO()
    torch.save(saved, buffer)
    return buffer.getvalue()
