"""Pure pieces of the openai engine: URLs, request bodies, answer mapping."""

from __future__ import annotations

import pytest

from thinktree.engines.base import CompletionRequest, EngineError
from thinktree.engines.openai import normalize_base_url
from thinktree.engines.openai.responses import (
    completion_body,
    completions_from_response,
    is_context_error,
    parse_logprobs,
    prompt_account,
    split_completion_tokens,
)
from thinktree.engines.openai.transport import server_message


@pytest.mark.parametrize(
    ("given", "root"),
    [
        ("http://127.0.0.1:8000", "http://127.0.0.1:8000"),
        ("http://127.0.0.1:8000/", "http://127.0.0.1:8000"),
        ("http://127.0.0.1:8000/v1", "http://127.0.0.1:8000"),
        ("http://127.0.0.1:8000/v1/", "http://127.0.0.1:8000"),
        (" localhost:30000 ", "http://localhost:30000"),
        ("https://gpu.example.org/proxy/v1", "https://gpu.example.org/proxy"),
    ],
)
def test_base_url_with_or_without_v1(given: str, root: str) -> None:
    assert normalize_base_url(given) == root


@pytest.mark.parametrize("bad", ["", "ftp://host/v1"])
def test_bad_base_url(bad: str) -> None:
    with pytest.raises(EngineError):
        normalize_base_url(bad)


def test_body_asks_for_logprobs_when_n_above_one() -> None:
    body = completion_body(CompletionRequest("p", n=3, stop=("\n",), seed=-1), "m")
    assert body == {
        "model": "m",
        "prompt": "p",
        "max_tokens": 256,
        "temperature": 0.0,
        "top_p": 1.0,
        "top_k": -1,
        "min_p": 0.0,
        "n": 3,
        "seed": 0xFFFFFFFF,
        "stop": ["\n"],
        "logprobs": 1,
    }
    assert "logprobs" not in completion_body(CompletionRequest("p"), "m")
    assert completion_body(CompletionRequest("p", logprobs=5, n=2), "m")["logprobs"] == 5


def test_logprobs_of_both_shapes() -> None:
    llama = {
        "content": [
            {
                "id": 1,
                "token": " a",
                "logprob": -0.5,
                "bytes": [32, 97],
                "top_logprobs": [
                    {"token": " a", "logprob": -0.5},
                    {"token": " b", "logprob": -1.0},
                ],
            }
        ]
    }
    openai = {
        "tokens": [" a"],
        "token_logprobs": [-0.5],
        "text_offset": [0],
        "top_logprobs": [{" c": -3.0, " a": -0.5, " b": -1.0}],
    }
    for raw in (llama, openai):
        [token] = parse_logprobs(raw, top_k=2) or []
        assert (token.token, token.logprob, token.top) == (" a", -0.5, ((" a", -0.5), (" b", -1.0)))
    assert parse_logprobs(None, 1) is None


@pytest.mark.parametrize(
    ("total", "choices", "counts"),
    [
        (12, [("length", "abcdef"), ("stop", "ab"), ("stop", "abcd")], [8, 1, 3]),
        (16, [("length", "x"), ("length", "y")], [8, 8]),
        (6, [("stop", ""), ("stop", "")], [3, 3]),
        (3, [("length", "x"), ("stop", "ab")], [8, 0]),  # inconsistent usage: never negative
    ],
)
def test_usage_split_over_choices_without_logprobs(
    total: int, choices: list[tuple[str, str]], counts: list[int]
) -> None:
    raw = [{"finish_reason": finish, "text": text} for finish, text in choices]
    assert split_completion_tokens(total, raw, max_tokens=8) == counts


def test_server_without_logprobs_gets_usage_split() -> None:
    answer = {
        "choices": [
            {"index": 1, "text": "ab", "finish_reason": "stop"},
            {"index": 0, "text": "abcdefgh", "finish_reason": "length"},
        ],
        "usage": {"prompt_tokens": 10, "completion_tokens": 10},
    }
    completions, account = completions_from_response(
        CompletionRequest("p", max_tokens=8, n=2), answer, 0.1, "url"
    )
    assert [(c.text, c.generated_tokens) for c in completions] == [("abcdefgh", 8), ("ab", 2)]
    assert (account.evaluated, account.cached) == (10, 0)


@pytest.mark.parametrize(
    ("answer", "n", "evaluated", "cached"),
    [
        ({"usage": {"prompt_tokens": 27}, "timings": {"prompt_n": 1, "cache_n": 26}}, 3, 1, 26),
        (
            {"usage": {"prompt_tokens": 41, "prompt_tokens_details": {"cached_tokens": 32}}},
            1,
            9,
            32,
        ),
        ({"usage": {"prompt_tokens": 27, "prompt_tokens_details": None}}, 1, 27, 0),
        (
            {"usage": {"prompt_tokens": 27, "prompt_tokens_details": {"cached_tokens": 78}}},
            3,
            1,
            26,
        ),
        ({}, 1, 0, 0),
    ],
)
def test_prompt_account(answer: dict, n: int, evaluated: int, cached: int) -> None:
    account = prompt_account(answer, n)
    assert (account.evaluated, account.cached) == (evaluated, cached)


@pytest.mark.parametrize(
    ("status", "payload", "local"),
    [
        (
            400,
            {
                "error": {
                    "type": "exceed_context_size_error",
                    "message": "request (2001 tokens)"
                    " exceeds the available context size (1024 tokens)",
                }
            },
            True,
        ),
        (
            400,
            {
                "error": {
                    "message": "This model's maximum context length is 32768 tokens. However,"
                    " your request has 40012 input tokens."
                }
            },
            True,
        ),
        (
            400,
            {
                "message": "The input (40012 tokens) is longer than the model's context length"
                " (32768 tokens)."
            },
            True,
        ),
        (
            400,
            {
                "message": "Requested token count exceeds the model's maximum context length of"
                " 32768 tokens."
            },
            True,
        ),
        (400, {"error": {"message": "Field 'n': Value must be between 1 <= value <= 4"}}, False),
        (500, {"error": {"message": "context length bookkeeping failed"}}, False),
    ],
)
def test_context_errors_are_request_local(status: int, payload: dict, local: bool) -> None:
    assert is_context_error(status, payload, server_message(payload, "")) is local
