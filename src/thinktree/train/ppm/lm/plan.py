"""Which training pairs go together: groups of pairs read as one batch, and the
optimizer steps over the groups.

Groups (``group_pairs``): the pairs of one problem, kind and prefix (an MCTS node's
step pairs, a tree's final pairs, a sampling run's outcome pairs of one problem)
share their sides: 4 right and 4 wrong samples make up to 16 outcome pairs of 8
distinct sides. Reading each distinct side once and taking the loss over all the
group's pairs reads 8 sides instead of 32, and keeps one problem's comparisons in one
step, which is how InstructGPT trained its reward model, having found that
comparisons of one prompt shuffled apart overfit in a single pass (Ouyang et al.,
2022, section 3.5). A group holds at most :data:`MAX_SIDES` distinct sides (a
larger one is cut in the pairs' order): a group is one batch, whose activations the
step keeps for its backward pass. Without grouping every pair is a group of its own.

Steps: each epoch visits the groups in a seeded order (a new permutation each
epoch); a step takes the next groups until it holds at least ``pairs_per_step``
pairs, running on into the next epoch's order; training ends at the first step
boundary after ``epochs`` x the training pairs were visited (or after
``max_steps`` steps). The plan is a pure function of the group sizes and the
settings, so step ``s`` of a resumed run is the same groups. Ungrouped, this is
exactly ``pairs_per_step`` pairs a step in a per-epoch permutation of the pairs.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from functools import lru_cache

from thinktree.steps import steps_text
from thinktree.train.ppm.lm.config import LMPPMConfig
from thinktree.train.ppm.pairs import PreferencePair

MAX_SIDES = 8
"""Distinct sides a group reads at once: 4 right and 4 wrong samples of a problem.
With gradients, a 512-id side of the 0.5B keeps roughly 1 GB of activations."""


def pair_groups(pairs: Sequence[PreferencePair], grouped: bool) -> list[list[int]]:
    """Indices of ``pairs`` in groups, each in the pairs' order, groups in the order of
    their first pair; every pair alone when not ``grouped``."""
    if not grouped:
        return [[i] for i in range(len(pairs))]
    chunks: dict[tuple[str, str, str], list[tuple[list[int], set[str]]]] = {}
    for i, pair in enumerate(pairs):
        key = (pair.problem_id, pair.kind, steps_text(pair.prefix))
        ends = {steps_text(pair.prefix + pair.chosen), steps_text(pair.prefix + pair.rejected)}
        bucket = chunks.setdefault(key, [])
        if not bucket or len(bucket[-1][1] | ends) > MAX_SIDES:
            bucket.append(([], set()))
        indices, seen = bucket[-1]
        indices.append(i)
        seen |= ends
    groups = [indices for bucket in chunks.values() for indices, _ in bucket]
    return sorted(groups, key=lambda group: group[0])


@lru_cache(maxsize=4)
def group_order(count: int, seed: int, epoch: int) -> tuple[int, ...]:
    """The groups' order in ``epoch`` (a seeded permutation)."""
    order = list(range(count))
    random.Random(f"lm-ppm:{seed}:{epoch}").shuffle(order)
    return tuple(order)


def step_plan(sizes: Sequence[int], config: LMPPMConfig) -> list[tuple[int, ...]]:
    """The groups of every optimizer step, given each group's number of pairs."""
    return list(_plan(tuple(sizes), config.pairs_per_step, config.epochs, config.max_steps,
                      config.seed))  # fmt: skip


@lru_cache(maxsize=2)
def _plan(
    sizes: tuple[int, ...], per_step: int, epochs: float, max_steps: int, seed: int
) -> tuple[tuple[int, ...], ...]:
    if not sizes or max_steps == 0:
        return ()
    target = math.ceil(epochs * sum(sizes))
    steps: list[tuple[int, ...]] = []
    current: list[int] = []
    held = visited = 0
    epoch = 0
    while True:
        for group in group_order(len(sizes), seed, epoch):
            current.append(group)
            held += sizes[group]
            visited += sizes[group]
            if held < per_step:
                continue
            steps.append(tuple(current))
            current, held = [], 0
            done = len(steps) >= max_steps if max_steps > 0 else visited >= target
            if done:
                return tuple(steps)
        epoch += 1


def curve_groups(sizes: Sequence[int], pairs: int, seed: int) -> list[int]:
    """The held-out groups the curve during training scores: all (``pairs`` 0), or
    whole groups in a seeded order until they hold at least ``pairs`` pairs, in their
    own order."""
    if pairs <= 0:
        return list(range(len(sizes)))
    order = list(range(len(sizes)))
    random.Random(f"lm-ppm-curve:{seed}").shuffle(order)
    chosen: list[int] = []
    held = 0
    for group in order:
        if held >= pairs:
            break
        chosen.append(group)
        held += sizes[group]
    return sorted(chosen)
