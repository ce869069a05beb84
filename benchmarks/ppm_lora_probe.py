"""The LoRA candidate for the PPM, probed: cost per training pair and per scored node.

    .venv/bin/python benchmarks/ppm_lora_probe.py --pairs benchmarks/ppm/default/pairs.jsonl \
        [--steps 60] [--max-tokens 384] [--valid 60]

A small LM (the fast 0.5B, loaded by transformers from its GGUF file and
dequantised to float32) with LoRA adapters (r = 8 on the attention projections)
and a linear value head on the last token, trained with the same pairwise loss,
one pair per step, for ``--steps`` steps on the pairs outside fold 0 of
ppm_bench.py's 5-fold split by problem; then scored on fold 0's pairs, next to
the handcrafted-feature MLP (the default PPM's features and head) and the
baselines trained and scored on the same split. It measures what this option
costs on a 2-core CPU, which decides whether it can be the default. Merges its
figures into benchmarks/results/ppm.json under candidates["lora-0.5b"].
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
from thinktree.reward.features import FeatureSpec, Featurizer
from thinktree.reward.ppm import PPM_FILE
from thinktree.steps import solution_text
from thinktree.train.ppm.data import pair_features
from thinktree.train.ppm.head import HeadConfig
from thinktree.train.ppm.pairs import PreferencePair, fold_of, is_validation, read_jsonl
from thinktree.train.ppm.training import accuracies, score_held_out

ROOT = Path(__file__).resolve().parents[1]


def reference_accuracies(
    train: list[PreferencePair], valid: list[PreferencePair], default: Path
) -> dict[str, dict[str, float]]:
    """The default PPM's features and head (read from its ``ppm.json``) and the
    baselines, fitted on ``train`` as in one fold of cross-validation and scored
    on ``valid``."""
    config = json.loads((default / PPM_FILE).read_text())
    pairs = train + valid
    x = pair_features(pairs, Featurizer(FeatureSpec.from_dict(config["features"])), None)
    test = np.arange(len(pairs)) >= len(train)
    stopping = np.array([is_validation(p.problem_id) for p in pairs])
    clean = np.array([p.clean for p in valid])
    scores = score_held_out(pairs, x, HeadConfig(**config["head"]), test, stopping)
    names = {"head": "default-ppm"}
    return {names.get(name, name): accuracies(*s, clean) for name, s in scores.items()}


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
    train = [p for p in pairs if fold_of(p.problem_id, 5) != 0]
    valid = [p for p in pairs if fold_of(p.problem_id, 5) == 0][: args.valid]
    same_split = reference_accuracies(train, valid, ROOT / "benchmarks" / "ppm" / "default")
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
    lora = accuracies(np.array(r_pos), np.array(r_neg), clean)
    record = {
        "model": "qwen2.5-coder-0.5b-instruct (GGUF dequantised to float32), LoRA r=8",
        "train_pairs_seen": len(step_seconds),
        "train_pairs_available": len(train),
        "seconds_per_train_pair": float(np.median(step_seconds)),
        "epoch_hours_estimate": float(np.median(step_seconds)) * len(train) / 3600,
        "seconds_per_scored_node": float(np.median(score_seconds)),
        "load_seconds": load_seconds,
        "valid_pairs": len(valid),
        "valid_clean_pairs": int(clean.sum()),
        "pairwise_accuracy": lora["all"],
        "pairwise_accuracy_clean": lora["clean"],
        "same_split": same_split,
        "command": f"python benchmarks/ppm_lora_probe.py --pairs {args.pairs} "
        f"--steps {args.steps} --max-tokens {args.max_tokens} --valid {args.valid}",
    }  # fmt: skip
    out_path = ROOT / "benchmarks" / "results" / "ppm.json"
    out = json.loads(out_path.read_text()) if out_path.exists() else {}
    out.setdefault("candidates", {})["lora-0.5b"] = record
    out_path.write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(record, indent=2))


if __name__ == "__main__":
    main()
