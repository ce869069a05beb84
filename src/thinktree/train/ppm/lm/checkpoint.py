"""Checkpoints of an LM PPM training run, and the rules for resuming one.

One file, ``<out>/checkpoints/checkpoint.pt``, replaced whole every ``save_steps``
optimizer steps (written beside it and renamed, so a kill leaves the previous one):
the LoRA weights, the optimizer's and the scheduler's state, the optimizer steps
done (the data position follows from it: step ``s`` trains positions
``s * pairs_per_step ...`` of the seeded pair order), torch's RNG state (dropout),
the counters (tokens, seconds), the loss of every step so far and the base
model's held-out scores. A run resumed from it repeats exactly the steps an
uninterrupted run would have taken.

A checkpoint is used only by the same data and the same settings: its data hash
(:func:`data_hash` of all the pairs, held-out ones included, since they fix the
split) and its settings must match, otherwise the run stops with a one-line error
rather than continue another run's curve.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from thinktree.train.export.staged import staged_file
from thinktree.train.ppm.lm.config import LMPPMConfig
from thinktree.train.ppm.pairs import PreferencePair

CHECKPOINT_DIR = "checkpoints"
CHECKPOINT_FILE = "checkpoint.pt"


def data_hash(pairs: Sequence[PreferencePair]) -> str:
    """sha256 of the pairs, in order, as JSON."""
    digest = hashlib.sha256()
    for pair in pairs:
        digest.update(json.dumps(pair.to_dict(), sort_keys=True).encode())
        digest.update(b"\n")
    return digest.hexdigest()


def checkpoint_path(out: Path) -> Path:
    return out / CHECKPOINT_DIR / CHECKPOINT_FILE


def trainable_state(model: Any) -> dict[str, torch.Tensor]:
    """The LoRA weights (every parameter that trains), by name."""
    return {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}


def save_checkpoint(out: Path, state: dict[str, Any]) -> None:
    path = checkpoint_path(out)
    with staged_file(path) as tmp:
        torch.save(state, tmp)


def load_checkpoint(out: Path, hash_now: str, config: LMPPMConfig) -> dict[str, Any] | None:
    """The checkpoint in ``out`` if any, after checking it belongs to this data and these
    settings (``ValueError`` in one line otherwise). ``config`` as given by the user:
    an unset ``bf16`` takes the checkpoint's."""
    path = checkpoint_path(out)
    if not path.is_file():
        return None
    state = torch.load(path, weights_only=False)
    if state["data_hash"] != hash_now:
        raise ValueError(
            f"{path} was trained on other pairs (data hash {state['data_hash'][:12]}, "
            f"these pairs {hash_now[:12]}); give the same pairs, another --out, or delete {path}"
        )
    check_settings(state["config"], config, path)
    return state


def check_settings(saved: dict[str, Any], config: LMPPMConfig, where: Path) -> None:
    """Refuse (one line) to continue or reuse what ``where`` holds when it was made with
    other settings than ``config`` (an unset ``bf16`` takes the saved choice)."""
    now = config.model_dump(mode="json")
    if now["bf16"] is None:
        now["bf16"] = saved["bf16"]
    # A field added later is absent from what was saved before it: its default is what
    # that run did.
    default = LMPPMConfig().model_dump(mode="json")
    changed = sorted(k for k in now if saved.get(k, default[k]) != now[k])
    if changed:
        raise ValueError(
            f"{where} was made with other settings ({', '.join(changed)}); give the same "
            f"settings, another --out, or delete {where}"
        )


def restore(model: Any, optimizer: Any, scheduler: Any, state: dict[str, Any]) -> None:
    """Put a checkpoint's weights, optimizer, scheduler and RNG back."""
    missing = set(trainable_state(model)) - set(state["lora"])
    if missing:
        raise ValueError(f"the checkpoint lacks LoRA weights {sorted(missing)[:3]}...")
    model.load_state_dict(state["lora"], strict=False)
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    torch.set_rng_state(state["rng"])
