"""An LM PPM training's checkpoint as one file that travels (in git, to a fresh clone).

An epoch of the LM PPM over a few thousand pairs takes many hours of a CPU, longer
than a sitting, and the next sitting may start on another machine. So
:func:`export_checkpoint` writes ``<out>/checkpoints/checkpoint.pt``
(:mod:`thinktree.train.ppm.lm.checkpoint`) to one gzip-compressed tar
(:mod:`thinktree.train.export.archive`: ``manifest.json`` with the format, the
precision, the step, the data hash and the settings, then ``checkpoint.pt``), and
:func:`import_checkpoint` puts it back where the training resumes from it.

Two precisions, as for SFT checkpoints (:mod:`thinktree.train.sft.checkpoint_export`):

- ``exact``: the checkpoint as the trainer wrote it; the resumed run repeats the
  uninterrupted run's losses exactly.
- ``compact``: the LoRA weights in float16 and Adam's moments in bfloat16 (float16
  cannot hold squared gradients), back to float32 on import. Step, data position,
  schedule and RNG are kept; the weights and moments are rounded (2^-11 and 2^-8
  relative), so the losses drift from the uninterrupted run's by that rounding's
  effect. For the fast 0.5B at rank 16 (8,798,208 LoRA weights): 105.6 MB exact,
  52.8 MB compact before gzip.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any, Literal

from thinktree.train.export.archive import (
    archive_members,
    read_archive_manifest,
    read_checkpoint_manifest,
    write_archive,
)
from thinktree.train.export.staged import staged_file
from thinktree.train.ppm.lm.checkpoint import checkpoint_path
from thinktree.train.ppm.lm.config import LMPPMConfig

Precision = Literal["exact", "compact"]
PRECISIONS: tuple[Precision, ...] = ("exact", "compact")
FORMAT = "thinktree-lm-ppm-checkpoint"
VERSION = 1
STATE = "checkpoint.pt"
MOMENTS = ("exp_avg", "exp_avg_sq")


def export_checkpoint(out: Path, dest: Path, precision: Precision = "compact") -> Path | None:
    """Write the checkpoint of the LM PPM training in ``out`` to ``dest`` (replaced
    whole); None when ``out`` holds none. A ``dest`` that already holds that step of
    that run at that precision is left as it is."""
    import torch

    if precision not in PRECISIONS:
        raise ValueError(f"unknown checkpoint precision {precision!r}; use exact or compact")
    source = checkpoint_path(Path(out))
    if not source.is_file():
        return None
    state = torch.load(source, weights_only=False)
    manifest = {
        "format": FORMAT,
        "version": VERSION,
        "precision": precision,
        "step": int(state["step"]),
        "data_hash": state["data_hash"],
        "config": state["config"],
        "files": [STATE],
    }
    dest = Path(dest)
    if _same(read_archive_manifest(dest), manifest):
        return dest
    if precision == "compact":
        state = _cast(state, compact=True)
    buffer = io.BytesIO()
    torch.save(state, buffer)
    write_archive(dest, manifest, {STATE: buffer.getvalue()})
    return dest


def _same(old: dict[str, Any], new: dict[str, Any]) -> bool:
    keys = ("format", "version", "precision", "step", "data_hash", "config")
    return all(old.get(key) == new[key] for key in keys)


def read_manifest(source: Path) -> dict[str, Any]:
    """The manifest of an exported LM PPM checkpoint (``ValueError``, one line, if
    ``source`` is not one)."""
    return read_checkpoint_manifest(
        Path(source), FORMAT, VERSION, PRECISIONS, "an LM PPM checkpoint", "the start"
    )


def import_checkpoint(
    source: Path, out: Path, data_hash: str | None, config: LMPPMConfig
) -> Path | None:
    """Put the checkpoint exported to ``source`` into ``out`` where the training resumes
    from it; returns its path, or None when ``out`` needs none (it holds a checkpoint
    at the same step or later). Refused in one line when it was trained on other pairs
    than ``data_hash`` (unchecked when None: the pairs are not gathered yet, as in an
    evolve round) or with other settings than ``config``; the resume checks both."""
    import torch

    from thinktree.train.ppm.lm.checkpoint import check_settings

    source, out = Path(source), Path(out)
    manifest = read_manifest(source)
    if data_hash is not None and manifest["data_hash"] != data_hash:
        raise ValueError(
            f"{source} was trained on other pairs (data hash {manifest['data_hash'][:12]}, "
            f"these pairs {data_hash[:12]}); give the pairs it was trained on, or delete "
            f"{source} to train from the start"
        )
    check_settings(manifest["config"], config, source)
    local = checkpoint_path(out)
    if local.is_file() and int(torch.load(local, weights_only=False)["step"]) >= manifest["step"]:
        return None
    members = dict(archive_members(source, set(manifest["files"])))
    if STATE not in members:
        raise ValueError(f"{source} lacks {STATE}; export it again")
    state = torch.load(io.BytesIO(members[STATE]), weights_only=False)
    if manifest["precision"] == "compact":
        state = _cast(state, compact=False)
    with staged_file(local) as tmp:
        torch.save(state, tmp)
    return local


def _cast(state: dict[str, Any], *, compact: bool) -> dict[str, Any]:
    """The checkpoint with its LoRA weights (float32 <-> float16) and Adam's moments
    (float32 <-> bfloat16) narrowed for export or widened back; the rest as it is."""
    import torch

    def cast(tensor: Any, narrow: Any) -> Any:
        source, target = (torch.float32, narrow) if compact else (narrow, torch.float32)
        return (
            tensor.to(target)
            if isinstance(tensor, torch.Tensor) and tensor.dtype == source
            else tensor
        )

    lora = {name: cast(weight, torch.float16) for name, weight in state["lora"].items()}
    optimizer = dict(state["optimizer"])
    optimizer["state"] = {
        index: {
            key: cast(value, torch.bfloat16) if key in MOMENTS else value
            for key, value in per_parameter.items()
        }
        for index, per_parameter in optimizer["state"].items()
    }
    return {**state, "lora": lora, "optimizer": optimizer}
