"""The in-process llama.cpp engine: request mapping, batching, failures, determinism."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from thinktree.engines.base import CompletionRequest, EngineError
from thinktree.engines.llamacpp import LlamaCppEngine, LlamaCppOptions, completion_payload
from thinktree.models import resolve_model

QUESTION = "Question: Tom has 3 apples and buys 5 more. How many apples does he have?\nAnswer:"


def test_payload_maps_every_field() -> None:
    request = CompletionRequest(
        "p", max_tokens=7, temperature=0.7, top_p=0.9, stop=("Output:",), seed=2**40 + 5
    )
    assert completion_payload(request) == {
        "prompt": "p", "max_tokens": 7, "temperature": 0.7, "top_p": 0.9, "top_k": 0,
        "min_p": 0.0, "seed": 5, "stop": ["Output:"], "cache_prompt": True,
    }  # fmt: skip
    siblings = completion_payload(CompletionRequest("p", n=3))
    assert (siblings["n_cmpl"], siblings["n_probs"]) == (3, 1)
    assert completion_payload(CompletionRequest("p", logprobs=4))["n_probs"] == 4


def test_missing_model_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(EngineError, match="does not exist"):
        LlamaCppEngine(tmp_path / "nope.gguf")


def test_not_a_model_is_a_clear_error(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.gguf"
    bogus.write_bytes(b"GGUF" + b"\0" * 64)
    with pytest.raises(EngineError, match=r"llama\.cpp could not load"):
        LlamaCppEngine(bogus, LlamaCppOptions(n_parallel=1, ctx_per_slot=256))


def test_missing_lora_adapter_is_a_clear_error(tmp_path: Path) -> None:
    missing = tmp_path / "policy.gguf"
    message = f"^LoRA adapter {re.escape(str(missing))} does not exist$"
    options = LlamaCppOptions(n_parallel=1, ctx_per_slot=256, lora=((str(missing), 1.0),))
    with pytest.raises(EngineError, match=message):
        LlamaCppEngine(resolve_model("fast").path, options)


@pytest.mark.model
def test_an_adapter_that_is_not_one_is_a_clear_error(tmp_path: Path) -> None:
    bogus = tmp_path / "policy.gguf"
    bogus.write_bytes(b"GGUF" + b"\0" * 64)
    options = LlamaCppOptions(n_parallel=1, ctx_per_slot=256, threads=1, lora=((str(bogus), 1.0),))
    with pytest.raises(EngineError, match=f"could not load .* with LoRA {re.escape(str(bogus))}"):
        LlamaCppEngine(resolve_model("fast").path, options)


@pytest.mark.model
def test_siblings_share_one_prompt_evaluation(fast_engine: LlamaCppEngine) -> None:
    # At 0.9 and 12 tokens two of the three siblings said " Tom has 8 apples." (seed 11):
    # the check that siblings are samples of their own must see three texts.
    request = CompletionRequest(QUESTION, max_tokens=24, temperature=1.2, seed=11, n=3)
    (choices,) = fast_engine.complete([request])
    assert len(choices) == 3
    assert len({c.text for c in choices}) == 3  # three different samples of one prompt
    first, *others = choices
    assert first.prompt_tokens + first.cached_tokens > 0
    assert all(c.prompt_tokens == 0 for c in others)
    assert all(c.cached_tokens == first.prompt_tokens + first.cached_tokens for c in others)
    assert all(1 <= c.generated_tokens <= 24 for c in choices)
    assert all(c.logprobs is None for c in choices)  # counted, but not asked for


@pytest.mark.model
def test_a_prompt_too_long_fails_alone(fast_engine: LlamaCppEngine) -> None:
    batch = [
        CompletionRequest(QUESTION, max_tokens=4),
        CompletionRequest("apples " * 3000, max_tokens=4, n=2),
        CompletionRequest("def add(a, b):", max_tokens=4),
    ]
    good, bad, other = fast_engine.complete(batch)
    assert good[0].error is None and good[0].text
    assert other[0].error is None and other[0].text
    assert len(bad) == 2
    assert all("exceeds the available context size" in c.error for c in bad)


@pytest.mark.model
def test_stop_strings_logprobs_and_seeds(fast_engine: LlamaCppEngine) -> None:
    prompt = "Count: one, two, three, four, five, six,"
    stop = CompletionRequest(prompt, max_tokens=20, stop=(" nine",))
    (choice,) = fast_engine.complete([stop])[0]
    assert " nine" not in choice.text and choice.finish_reason == "stop"
    probed = CompletionRequest(prompt, max_tokens=5, logprobs=3)
    (choice,) = fast_engine.complete([probed])[0]
    assert choice.logprobs is not None and len(choice.logprobs) == choice.generated_tokens == 5
    assert all(len(t.top) == 3 and t.logprob <= 0 for t in choice.logprobs)
    assert choice.mean_logprob is not None and choice.mean_logprob < 0
    sampled = [
        CompletionRequest(QUESTION, max_tokens=10, temperature=1.0, seed=s) for s in (1, 1, 2)
    ]
    fast_engine.complete(sampled[:1])  # the prompt is now cached for every call below
    a, b, c = (fast_engine.complete([r])[0][0].text for r in sampled)
    assert a == b and a != c


@pytest.mark.model
def test_more_samples_than_slots_are_served_in_chunks() -> None:
    with LlamaCppEngine(
        resolve_model("fast").path, LlamaCppOptions(n_parallel=2, ctx_per_slot=512)
    ) as engine:
        (choices,) = engine.complete([CompletionRequest(QUESTION, 6, 0.9, seed=3, n=5)])
        assert len(choices) == 5 and all(c.error is None for c in choices)


@pytest.mark.model
def test_chat_template_comes_from_the_model(fast_engine: LlamaCppEngine) -> None:
    rendered = fast_engine.render_chat([{"role": "user", "content": "hi"}])
    assert rendered.endswith("<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n")
    assert fast_engine.base_url.startswith("http://127.0.0.1:")


DETERMINISM = """
from thinktree.engines.base import CompletionRequest
from thinktree.engines.llamacpp import LlamaCppEngine, LlamaCppOptions
from thinktree.models import resolve_model
with LlamaCppEngine(resolve_model("fast").path, LlamaCppOptions(n_parallel=1, ctx_per_slot=512)) as e:
    texts = [e.complete([CompletionRequest(p, max_tokens=24, seed=5, temperature=t)])[0][0].text
             for p in ("def mean(xs):", "Question: 2+2?\\nAnswer:") for t in (0.0, 0.8)]
    print(repr(texts))
"""


@pytest.mark.model
def test_one_slot_is_reproducible_across_fresh_engines_and_silent() -> None:
    runs = [
        subprocess.run([sys.executable, "-c", DETERMINISM], capture_output=True, text=True,
                       timeout=300, check=True)
        for _ in range(2)
    ]  # fmt: skip
    assert runs[0].stdout == runs[1].stdout and runs[0].stdout.startswith("[")
    assert runs[0].stderr == ""  # llama.cpp logs nothing unless --verbose
