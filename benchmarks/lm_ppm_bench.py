"""Does running a pair's shared prefix once pay? Time the LM PPM's training step (forward
and backward of one pair, LoRA on every projection) with and without prefix sharing,
on small random Qwen2 models, and check both give the same scores.

    PYTHONPATH=src python benchmarks/lm_ppm_bench.py [--hidden 32 128] [--repeats 5]

The pair's shape follows GSM8K step pairs: a long shared prefix (question and earlier
steps) and two short continuations (one step and the suffix).
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch


def tiny_model(hidden: int, layers: int, vocab: int) -> torch.nn.Module:
    from peft import get_peft_model
    from transformers import Qwen2Config, Qwen2ForCausalLM

    from thinktree.train.lora import lora_config

    torch.manual_seed(0)
    config = Qwen2Config(
        vocab_size=vocab, hidden_size=hidden, intermediate_size=4 * hidden,
        num_hidden_layers=layers, num_attention_heads=4, num_key_value_heads=2,
        max_position_embeddings=1024, tie_word_embeddings=True,
    )  # fmt: skip
    model = Qwen2ForCausalLM(config)
    return get_peft_model(model, lora_config(8, 16, 0.0))


def main() -> None:
    from thinktree.train.ppm.lm.scoring import pair_logits, pair_loss
    from thinktree.train.ppm.lm.tokens import PairTokens

    parser = argparse.ArgumentParser()
    parser.add_argument("--hidden", type=int, nargs="+", default=[32, 128])
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--vocab", type=int, default=2048)
    parser.add_argument("--shared", type=int, default=250)
    parser.add_argument("--sides", type=int, nargs=2, default=[60, 45])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    gen = torch.Generator().manual_seed(1)
    ids = lambda n: tuple(torch.randint(2, args.vocab, (n,), generator=gen).tolist())  # noqa: E731
    pair = PairTokens(ids(args.shared), ids(args.sides[0]), ids(args.sides[1]), False)
    for hidden in args.hidden:
        model = tiny_model(hidden, args.layers, args.vocab)
        model.train()
        times: dict[bool, list[float]] = {True: [], False: []}
        scores = {}
        for _ in range(args.repeats):
            for share in (True, False):
                started = time.perf_counter()
                loss, s = pair_loss(pair_logits(model, pair, share), 0, 1, 0.1)
                loss.backward()
                times[share].append(time.perf_counter() - started)
                scores[share] = s
                model.zero_grad()
        gap = float((scores[True] - scores[False]).abs().max())
        shared_ms = 1000 * statistics.median(times[True])
        apart_ms = 1000 * statistics.median(times[False])
        print(
            f"hidden {hidden}, {args.layers} layers, shared {args.shared} + {args.sides}: "
            f"shared prefix {shared_ms:.1f} ms, whole sides {apart_ms:.1f} ms "
            f"({apart_ms / shared_ms:.2f}x), max score gap {gap:.2e}"
        )


if __name__ == "__main__":
    main()
