"""Bad requests: each a 4xx with an OpenAI-style error object, and the server unharmed."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.server.helpers import QUESTION, live_server, pens_script, server_config
from thinktree.engines.scripted import ScriptedEngine

USER = [{"role": "user", "content": QUESTION}]


def body(**fields: object) -> bytes:
    return json.dumps({"model": "thinktree-greedy", "messages": USER, **fields}).encode()


# (case, raw body, status, param, code, message fragment)
CASES = [
    ("not json", b"{model: greedy", 400, None, "invalid_json", "not valid JSON"),
    ("not utf-8", b"\xff\xfe{}", 400, None, "invalid_json", "not valid JSON"),
    ("json list", b"[1, 2]", 400, None, "invalid_json", "must be a JSON object"),
    ("empty body", b"", 400, None, "invalid_json", "not valid JSON"),
    ("no model", json.dumps({"messages": USER}).encode(), 400, "model", None, "model: Field required"),
    ("unknown model", body(model="gpt-4o"), 404, "model", "model_not_found", "'gpt-4o' does not exist"),
    ("model by strategy name", body(model="greedy"), 404, "model", "model_not_found", "thinktree-mcts"),
    ("no messages", json.dumps({"model": "thinktree-greedy"}).encode(), 400, "messages", None, "Field required"),
    ("messages a string", body(messages="hi"), 400, "messages", None, "messages: Input should be a valid list"),
    ("message without role", body(messages=[{"content": "hi"}]), 400, "messages.0.role", None, "Field required"),
    ("content a number", body(messages=[{"role": "user", "content": 12}]), 400, "messages.0.content", None, "messages.0.content"),
    ("no messages at all", body(messages=[]), 400, "messages", None, "no user message"),
    ("no user message", body(messages=[{"role": "system", "content": "Be brief."}]), 400, "messages", None, "no user message"),
    ("blank question", body(messages=[{"role": "user", "content": "   "}]), 400, "messages", None, "the question is empty"),
    ("unreadable question", body(messages=[{"role": "user", "content": "?!"}]), 400, "messages", None, "no readable text"),
    ("question too long", body(messages=[{"role": "user", "content": "x" * 8001}]), 400, "messages", "context_length_exceeded", "8001 characters; the limit is 8000"),
    ("n zero", body(n=0), 400, "samples", None, "samples: Input should be greater than or equal to 1"),
    ("n as text", body(n="3"), 400, "n", None, "n: Input should be a valid integer"),
    ("n too large", body(n=5000), 400, "samples", None, "less than or equal to 1024"),
    ("max_tokens zero", body(max_tokens=0), 400, "max_tokens", None, "greater than or equal to 1"),
    ("max_tokens past the cap", body(max_tokens=10**6), 400, "max_tokens", None, "at most 65536"),
    ("temperature too high", body(temperature=5), 400, "temperature", None, "less than or equal to 2"),
    ("stream not a bool", body(stream="yes"), 400, "stream", None, "valid boolean"),
    ("thinktree not an object", body(thinktree=3), 400, "thinktree", None, "valid dictionary"),
    ("k zero", body(thinktree={"k": 0}), 400, "k", None, "k: Input should be greater than or equal to 1"),
    ("unknown field", body(thinktree={"depth": 3}), 400, "depth", None, "Extra inputs are not permitted"),
    ("unknown scorer", body(thinktree={"scorer": "ppm:/etc"}), 400, "thinktree.scorer", None, "unknown scorer 'ppm:/etc'"),
    ("strategy in thinktree", body(thinktree={"strategy": "mcts"}), 400, "thinktree", None, "the model names the strategy"),
    ("samples given twice", body(n=3, thinktree={"samples": 5}), 400, "n", None, "samples is given twice (5 and 3)"),
    ("exec_timeout past the cap", body(thinktree={"exec_timeout": 99}), 400, "exec_timeout", None, "at most 30.0"),
    ("max_seconds past the cap", body(thinktree={"max_seconds": 1e9}), 400, "max_seconds", None, "at most 600.0"),
    ("body too large", body(messages=[{"role": "user", "content": "y" * 1_100_000}]), 413, None, "request_too_large", "the limit is 1000000"),
]  # fmt: skip


@pytest.fixture(scope="module")
def url(sandbox, grader, tmp_path_factory):
    engine = ScriptedEngine(pens_script)
    with live_server(engine, sandbox, grader, server_config(tmp_path_factory.mktemp("s"))) as u:
        yield u


def check_error(response: httpx.Response, status: int, param, code, fragment: str) -> None:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert fragment in error["message"] and "\n" not in error["message"]
    assert (error["param"], error["code"]) == (param, code)


@pytest.mark.parametrize(
    ("raw", "status", "param", "code", "fragment"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_bad_request_is_a_4xx_error_object(url, raw, status, param, code, fragment) -> None:
    response = httpx.post(
        url + "/v1/chat/completions", content=raw, headers={"content-type": "application/json"}
    )
    check_error(response, status, param, code, fragment)
    assert response.json()["error"]["type"] == "invalid_request_error"


def test_unknown_path_and_wrong_method_are_error_objects(url) -> None:
    check_error(httpx.get(url + "/v1/engines"), 404, None, "not_found", "Not Found")
    check_error(
        httpx.get(url + "/v1/chat/completions"), 405, None, "method_not_allowed", "Not Allowed"
    )


def test_server_still_answers_after_bad_requests(url) -> None:
    for _, raw, *_ in CASES[:5]:
        httpx.post(url + "/v1/chat/completions", content=raw)
    response = httpx.post(url + "/v1/chat/completions", content=body(), timeout=30)
    assert response.status_code == 200
    assert response.json()["choices"][0]["message"]["content"] == "Answer: \\boxed{8}"
