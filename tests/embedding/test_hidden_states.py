"""Hidden-state embeddings with prefix reuse: a tiny random Qwen2 for exact checks, the real 0.5B once."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from thinktree.embedding.hidden_states import HiddenStateEmbedder  # noqa: E402
from thinktree.engines.base import EngineError  # noqa: E402
from thinktree.reward.base import ScoreItem  # noqa: E402
from thinktree.reward.features import FeatureSpec, Featurizer  # noqa: E402
from thinktree.steps import Step, StepKind  # noqa: E402

QUESTION = "Question: 2+2?"  # 14 byte tokens
CHILD_A = QUESTION + "\nStep 1: x = 4"  # 28
CHILD_B = QUESTION + "\nStep 1: print(4)"  # 31, shares 23 with CHILD_A


def _byte_tokens(text: str) -> list[int]:
    return list(text.encode())


@pytest.fixture(scope="module")
def tiny_model():
    from transformers import Qwen2Config, Qwen2Model

    torch.manual_seed(0)
    config = Qwen2Config(vocab_size=300, hidden_size=32, intermediate_size=64,
                         num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2)  # fmt: skip
    return Qwen2Model(config).eval()


def test_prefix_reuse_gives_the_same_vectors_as_reading_every_text_whole(tiny_model) -> None:
    texts = [QUESTION, CHILD_A, CHILD_B, "Other", CHILD_A, QUESTION[:-1]]
    cached = HiddenStateEmbedder(tiny_model, _byte_tokens)
    whole = HiddenStateEmbedder(tiny_model, _byte_tokens, max_cached=0)
    np.testing.assert_allclose(cached.embed(texts), whole.embed(texts), atol=1e-5)
    assert whole.stats.reused_tokens == 0
    # CHILD_A reuses QUESTION (14), CHILD_B the 23 it shares with CHILD_A, "Other" nothing,
    # the repeated CHILD_A all 28, and QUESTION[:-1] (13 tokens) 12: one token must be read.
    assert cached.stats.reused_tokens == 14 + 23 + 0 + 28 + 12
    assert cached.stats.tokens == whole.stats.tokens == 14 + 28 + 31 + 5 + 28 + 13
    assert cached.stats.texts == 6


def test_vectors_are_unit_length(tiny_model) -> None:
    vectors = np.array(HiddenStateEmbedder(tiny_model, _byte_tokens).embed([QUESTION, CHILD_A]))
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), [1.0, 1.0], atol=1e-6)


def test_least_recently_used_cache_is_evicted(tiny_model) -> None:
    engine = HiddenStateEmbedder(tiny_model, _byte_tokens, max_cached=1)
    engine.embed([QUESTION, "Other", CHILD_A])  # "Other" evicted QUESTION
    assert engine.stats.reused_tokens == 0
    engine.embed([CHILD_B])  # CHILD_A is the one entry left
    assert engine.stats.reused_tokens == 23


def test_reusing_a_prefix_does_not_change_the_cached_entry(tiny_model) -> None:
    engine = HiddenStateEmbedder(tiny_model, _byte_tokens)
    engine.embed([CHILD_A])
    engine.embed([CHILD_B, CHILD_A + " more"])  # both start from CHILD_A's cache
    reused = engine.stats.reused_tokens
    # A third text read from CHILD_A's entry (28 shared tokens; "!" parts from " more")
    # is right only if the two reads before left that entry as CHILD_A wrote it.
    warm = engine.embed([CHILD_A + "!"])[0]
    assert engine.stats.reused_tokens - reused == len(CHILD_A)
    cold = HiddenStateEmbedder(tiny_model, _byte_tokens, max_cached=0).embed([CHILD_A + "!"])[0]
    np.testing.assert_allclose(warm, cold, atol=1e-5)


def test_empty_text_is_refused(tiny_model) -> None:
    with pytest.raises(EngineError, match="empty"):
        HiddenStateEmbedder(tiny_model, _byte_tokens).embed([""])


def test_missing_model_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(EngineError, match="no model file"):
        HiddenStateEmbedder.from_gguf(tmp_path / "absent.gguf")


def test_unreadable_model_file_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"not a gguf")
    with pytest.raises(EngineError, match="could not load"):
        HiddenStateEmbedder.from_gguf(bad)


def test_feature_spec_backend_is_checked_and_old_specs_read_as_llamacpp() -> None:
    with pytest.raises(ValueError, match="unknown embedding backend"):
        FeatureSpec(("embedding",), "fast", "full", backend="onnx")
    old = FeatureSpec.from_dict({"kinds": ["embedding"], "model": "fast", "context": "full"})
    assert old.backend == "llamacpp"
    spec = FeatureSpec(("embedding",), "fast")
    assert spec.backend == "torch"
    assert FeatureSpec.from_dict(spec.to_dict()) == spec


def test_featurizer_embeds_in_tree_order_so_parents_are_reused(tiny_model) -> None:
    engine = HiddenStateEmbedder(tiny_model, _byte_tokens)
    featurizer = Featurizer(FeatureSpec(("embedding",), "fast"), embedder=engine)
    step = Step(text="\nx = 4", kind=StepKind.CODE, code="x = 4", output="4")
    items = [ScoreItem("2+2?", [step, step]), ScoreItem("2+2?", [step])]  # child listed first
    x = featurizer.features(items)
    assert x.shape == (2, 32)
    texts = featurizer.texts(items)
    parent_tokens = len(texts[1].encode())
    assert engine.stats.reused_tokens == parent_tokens  # the parent was read first


@pytest.mark.model
def test_real_model_child_reuses_its_parent_and_matches_a_cold_read() -> None:
    from thinktree.models import resolve_model

    path = resolve_model("fast").path
    engine = HiddenStateEmbedder.from_gguf(path)
    parent = "Natalia sold clips to 48 of her friends in April. How many clips did she sell?"
    child = parent + "\n\nStep 1:\n```python\nclips_april = 48\nprint(clips_april)\n```\nOutput: 48"
    warm = engine.embed([parent, child])
    assert 0 < engine.stats.reused_tokens < engine.stats.tokens
    engine.close()
    cold = engine.embed([child])
    np.testing.assert_allclose(warm[1], cold[0], atol=2e-4)
    assert len(cold[0]) == 896  # Qwen2.5 0.5B hidden size
