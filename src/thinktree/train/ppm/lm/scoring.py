"""The LM PPM's score and loss on a pair, computed from one forward pass over both sides.

Score (:mod:`thinktree.reward.lm_format`): the logit of :data:`~thinktree.reward.lm_format.YES`
minus that of :data:`~thinktree.reward.lm_format.NO` at the position after the text,
i.e. from the last position's hidden state. Only those positions go through the
output layer (a 151k-word vocabulary at every position of a 400-token side would be
240 MB of logits per side).

Loss of a pair: ``−log σ(s⁺ − s⁻) + mass_weight · mean over both sides of
−log(p_yes + p_no)``. The first term (Bradley-Terry) trains the difference only,
which leaves the two tokens free to drift down the vocabulary: at serving time
llama.cpp reports log-probabilities of the top-k tokens only, so a side whose
" yes" or " no" fell out of the top k could not be scored. The second term keeps
probability mass on the pair of tokens without favouring either.

Prefix sharing: with ``share_prefix`` the pair's shared ids (question, earlier
steps) are run once, their keys and values repeated for the two sides, and both
continuations run from that cache as a batch of two; gradients flow through the
cache into the shared forward. Without it both full sides run as one padded batch.
A group of pairs (:class:`~thinktree.train.ppm.lm.tokens.GroupTokens`) runs the same
way with one row per distinct side, and its loss is the sum of its pairs' losses.
Both give the same scores (a test checks it); which is faster is measured by
``thinktree bench benchmarks/recipes/lm_ppm_prefix.yaml``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from thinktree.train.ppm.lm.tokens import GroupTokens, PairTokens


def _parts(model: Any) -> tuple[Any, Any]:
    """(decoder, output layer) of a causal LM, PEFT-wrapped or not."""
    causal = model.get_base_model() if hasattr(model, "get_base_model") else model
    return causal.model, causal.lm_head


def _padded(rows: Sequence[Sequence[int]], device: Any) -> torch.Tensor:
    width = max(len(r) for r in rows)
    return torch.tensor([list(r) + [0] * (width - len(r)) for r in rows], device=device)


def pair_logits(model: Any, pair: PairTokens, share_prefix: bool) -> torch.Tensor:
    """Float32 logits ``(2, vocab)`` at the last position of the chosen (row 0) and the
    rejected (row 1) side."""
    return side_logits(model, pair.shared, (pair.chosen, pair.rejected), share_prefix)


def side_logits(
    model: Any, shared: Sequence[int], sides: Sequence[Sequence[int]], share_prefix: bool
) -> torch.Tensor:
    """Float32 logits ``(len(sides), vocab)`` at the last position of each side (``shared``
    then the side's ids). Right padding: a real position never attends to a pad.
    Assumes the output layer's weights are float32 (the trainer's model is)."""
    decoder, head = _parts(model)
    device = head.weight.device
    count = len(sides)
    if share_prefix and shared:
        prefix = decoder(input_ids=torch.tensor([list(shared)], device=device), use_cache=True)
        cache = prefix.cache
        cache.batch_repeat_interleave(count)
        hidden = decoder(
            input_ids=_padded(sides, device), cache=cache, use_cache=True
        ).last_hidden_state
        last = [len(s) - 1 for s in sides]
    else:
        rows = [list(shared) + list(s) for s in sides]
        hidden = decoder(input_ids=_padded(rows, device), use_cache=False).last_hidden_state
        last = [len(r) - 1 for r in rows]
    at_end = hidden[torch.arange(count, device=device), torch.tensor(last, device=device)]
    # The output layer in float32 even under bfloat16 autocast: logits near 15 are
    # 0.0625 apart in bfloat16, so close sides would tie (seen on the 0.5B).
    with torch.autocast(device_type=device.type, enabled=False):
        return head(at_end.float())


def group_logits(model: Any, group: GroupTokens, share_prefix: bool) -> torch.Tensor:
    """Float32 logits ``(len(group.sides), vocab)``, each distinct side read once."""
    return side_logits(model, group.shared, group.sides, share_prefix)


def scores_and_mass(logits: torch.Tensor, yes: int, no: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(``logit[yes] − logit[no]``, ``log(p_yes + p_no)``) of each row."""
    pair = logits[:, [yes, no]]
    log_mass = torch.logsumexp(pair, dim=-1) - torch.logsumexp(logits, dim=-1)
    return pair[:, 0] - pair[:, 1], log_mass


def pair_loss(
    logits: torch.Tensor, yes: int, no: int, mass_weight: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """(the loss of one pair from its :func:`pair_logits`, its two scores)."""
    scores, log_mass = scores_and_mass(logits, yes, no)
    loss = torch.nn.functional.softplus(scores[1] - scores[0]) - mass_weight * log_mass.mean()
    return loss, scores.detach()


def group_loss(
    logits: torch.Tensor, pairs: Sequence[tuple[int, int]], yes: int, no: int, mass_weight: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """(the summed loss of the group's pairs from its :func:`group_logits`, the sides'
    scores): exactly the sum of :func:`pair_loss` over the pairs, since a side's mass
    term counts half for each pair it is in."""
    scores, log_mass = scores_and_mass(logits, yes, no)
    chosen = torch.tensor([c for c, _ in pairs], device=logits.device)
    rejected = torch.tensor([r for _, r in pairs], device=logits.device)
    preference = torch.nn.functional.softplus(scores[rejected] - scores[chosen]).sum()
    uses = torch.bincount(torch.cat([chosen, rejected]), minlength=len(scores)).to(log_mass.dtype)
    return preference - mass_weight * (uses * log_mass).sum() / 2, scores.detach()
