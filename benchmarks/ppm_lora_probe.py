"""The LoRA candidate for the PPM, probed: cost per training pair and per scored node.

    .venv/bin/python benchmarks/ppm_lora_probe.py --pairs benchmarks/ppm/default/pairs.jsonl \
        [--steps 60] [--max-tokens 384]

A small LM (the fast 0.5B, loaded by transformers from its GGUF file and
dequantised to float32) with LoRA adapters (r = 8 on the attention projections)
and a linear value head on the last token, trained with the same pairwise loss
on the same problem-level split, one pair per step, for ``--steps`` steps;
then scored on the held-out pairs. It measures what this option costs on a
2-core CPU, which decides whether it can be the default. Merges its figures
into benchmarks/results/ppm.json under candidates["lora-0.5b"].
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path

import numpy as np
import torch
from peft import LoraConfig, get_peft_model
from transformers import AutoModelForCausalLM, AutoTokenizer

from thinktree.models import resolve_model
from thinktree.steps import solution_text
from thinktree.train.pairs import is_validation, read_jsonl
from thinktree.train.ppm_head import pairwise_accuracy

ROOT = Path(__file__).resolve().parents[1]


class ValueModel(torch.nn.Module):
    def __init__(self, lm: torch.nn.Module, hidden: int) -> None:
        super().__init__()
        self.lm = lm
        self.head = torch.nn.Linear(hidden, 1)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        out = self.lm(input_ids=ids, output_hidden_states=True)
        return self.head(out.hidden_states[-1][:, -1, :]).reshape(-1)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pairs", required=True)
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--max-tokens", type=int, default=384)
    parser.add_argument("--valid", type=int, default=60)
    args = parser.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(2)
    pairs = read_jsonl(args.pairs)
    train = [p for p in pairs if not is_validation(p.problem_id)]
    valid = [p for p in pairs if is_validation(p.problem_id)][: args.valid]
    random.Random(0).shuffle(train)
    path = resolve_model("fast").path
    started = time.perf_counter()
    tokenizer = AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
    lm = AutoModelForCausalLM.from_pretrained(path.parent, gguf_file=path.name,
                                              dtype=torch.float32)  # fmt: skip
    load_seconds = time.perf_counter() - started
    lm = get_peft_model(
        lm,
        LoraConfig(
            r=8,
            lora_alpha=16,
            lora_dropout=0.0,
            target_modules=["q_proj", "k_proj", "v_proj", "o_proj"],
        ),
    )
    model = ValueModel(lm, lm.config.hidden_size)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)

    def ids(question: str, steps: tuple) -> torch.Tensor:
        text = solution_text(question, list(steps))
        tokens = tokenizer(text, return_tensors="pt").input_ids[:, -args.max_tokens :]
        return tokens

    step_seconds = []
    for pair in train[: args.steps]:
        t0 = time.perf_counter()
        pos = model(ids(pair.question, pair.prefix + pair.chosen))
        neg = model(ids(pair.question, pair.prefix + pair.rejected))
        loss = torch.nn.functional.softplus(-(pos - neg)).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        step_seconds.append(time.perf_counter() - t0)
    model.eval()
    score_seconds = []
    r_pos, r_neg = [], []
    with torch.no_grad():
        for pair in valid:
            t0 = time.perf_counter()
            r_pos.append(float(model(ids(pair.question, pair.prefix + pair.chosen))))
            score_seconds.append(time.perf_counter() - t0)
            r_neg.append(float(model(ids(pair.question, pair.prefix + pair.rejected))))
    clean = np.array([p.clean for p in valid])
    rp, rn = np.array(r_pos), np.array(r_neg)
    record = {
        "model": "qwen2.5-coder-0.5b-instruct (GGUF dequantised to float32), LoRA r=8",
        "train_pairs_seen": len(step_seconds),
        "train_pairs_available": len(train),
        "seconds_per_train_pair": float(np.median(step_seconds)),
        "epoch_hours_estimate": float(np.median(step_seconds)) * len(train) / 3600,
        "seconds_per_scored_node": float(np.median(score_seconds)),
        "load_seconds": load_seconds,
        "valid_pairs": len(valid),
        "pairwise_accuracy": pairwise_accuracy(rp, rn),
        "pairwise_accuracy_clean": pairwise_accuracy(rp[clean], rn[clean]),
        "command": f"python benchmarks/ppm_lora_probe.py --pairs {args.pairs} --steps {args.steps}",
    }  # fmt: skip
    out_path = ROOT / "benchmarks" / "results" / "ppm.json"
    out = json.loads(out_path.read_text()) if out_path.exists() else {}
    out.setdefault("candidates", {})["lora-0.5b"] = record
    out_path.write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(record, indent=2))


if __name__ == "__main__":
    main()
