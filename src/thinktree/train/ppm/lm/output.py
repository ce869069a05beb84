"""The directory a trained LM PPM is written to, read by the llama.cpp scorer.

Format version 1 (``<out>/``):

- ``adapter.gguf``: the LoRA as a llama.cpp adapter over the base file
  (:func:`thinktree.train.export.lora_gguf.export_lora_gguf`); llama.cpp applies
  ``scale × alpha / rank`` (serve it at scale 1.0 to get the trained model);
- ``peft/``: the same LoRA as a PEFT adapter (``adapter_config.json``,
  ``adapter_model.safetensors``), for transformers, vLLM or SGLang;
- ``losses.json``: the mean pair loss of every optimizer step;
- ``held_out.jsonl``: every held-out pair's scores by the LM PPM and the baselines
  (:mod:`thinktree.train.ppm.lm.held_out`);
- ``ppm.json``, written last (its presence means the rest is whole): the fields the
  scorer reads (:class:`thinktree.reward.lm_ppm.LMPPMFile`, their one definition),
  then what only a reader of the record needs::

    {
      "kind": "lm",                       # a feature PPM's ppm.json has no "kind"
      "base": "qwen2.5-coder-0.5b-instruct", "base_sha256": "<the base GGUF's sha256>",
      "adapter": "adapter.gguf", "adapter_sha256": "<its sha256>",
      "lora_rank": 16, "lora_alpha": 32.0,
      "yes_token_id": 9834, "no_token_id": 902,
      "format": 1,
      "base_file": "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
      "peft": "peft",
      "lora_targets": ["q_proj", ..., "down_proj"],
      "text": {"suffix": "...Answer:", "yes": " yes", "no": " no"},
      "score": "logit[yes] - logit[no] after lm_format.ppm_text(question, steps)",
      "training": {
        "config": {...LMPPMConfig, bf16 decided...},
        "data_hash": "<sha256 of the pairs>",
        "pairs_train": N, "pairs_held_out": M, "problems_train": P, "problems_held_out": Q,
        "pairs_by_kind": {"step": ..., "final": ...}, "truncated_pairs": T,
        "groups_train": G,                # pairs read together (lm.plan.pair_groups)
        "epochs": E, "steps": S, "tokens_seen": K, "seconds": F, "final_loss": L,
        "held_out_accuracy": {"lm_ppm": a, "lm_ppm_clean": a, "base": b,
                              "mean_logprob": c, "feature_ppm": d or null,
                              "lm_ppm_by_kind": {"step": ..., "final": ...},
                              "by_policy": {"<model>": {"lm_ppm": {kind: a},
                                                        "mean_logprob": {kind: c}}}},
        "held_out_curve": [[step, accuracy], ..., [S, a]]  # every eval_steps, on the
                                  # eval_pairs subset (all: the last is lm_ppm's a)
      }
    }

The text and the score are :mod:`thinktree.reward.lm_format`'s: the scorer sends
``ppm_text(question, steps)`` (no BOS, no chat template) and reads the
log-probabilities of the two token ids at the next position; their difference is
the score (equal to the logit difference), squashed by ``lm_format.squash``.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from thinktree.models.assemble import sha256_file
from thinktree.reward.lm_format import NO, SUFFIX, YES
from thinktree.reward.lm_ppm import LMPPMFile
from thinktree.reward.ppm import PPM_FILE
from thinktree.train.export.lora_gguf import export_lora_gguf
from thinktree.train.export.staged import staged_dir, staged_file
from thinktree.train.lora import TARGET_MODULES
from thinktree.train.ppm.lm.held_out import HELD_OUT_FILE, write_held_out

FORMAT = 1
ADAPTER_FILE = "adapter.gguf"
PEFT_DIR = "peft"
LOSSES_FILE = "losses.json"


@dataclass(frozen=True)
class BaseFile:
    """The GGUF file the adapter is trained over and served with."""

    name: str
    path: Path
    sha256: str


def read_finished(out: Path, digest: str) -> tuple[dict[str, Any], list[float]] | None:
    """(record, losses) of a finished LM PPM in ``out`` trained on these pairs; None when
    ``out`` holds none; ``ValueError`` when it holds another PPM or other pairs'."""
    path = out / PPM_FILE
    if not path.is_file():
        return None
    record = json.loads(path.read_text())
    if record.get("kind") != "lm":
        raise ValueError(f"{out} holds a feature PPM; give the LM PPM another --out")
    if record["training"]["data_hash"] != digest:
        raise ValueError(
            f"{out} holds an LM PPM trained on other pairs; give another --out or delete {out}"
        )
    losses_path = out / LOSSES_FILE
    losses = json.loads(losses_path.read_text()) if losses_path.is_file() else []
    return record, losses


def write_output(
    out: Path,
    model: Any,
    base: BaseFile,
    answer: tuple[int, int],
    training: dict[str, Any],
    losses: list[float],
    held_out: Sequence[dict[str, Any]],
) -> dict[str, Any]:
    """Write ``peft/``, ``adapter.gguf``, ``losses.json``, ``held_out.jsonl`` and then
    ``ppm.json``; drop the checkpoints. Returns the ppm.json record."""
    config = training["config"]
    with staged_dir(out / PEFT_DIR) as staging:
        model.save_pretrained(str(staging))
    export_lora_gguf(out / PEFT_DIR, base.path, out / ADAPTER_FILE)
    served = LMPPMFile(
        base=base.name, adapter=ADAPTER_FILE, yes_token_id=answer[0], no_token_id=answer[1],
        base_sha256=base.sha256, adapter_sha256=sha256_file(out / ADAPTER_FILE),
        lora_rank=config["rank"], lora_alpha=config["alpha"], training=training,
    )  # fmt: skip
    record = {
        **served.to_json(),
        "format": FORMAT,
        "base_file": base.path.name,
        "peft": PEFT_DIR,
        "lora_targets": list(TARGET_MODULES),
        "text": {"suffix": SUFFIX, "yes": YES, "no": NO},
        "score": "logit[yes] - logit[no] after lm_format.ppm_text(question, steps)",
    }
    with staged_file(out / LOSSES_FILE) as tmp:
        tmp.write_text(json.dumps(losses))
    with staged_file(out / HELD_OUT_FILE) as tmp:
        write_held_out(tmp, held_out)
    with staged_file(out / PPM_FILE) as tmp:
        tmp.write_text(json.dumps(record, indent=2))
    shutil.rmtree(out / "checkpoints", ignore_errors=True)
    return record
