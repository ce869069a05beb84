"""Training the PPM head with the pairwise loss ``−log σ(r⁺ − r⁻)`` (torch, CPU).

Full-batch AdamW on standardised features; the epoch with the lowest validation
loss is kept. An ensemble trains several such heads from different seeds and
averages their scores: on a few hundred pairs one head's out-of-fold accuracy
moves by several points with its seed. A checkpoint is written every
``checkpoint_every`` epochs and a run with the same data and settings resumes
from it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from thinktree.reward.ppm import head_forward


class HeadConfig(BaseModel):
    """A PPM head and how it is trained. The defaults are the measured best (an
    ensemble of five MLP heads of 32 units on the handcrafted features; BENCHMARKS.md,
    "Process preference model"): what ``thinktree ppm train`` and every evolve round
    train, defined here once."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    kind: Literal["linear", "mlp"] = "mlp"
    """linear, or mlp (one hidden layer)."""
    hidden: int = Field(32, ge=1)
    """Hidden units of the mlp head."""
    epochs: int = Field(400, ge=1)
    """Epochs of each head; the one with the lowest validation loss is kept."""
    lr: float = Field(3e-3, gt=0)
    """AdamW's learning rate."""
    weight_decay: float = Field(1e-2, ge=0)
    """AdamW's weight decay."""
    patience: int = Field(60, ge=1)
    """Epochs without a better validation loss before a head stops."""
    seed: int = 0
    """Seed of the first head."""
    checkpoint_every: int = Field(50, ge=1)
    """Epochs between checkpoints (a rerun resumes from the last)."""
    ensemble: int = Field(5, ge=1)
    """Heads trained with seeds ``seed``, ``seed + 1``, ...; their scores are averaged."""

    def to_dict(self) -> dict[str, object]:
        return self.model_dump()


def pairwise_loss(r_pos: np.ndarray, r_neg: np.ndarray) -> float:
    """Mean of ``−log σ(r⁺ − r⁻)``, computed stably."""
    diff = np.asarray(r_pos, dtype=np.float64) - np.asarray(r_neg, dtype=np.float64)
    return float(np.logaddexp(0.0, -diff).mean())


def pairwise_accuracy(r_pos: np.ndarray, r_neg: np.ndarray) -> float:
    """Share of pairs ranked right; a tie counts half."""
    if len(r_pos) == 0:
        return float("nan")
    diff = np.asarray(r_pos, dtype=np.float64) - np.asarray(r_neg, dtype=np.float64)
    return float(((diff > 0) + 0.5 * (diff == 0)).mean())


def _fingerprint(*arrays: np.ndarray, config: HeadConfig) -> str:
    digest = hashlib.sha256(repr(config.to_dict()).encode())
    for a in arrays:
        digest.update(np.ascontiguousarray(a).tobytes())
    return digest.hexdigest()[:16]


def train_head(
    train: tuple[np.ndarray, np.ndarray],
    valid: tuple[np.ndarray, np.ndarray],
    config: HeadConfig,
    checkpoint: Path | None = None,
    progress: Callable[[int, float, float], None] | None = None,
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """(head weights for :func:`thinktree.reward.ppm.head_forward`, training record).

    With ``config.ensemble`` > 1 the members' weights are stacked on a leading
    axis (one checkpoint file each); ``progress`` counts epochs over all members.
    """
    both = np.concatenate(train)
    mean = both.mean(axis=0)
    std = both.std(axis=0) + 1e-6
    scaled = lambda pair: ((pair[0] - mean) / std, (pair[1] - mean) / std)  # noqa: E731
    members, epochs = [], []
    for i in range(config.ensemble):
        member = config.model_copy(update={"seed": config.seed + i, "ensemble": 1})
        path = checkpoint
        if checkpoint is not None and config.ensemble > 1:
            path = checkpoint.with_name(f"{checkpoint.stem}-{i}{checkpoint.suffix}")
        offset = i * config.epochs
        report = (lambda e, t, v, o=offset: progress(o + e, t, v)) if progress else None
        layers, best_epoch = _train_member(scaled(train), scaled(valid), member, path, report)
        members.append(layers)
        epochs.append(best_epoch)
    weights = {"mean": mean.astype(np.float32), "std": std.astype(np.float32)}
    for name in members[0]:
        stacked = np.stack([m[name] for m in members])
        weights[name] = stacked[0] if config.ensemble == 1 else stacked
    val_loss = (
        pairwise_loss(head_forward(weights, valid[0]), head_forward(weights, valid[1]))
        if len(valid[0])
        else float("nan")
    )
    return weights, {"best_epochs": epochs, "best_val_loss": val_loss}


def _train_member(
    train: tuple[np.ndarray, np.ndarray],
    valid: tuple[np.ndarray, np.ndarray],
    config: HeadConfig,
    checkpoint: Path | None,
    progress: Callable[[int, float, float], None] | None,
) -> tuple[dict[str, np.ndarray], int]:
    """(layers, best epoch) of one head on standardised features, early-stopped on ``valid``."""
    import torch

    torch.manual_seed(config.seed)
    tensor = lambda a: torch.tensor(a, dtype=torch.float32)  # noqa: E731
    tp, tn = tensor(train[0]), tensor(train[1])
    vp, vn = tensor(valid[0]), tensor(valid[1])
    dim = tp.shape[1]
    if config.kind == "mlp":
        model = torch.nn.Sequential(
            torch.nn.Linear(dim, config.hidden), torch.nn.ReLU(), torch.nn.Linear(config.hidden, 1)
        )
    elif config.kind == "linear":
        model = torch.nn.Sequential(torch.nn.Linear(dim, 1))
    else:
        raise ValueError(f"unknown head {config.kind!r}; use linear or mlp")
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=config.lr, weight_decay=config.weight_decay
    )
    fingerprint = _fingerprint(*train, *valid, config=config)
    start, best_loss, best_state, best_epoch = 0, float("inf"), None, -1
    if checkpoint is not None and checkpoint.is_file():
        saved = torch.load(checkpoint, weights_only=False)
        if saved.get("fingerprint") == fingerprint:
            model.load_state_dict(saved["model"])
            optimizer.load_state_dict(saved["optimizer"])
            start, best_loss, best_epoch = saved["epoch"], saved["best_loss"], saved["best_epoch"]
            best_state = saved["best_state"]

    def loss_of(p: torch.Tensor, n: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.softplus(-(model(p) - model(n))).mean()

    for epoch in range(start, config.epochs):
        model.train()
        optimizer.zero_grad()
        loss = loss_of(tp, tn)
        loss.backward()
        optimizer.step()
        model.eval()
        with torch.no_grad():
            val_loss = float(loss_of(vp, vn)) if len(vp) else float(loss)
        if val_loss < best_loss:
            best_loss, best_epoch = val_loss, epoch
            best_state = {k: v.clone() for k, v in model.state_dict().items()}
        if progress is not None:
            progress(epoch + 1, loss.item(), val_loss)
        if checkpoint is not None and (epoch + 1) % config.checkpoint_every == 0:
            torch.save(
                {
                    "fingerprint": fingerprint,
                    "model": model.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "epoch": epoch + 1,
                    "best_loss": best_loss,
                    "best_epoch": best_epoch,
                    "best_state": best_state,
                },
                checkpoint,
            )
        if epoch - best_epoch >= config.patience:
            break
    assert best_state is not None
    model.load_state_dict(best_state)
    layers = [m for m in model if isinstance(m, torch.nn.Linear)]
    weights = {}
    if len(layers) == 2:
        weights["w1"] = layers[0].weight.detach().numpy().T.copy()
        weights["b1"] = layers[0].bias.detach().numpy().copy()
    weights["w"] = layers[-1].weight.detach().numpy().T.copy()
    weights["b"] = layers[-1].bias.detach().numpy().copy()
    return weights, best_epoch
