"""The LM PPM trainer on a tiny random Qwen2 model: loss, score, learning, resume, output."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from thinktree.models.assemble import sha256_file

torch = pytest.importorskip("torch", reason="needs the train extra")
pytest.importorskip("peft")
gguf = pytest.importorskip("gguf")

from tests.train.lm_ppm_fakes import (  # noqa: E402
    NO_ID,
    PAIRS,
    YES_ID,
    CharTokenizer,
    base,
    load_tiny,
    one_thread,
    pair,
    tiny_model,
)
from thinktree.reward.lm_format import ppm_text  # noqa: E402
from thinktree.train.lora import lora_config  # noqa: E402
from thinktree.train.ppm.lm.config import LMPPMConfig  # noqa: E402
from thinktree.train.ppm.lm.output import BaseFile  # noqa: E402
from thinktree.train.ppm.lm.scoring import pair_logits, pair_loss  # noqa: E402
from thinktree.train.ppm.lm.tokens import answer_ids, pair_tokens, side_ids  # noqa: E402
from thinktree.train.ppm.lm.training import train_lm_ppm  # noqa: E402

FAST = dict(
    validation_fraction=0.3, pairs_per_step=2, learning_rate=1e-2, warmup=0.0, rank=4,
    alpha=8.0, dropout=0.1, bf16=False, max_length=256, feature_baseline=False,
)  # fmt: skip


pytestmark = pytest.mark.usefixtures("one_thread")
__all__ = ["base", "one_thread"]  # fixtures, used by name


def test_pair_loss_on_hand_set_logits() -> None:
    """Chosen row scores 2 - 0 = 2, rejected 0 - 1 = -1: log(1 + e^-3); the mass term
    adds the mean of -log(p_yes + p_no) over the two rows, weighted."""
    logits = torch.tensor([[0.0, 2.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0]])
    loss, scores = pair_loss(logits, 1, 2, mass_weight=0.0)
    assert scores.tolist() == [2.0, -1.0]
    assert float(loss) == pytest.approx(0.04858735157374206, abs=1e-6)
    loss, _ = pair_loss(logits, 1, 2, mass_weight=0.5)
    # -log((e^2 + 1) / (e^2 + 3)) = 0.213825, -log((1 + e) / (3 + e)) = 0.430407
    assert float(loss) == pytest.approx(0.04858735 + 0.5 * (0.21382494 + 0.43040669) / 2, abs=1e-6)


@pytest.mark.parametrize("share", [True, False])
def test_score_is_the_yes_minus_no_logit_after_the_text(share: bool) -> None:
    from peft import get_peft_model

    model = get_peft_model(tiny_model(), lora_config(4, 8.0, 0.0))
    with torch.no_grad():  # a LoRA that changes the output, so the adapter is read too
        for name, weight in model.named_parameters():
            if "lora_B" in name:
                weight.normal_(0, 0.5)
    model.eval()
    toy = pair("p1", 5)
    tokens = pair_tokens(CharTokenizer(), toy, 256)
    assert len(tokens.shared) > 30  # the question and the first step
    with torch.no_grad():
        logits = pair_logits(model, tokens, share_prefix=share)
        for row, steps in enumerate((toy.prefix + toy.chosen, toy.prefix + toy.rejected)):
            ids = CharTokenizer().encode(ppm_text(toy.question, steps))
            manual = model(input_ids=torch.tensor([ids])).logits[0, -1]
            expected = float(manual[YES_ID] - manual[NO_ID])
            assert float(logits[row, YES_ID] - logits[row, NO_ID]) == pytest.approx(
                expected, abs=1e-5
            )


def test_answer_tokens_and_truncation_keep_the_question() -> None:
    tokenizer = CharTokenizer()
    assert answer_ids(tokenizer) == (YES_ID, NO_ID)
    toy = pair("p1", 5)
    steps = toy.prefix + toy.chosen
    full, cut = side_ids(tokenizer, toy.question, steps, 10_000)
    short, cut_short = side_ids(tokenizer, toy.question, steps, 80)
    assert (cut, cut_short, len(short)) == (False, True, 80)
    question = tokenizer.encode(f"Question: {toy.question}\n\nStep 1:")
    assert short[: len(question)] == question
    assert short[len(question) :] == full[len(full) - (80 - len(question)) :]


def test_training_moves_held_out_pairs_the_right_way(tmp_path: Path, base: BaseFile) -> None:
    config = LMPPMConfig(**FAST, max_steps=12)
    result = train_lm_ppm(PAIRS, tmp_path / "ppm", config, base, load=load_tiny)
    assert result is not None
    held = result.record["training"]["held_out_accuracy"]
    assert held["base"] < 1.0
    assert held["lm_ppm"] == 1.0
    assert result.losses[-1] < result.losses[0]


def test_a_killed_run_resumes_on_the_same_loss_curve(tmp_path: Path, base: BaseFile) -> None:
    config = LMPPMConfig(**FAST, max_steps=6, save_steps=2)
    whole = train_lm_ppm(PAIRS, tmp_path / "whole", config, base, load=load_tiny)

    def killed(stage: str, done: int, total: int) -> None:
        if stage == "train" and done == 3:  # after step 2's checkpoint, before step 4's
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train_lm_ppm(PAIRS, tmp_path / "killed", config, base, load=load_tiny, progress=killed)
    resumed = train_lm_ppm(PAIRS, tmp_path / "killed", config, base, load=load_tiny)
    assert whole is not None and resumed is not None
    assert len(whole.losses) == 6
    assert resumed.losses == whole.losses
    assert resumed.record["training"]["steps"] == 6


def test_a_stopped_run_resumes_exactly(tmp_path: Path, base: BaseFile) -> None:
    config = LMPPMConfig(**FAST, max_steps=5, save_steps=10)
    whole = train_lm_ppm(PAIRS, tmp_path / "whole", config, base, load=load_tiny)
    asked = iter([False, False, True])
    out = tmp_path / "stopped"
    first = train_lm_ppm(PAIRS, out, config, base, load=load_tiny, stop=lambda: next(asked))
    assert first is None
    resumed = train_lm_ppm(PAIRS, out, config, base, load=load_tiny)
    assert whole is not None and resumed is not None
    assert resumed.losses == whole.losses


def test_a_checkpoint_of_other_pairs_is_refused(tmp_path: Path, base: BaseFile) -> None:
    config = LMPPMConfig(**FAST, max_steps=4)
    out = tmp_path / "ppm"
    assert train_lm_ppm(PAIRS, out, config, base, load=load_tiny, stop=lambda: True) is None
    with pytest.raises(ValueError) as info:
        train_lm_ppm(PAIRS[:-1], out, config, base, load=load_tiny)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{out}/checkpoints/checkpoint.pt was trained on other pairs")
    with pytest.raises(ValueError, match=r"other settings \(rank\)"):
        train_lm_ppm(PAIRS, out, config.model_copy(update={"rank": 8}), base, load=load_tiny)


def test_ppm_json_has_the_documented_fields(tmp_path: Path, base: BaseFile) -> None:
    config = LMPPMConfig(**{**FAST, "feature_baseline": True}, max_steps=2)
    out = tmp_path / "ppm"
    result = train_lm_ppm(PAIRS, out, config, base, load=load_tiny)
    assert result is not None
    record = json.loads((out / "ppm.json").read_text())
    assert record == result.record
    assert {k: record[k] for k in (
        "kind", "format", "adapter", "peft", "yes_token_id", "no_token_id", "base", "base_file",
        "base_sha256", "lora_rank", "lora_alpha", "lora_targets",
    )} == {
        "kind": "lm", "format": 1, "adapter": "adapter.gguf", "peft": "peft",
        "yes_token_id": YES_ID, "no_token_id": NO_ID, "base": "tiny", "base_file": "tiny.gguf",
        "base_sha256": "ab" * 32, "lora_rank": 4, "lora_alpha": 8.0,
        "lora_targets": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
    }  # fmt: skip
    assert record["adapter_sha256"] == sha256_file(out / "adapter.gguf")
    assert record["text"] == {
        "suffix": "\n\nIs every step so far right? Answer:",
        "yes": " yes",
        "no": " no",
    }
    training = record["training"]
    assert {k: training[k] for k in (
        "pairs_train", "pairs_held_out", "problems_train", "problems_held_out", "steps",
        "pairs_by_kind", "epochs", "groups_train",
    )} == {
        "pairs_train": 7, "pairs_held_out": 6, "problems_train": 6, "problems_held_out": 6,
        "steps": 2, "pairs_by_kind": {"final": 1, "step": 12}, "epochs": 4 / 7,
        "groups_train": 7,  # p4's step and final pairs are of two kinds: two groups
    }  # fmt: skip
    assert training["tokens_seen"] > 0 and training["seconds"] > 0
    assert training["config"]["bf16"] is False
    held_out = training["held_out_accuracy"]
    assert set(held_out) == {
        "lm_ppm", "lm_ppm_clean", "lm_ppm_by_kind", "base", "mean_logprob", "feature_ppm",
        "by_policy",
    }  # fmt: skip
    assert held_out["lm_ppm_clean"] is None  # every rejected side raised
    assert held_out["mean_logprob"] == 0.5  # the toy steps carry no log-probabilities: ties
    assert 0.0 <= held_out["feature_ppm"] <= 1.0
    rows = [json.loads(line) for line in (out / "held_out.jsonl").read_text().splitlines()]
    assert [(r["problem_id"], r["kind"]) for r in rows] == [
        ("p0", "step"), ("p2", "step"), ("p3", "step"), ("p7", "step"), ("p9", "step"),
        ("p11", "step"),
    ]  # fmt: skip
    right = sum(r["scores"]["lm"][0] > r["scores"]["lm"][1] for r in rows)
    ties = sum(r["scores"]["lm"][0] == r["scores"]["lm"][1] for r in rows)
    assert held_out["lm_ppm"] == (right + ties / 2) / 6
    assert all(r["scores"]["feature"] is not None for r in rows)
    assert (out / "peft" / "adapter_model.safetensors").is_file()
    assert not (out / "checkpoints").exists()
    reader = gguf.GGUFReader(str(out / "adapter.gguf"))
    names = {t.name for t in reader.tensors}
    assert "blk.1.ffn_down.weight.lora_b" in names and len(names) == 2 * 7 * 2
    # A rerun reads the finished PPM back instead of training again.
    again = train_lm_ppm(PAIRS, out, config, base, load=lambda path: pytest.fail("loaded"))
    assert again is not None and again.record == record
    with pytest.raises(ValueError, match=r"ppm.json was made with other settings \(alpha\)"):
        train_lm_ppm(PAIRS, out, config.model_copy(update={"alpha": 4.0}), base, load=load_tiny)


def test_the_output_layer_runs_in_float32_under_bf16_autocast() -> None:
    model = tiny_model()
    tokens = pair_tokens(CharTokenizer(), pair("p1", 5), 256)
    with torch.no_grad():
        plain = pair_logits(model, tokens, share_prefix=True)
        with torch.autocast(device_type="cpu", dtype=torch.bfloat16):
            mixed = pair_logits(model, tokens, share_prefix=True)
    assert mixed.dtype == torch.float32
    # Only the decoder's bfloat16 differs: the float32 output layer keeps distinct
    # values that a bfloat16 one would round together.
    assert torch.unique(mixed).numel() > torch.unique(mixed.bfloat16()).numel()
    assert torch.allclose(mixed, plain, atol=0.1)
