"""Train the LM PPM: a LoRA over the base file, on preference pairs, resumable.

Pairs split by problem (:func:`thinktree.train.ppm.pairs.is_validation` with the
config's fraction): the training problems' pairs train, the held-out problems'
pairs only measure. The pairs are read in groups, one forward pass a group, each
distinct side once, and visited in a seeded order, about ``pairs_per_step`` pairs
an AdamW step (gradients clipped to norm 1, linear warm-up then cosine decay):
:mod:`thinktree.train.ppm.lm.plan`. A step's loss is the mean of its pairs' losses,
the same objective grouped or not. Checkpoints and
resuming: :mod:`thinktree.train.ppm.lm.checkpoint`. The finished directory:
:mod:`thinktree.train.ppm.lm.output`.

Held-out figures (pairwise accuracy, a tie counting half): the trained LM PPM; the
same model before training (the base model's own yes/no judgement: LoRA starts as
the identity); the policy's mean token log-probability; and the default feature PPM
(:class:`~thinktree.train.ppm.head.HeadConfig` on handcrafted features) fitted on
the training pairs, the three scored on the very same held-out pairs.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from thinktree.train.lora import decide_bf16, lora_config
from thinktree.train.ppm.head import pairwise_accuracy
from thinktree.train.ppm.lm import checkpoint as ckpt
from thinktree.train.ppm.lm.config import LMPPMConfig
from thinktree.train.ppm.lm.held_out import HeldOutScores, held_out_accuracy, held_out_rows
from thinktree.train.ppm.lm.output import BaseFile, read_finished, write_output
from thinktree.train.ppm.lm.plan import curve_groups, pair_groups, step_plan
from thinktree.train.ppm.lm.scoring import group_logits, group_loss, scores_and_mass
from thinktree.train.ppm.lm.tokens import GroupTokens, answer_ids, group_tokens
from thinktree.train.ppm.pairs import PreferencePair, is_validation
from thinktree.train.ppm.training import baseline_scores

Progress = Callable[[str, int, int], None]
Loader = Callable[[Path], tuple[Any, Any]]
"""Base file -> (causal LM in float32, tokenizer); by default dequantised from the GGUF."""


@dataclass
class LMPPMResult:
    directory: Path
    record: dict[str, Any]
    losses: list[float] = field(default_factory=list)
    """The mean pair loss of every optimizer step, over all sittings."""


def _schedule(steps: int, warmup: float) -> Callable[[int], float]:
    warm = max(1, math.ceil(warmup * steps)) if warmup > 0 else 0

    def factor(step: int) -> float:
        if step < warm:
            return (step + 1) / warm
        progress = (step - warm) / max(1, steps - warm)
        return 0.5 * (1.0 + math.cos(math.pi * min(progress, 1.0)))

    return factor


def _autocast(bf16: bool) -> Any:
    device = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.autocast(device_type=device, dtype=torch.bfloat16, enabled=bf16)


def held_out_scores(
    model: Any, groups: Sequence[tuple[Sequence[int], GroupTokens]], count: int,
    answer: tuple[int, int], config: LMPPMConfig, bf16: bool,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """Scores of the chosen and the rejected sides of ``count`` pairs, dropout off;
    ``groups``: (the pairs' indices, their tokens)."""
    was_training = model.training
    model.eval()
    pos, neg = np.zeros(count), np.zeros(count)
    with torch.no_grad(), _autocast(bf16):
        for done, (indices, group) in enumerate(groups, 1):
            logits = group_logits(model, group, config.share_prefix)
            scores = scores_and_mass(logits, *answer)[0].tolist()
            for index, (chosen, rejected) in zip(indices, group.pairs, strict=True):
                pos[index], neg[index] = scores[chosen], scores[rejected]
            if progress is not None:
                progress(done, len(groups))
    model.train(was_training)
    return pos, neg


def tokenised_groups(
    tokenizer: Any, pairs: Sequence[PreferencePair], config: LMPPMConfig
) -> list[tuple[list[int], GroupTokens]]:
    """The pairs' groups (:func:`~thinktree.train.ppm.lm.plan.pair_groups`) with their
    tokens: (indices into ``pairs``, the group's tokens)."""
    groups = pair_groups(pairs, config.group_pairs)
    return [
        (indices, group_tokens(tokenizer, [pairs[i] for i in indices], config.max_length))
        for indices in groups
    ]


def feature_ppm_scores(
    pairs: Sequence[PreferencePair], held_out: np.ndarray
) -> tuple[np.ndarray, np.ndarray] | None:
    """The default feature PPM's scores of the held-out pairs, fitted on the others
    (early-stopped on a fold of them); None when too few pairs train it."""
    from thinktree.reward.features import FeatureSpec, Featurizer
    from thinktree.train.ppm.data import pair_features
    from thinktree.train.ppm.head import HeadConfig
    from thinktree.train.ppm.pairs import fold_of
    from thinktree.train.ppm.training import score_held_out

    if (~held_out).sum() < 2:
        return None
    featurizer = Featurizer(FeatureSpec(("handcrafted",)))
    try:
        x = pair_features(pairs, featurizer, None)
    finally:
        featurizer.close()
    stopping = np.array([fold_of(p.problem_id, 5) == 0 for p in pairs])
    return score_held_out(pairs, x, HeadConfig(), held_out, stopping)["head"]


def train_lm_ppm(
    pairs: Sequence[PreferencePair],
    out: str | Path,
    config: LMPPMConfig,
    base: BaseFile,
    *,
    load: Loader | None = None,
    progress: Progress | None = None,
    stop: Callable[[], bool] | None = None,
    saved: Callable[[], None] | None = None,
) -> LMPPMResult | None:
    """Train (or finish training) the LM PPM on ``pairs`` and write it to ``out``.

    A finished ``out`` trained on the same pairs is read back, not redone. After each
    optimizer step ``stop()`` is asked; when it says so a checkpoint is saved and None
    returned: call again to resume. ``saved()`` is called when the run stops at a
    checkpoint and once the last step's checkpoint is written (before the output,
    which removes it): the moments to carry the checkpoint elsewhere. ``ValueError``
    (one line) for what a user can fix.
    """
    out = Path(out)
    pairs = list(pairs)
    digest = ckpt.data_hash(pairs)
    finished = read_finished(out, digest)
    if finished is not None:
        ckpt.check_settings(finished[0]["training"]["config"], config, out / "ppm.json")
        return LMPPMResult(out, *finished)
    held = np.array([is_validation(p.problem_id, config.validation_fraction) for p in pairs])
    train = [p for p, h in zip(pairs, held, strict=True) if not h]
    valid = [p for p, h in zip(pairs, held, strict=True) if h]
    if not train or not valid:
        raise ValueError(
            f"{len(pairs)} pairs from {len({p.problem_id for p in pairs})} problems are too few "
            "to hold out whole problems; add pairs or change --lm-validation-fraction"
        )
    state = ckpt.load_checkpoint(out, digest, config)
    bf16 = decide_bf16(config.bf16, state["config"]["bf16"] if state else None)
    config = config.model_copy(update={"bf16": bf16})
    report = progress or (lambda stage, done, total: None)

    from peft import get_peft_model

    report("load base model", 0, 1)
    if load is None:
        from thinktree.train.export.hf_gguf import load_hf_from_gguf

        def load(path: Path) -> tuple[Any, Any]:
            return load_hf_from_gguf(path, sha256=base.sha256)

    model, tokenizer = load(base.path)
    answer = answer_ids(tokenizer)
    torch.manual_seed(config.seed)
    model = get_peft_model(model, lora_config(config.rank, config.alpha, config.dropout))
    if torch.cuda.is_available():
        model = model.to("cuda")
    report("tokenise", 0, len(pairs))
    train_groups = tokenised_groups(tokenizer, train, config)
    valid_groups = tokenised_groups(tokenizer, valid, config)
    plan = step_plan([len(indices) for indices, _ in train_groups], config)
    chosen = curve_groups([len(i) for i, _ in valid_groups], config.eval_pairs, config.seed)
    curve_scored = [valid_groups[i] for i in chosen]
    curve_pairs = np.array(sorted(index for i in chosen for index in valid_groups[i][0]))

    def curve_point(scores: tuple[np.ndarray, np.ndarray]) -> float:
        return pairwise_accuracy(scores[0][curve_pairs], scores[1][curve_pairs])

    steps = len(plan)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=config.learning_rate, weight_decay=0.0)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, _schedule(steps, config.warmup))
    if state is not None:
        ckpt.restore(model, optimizer, scheduler, state)
        step, losses = state["step"], list(state["losses"])
        counters, base_scores = dict(state["counters"]), state["base_scores"]
        curve = [list(point) for point in state["curve"]]
    else:
        step, losses, counters, curve = 0, [], {"tokens": 0, "pairs": 0, "seconds": 0.0}, []
        base_scores = held_out_scores(
            model, valid_groups, len(valid), answer, config, bf16,
            lambda d, t: report("held-out (base)", d, t),
        )  # fmt: skip

    def save() -> None:
        ckpt.save_checkpoint(out, {
            "data_hash": digest, "config": config.model_dump(mode="json"), "step": step,
            "lora": ckpt.trainable_state(model), "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(), "rng": torch.get_rng_state(),
            "counters": counters, "losses": losses, "base_scores": base_scores,
            "curve": curve,
        })  # fmt: skip

    model.train()
    started, before = time.perf_counter(), counters["seconds"]
    while step < steps:
        batch = [train_groups[index][1] for index in plan[step]]
        in_step = sum(len(group.pairs) for group in batch)
        total = 0.0
        for group in batch:
            with _autocast(bf16):
                logits = group_logits(model, group, config.share_prefix)
            loss, _ = group_loss(logits, group.pairs, *answer, config.mass_weight)
            (loss / in_step).backward()
            total += float(loss.detach())
            counters["tokens"] += (
                group.tokens if config.share_prefix
                else len(group.sides) * len(group.shared) + group.tokens - len(group.shared)
            )  # fmt: skip
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad()
        step += 1
        losses.append(total / in_step)
        counters["pairs"] += in_step
        counters["seconds"] = before + time.perf_counter() - started
        report("train", step, steps)
        if config.eval_steps and step % config.eval_steps == 0 and step < steps:
            measuring = time.perf_counter()
            scores = held_out_scores(model, curve_scored, len(valid), answer, config, bf16)
            curve.append([step, curve_point(scores)])
            started += time.perf_counter() - measuring  # training seconds only
        if step % config.save_steps == 0 or step == steps:
            save()
        if step < steps and stop is not None and stop():
            if step % config.save_steps:
                save()
            if saved is not None:
                saved()
            return None
    if saved is not None:
        saved()
    trained = held_out_scores(
        model, valid_groups, len(valid), answer, config, bf16, lambda d, t: report("held-out", d, t)
    )
    features = None
    if config.feature_baseline:
        report("feature PPM", 0, 1)
        features = feature_ppm_scores(pairs, held)
    held_scores = HeldOutScores(
        trained, base_scores, baseline_scores(valid, "mean_logprob"), features
    )
    training = {
        "config": config.model_dump(mode="json"),
        "data_hash": digest,
        "pairs_train": len(train),
        "pairs_held_out": len(valid),
        "problems_train": len({p.problem_id for p in train}),
        "problems_held_out": len({p.problem_id for p in valid}),
        "pairs_by_kind": dict(sorted(Counter(p.kind for p in pairs).items())),
        "truncated_pairs": sum(group.truncated for _, group in train_groups + valid_groups),
        "groups_train": len(train_groups),
        "epochs": counters["pairs"] / len(train),
        "steps": step,
        "tokens_seen": counters["tokens"],
        "seconds": counters["seconds"],
        "final_loss": losses[-1] if losses else None,
        "held_out_accuracy": held_out_accuracy(valid, held_scores),
        "held_out_curve": [*curve, [step, curve_point(trained)]],
    }
    report("export", 0, 1)
    rows = held_out_rows(valid, held_scores)
    record = write_output(out, model, base, answer, training, losses, rows)
    return LMPPMResult(out, record, losses)
