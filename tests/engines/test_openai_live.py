"""OpenAIEngine against a real OpenAI-compatible server: llama.cpp's, on 127.0.0.1.

The server is the HTTP endpoint of an in-process xllamacpp server holding the fast
embedded model; the same server also answers the ``llamacpp`` engine, so the two
engines can be compared request for request.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from thinktree.engines.base import CompletionRequest, EngineError
from thinktree.engines.llamacpp import LlamaCppEngine
from thinktree.engines.openai import OpenAIEngine

pytestmark = pytest.mark.model

QUESTION = "Question: Tom has 3 apples and buys 5 more. How many apples does he have?\n"


@pytest.fixture(scope="module")
def llama(fast_engine: LlamaCppEngine) -> LlamaCppEngine:
    return fast_engine


@pytest.fixture(scope="module")
def served_model(llama: LlamaCppEngine) -> str:
    # llama.cpp serves its model under the GGUF file's path.
    return httpx.get(f"{llama.base_url}/v1/models").json()["data"][0]["id"]


@pytest.fixture(scope="module")
def remote(llama: LlamaCppEngine, served_model: str) -> Iterator[OpenAIEngine]:
    engine = OpenAIEngine(f"{llama.base_url}/v1", served_model, max_concurrency=4, timeout=60)
    yield engine
    engine.close()


def prompt_length(llama: LlamaCppEngine, text: str) -> int:
    return len(httpx.post(f"{llama.base_url}/tokenize", json={"content": text}).json()["tokens"])


def test_greedy_text_equals_the_in_process_engine(
    llama: LlamaCppEngine, remote: OpenAIEngine
) -> None:
    requests = [
        CompletionRequest(QUESTION + "Answer:", max_tokens=12),
        CompletionRequest("def fibonacci(n):\n", max_tokens=16),
    ]
    # A prompt evaluated from scratch and one found in the prompt cache can differ in
    # the last bits of the logits (and so in a near-tie greedy choice), so both engines
    # are compared with the prompts already cached.
    llama.complete(requests)
    over_http = remote.complete(requests)
    in_process = llama.complete(requests)
    for mine, theirs in zip(over_http, in_process, strict=True):
        assert mine[0].text == theirs[0].text
        assert mine[0].text.strip()
        assert mine[0].finish_reason == theirs[0].finish_reason
        assert mine[0].generated_tokens == theirs[0].generated_tokens


def test_n_completions_with_token_counts_per_choice(
    llama: LlamaCppEngine, remote: OpenAIEngine
) -> None:
    prompt = QUESTION + "Let's think step by step.\n"
    [choices] = remote.complete(
        [CompletionRequest(prompt, max_tokens=12, temperature=1.0, n=3, seed=11, stop=("\n",))]
    )
    assert len(choices) == 3
    for choice in choices:
        assert choice.logprobs is None  # asked for internally, for the counts only
        assert "\n" not in choice.text
        if choice.finish_reason == "length":
            assert choice.generated_tokens == 12
        else:
            assert 1 <= choice.generated_tokens <= 12
    length = prompt_length(llama, prompt)
    first, *others = choices
    assert first.prompt_tokens + first.cached_tokens == length
    assert all(c.prompt_tokens == 0 and c.cached_tokens == length for c in others)


def test_stop_strings(remote: OpenAIEngine) -> None:
    [[completion]] = remote.complete(
        [CompletionRequest("Count to ten: 1, 2, 3,", max_tokens=16, stop=(" 6",))]
    )
    assert completion.finish_reason == "stop"
    assert completion.text.rstrip().endswith("5,") and " 6" not in completion.text


def test_logprobs_agree_with_the_in_process_engine(
    llama: LlamaCppEngine, remote: OpenAIEngine
) -> None:
    request = CompletionRequest("The capital of France is", max_tokens=6, logprobs=3)
    [[mine]] = remote.complete([request])
    [[theirs]] = llama.complete([request])
    assert mine.logprobs is not None and theirs.logprobs is not None
    assert len(mine.logprobs) == mine.generated_tokens == 6
    assert [t.token for t in mine.logprobs] == [t.token for t in theirs.logprobs]
    assert "".join(t.token for t in mine.logprobs) == mine.text
    for token in mine.logprobs:
        assert len(token.top) == 3
        assert [p for _, p in token.top] == sorted((p for _, p in token.top), reverse=True)
        assert token.top[0] == (token.token, pytest.approx(token.logprob))  # greedy
    assert mine.mean_logprob == pytest.approx(theirs.mean_logprob, abs=1e-3)


def test_same_seed_same_text(remote: OpenAIEngine) -> None:
    def sample(seed: int) -> str:
        request = CompletionRequest(QUESTION, max_tokens=10, temperature=1.0, seed=seed)
        return remote.complete([request])[0][0].text

    sample(0)  # both calls below then find the prompt in the cache (see the greedy test)
    first = sample(1234)
    assert sample(1234) == first
    assert len({first, sample(1), sample(2), sample(3)}) > 1


def test_too_long_prompt_fails_alone(remote: OpenAIEngine) -> None:
    requests = [
        CompletionRequest("1 + 1 =", max_tokens=4),
        CompletionRequest("word " * 1100, max_tokens=4, n=2),
        CompletionRequest("2 + 2 =", max_tokens=4),
    ]
    ok_before, failed, ok_after = remote.complete(requests)
    assert ok_before[0].error is None and ok_before[0].generated_tokens > 0
    assert ok_after[0].error is None and ok_after[0].generated_tokens > 0
    assert len(failed) == 2
    for completion in failed:
        assert completion.text == "" and completion.finish_reason == "error"
        assert completion.error is not None and "context size" in completion.error


def test_repeated_prompt_is_cached(llama: LlamaCppEngine, remote: OpenAIEngine) -> None:
    prompt = "Step 1:\n```python\n# The number of pens Ana buys.\npens = 4\n"
    request = CompletionRequest(prompt, max_tokens=4)
    remote.complete([request])
    before = remote.stats.cached_tokens
    [[again]] = remote.complete([request])
    length = prompt_length(llama, prompt)
    # llama.cpp re-evaluates the last prompt token to get logits for the first new one.
    assert again.cached_tokens == length - 1 and again.prompt_tokens == 1
    assert remote.stats.cached_tokens - before == length - 1


def test_render_chat_uses_the_model_template(
    llama: LlamaCppEngine, remote: OpenAIEngine, served_model: str, tmp_path
) -> None:
    conversations = [
        [{"role": "user", "content": "What is 3 + 5?"}],
        [
            {"role": "system", "content": "You are a careful math tutor."},
            {"role": "user", "content": "What is 3 + 5?"},
            {"role": "assistant", "content": "8"},
            {"role": "user", "content": "And 8 × 2?"},
        ],
    ]
    # The template llama.cpp read from the GGUF, rendered here by jinja2.
    props = httpx.get(f"{llama.base_url}/props").json()
    template = tmp_path / "qwen.jinja"
    template.write_text(props["chat_template"])
    with OpenAIEngine(llama.base_url, served_model, chat_template=template) as local:
        for messages in conversations:
            expected = llama.render_chat(messages)
            assert remote.render_chat(messages) == expected
            assert local.render_chat(messages) == expected
            assert expected.endswith("<|im_start|>assistant\n")


def test_check_model(llama: LlamaCppEngine, remote: OpenAIEngine, served_model: str) -> None:
    assert served_model in remote.served_models()
    remote.check_model()
    with OpenAIEngine(llama.base_url, "no-such-model") as wrong, pytest.raises(EngineError) as info:
        wrong.check_model()
    assert f"it serves: {served_model}" in str(info.value)


def test_stats_add_up(remote: OpenAIEngine) -> None:
    before = (remote.stats.requests, remote.stats.generated_tokens)
    results = remote.complete([CompletionRequest("x =", max_tokens=3) for _ in range(4)])
    assert remote.stats.requests == before[0] + 4
    assert remote.stats.generated_tokens == before[1] + sum(r[0].generated_tokens for r in results)
    assert remote.stats.generation_seconds > 0 and remote.stats.extra["request_seconds"] > 0
