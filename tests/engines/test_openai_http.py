"""OpenAIEngine against real local sockets: failure paths, and recorded vLLM/SGLang answers.

No vLLM or SGLang server runs on this machine, so their answers are JSON files in
``fixtures/`` transcribed from their source (each names it in ``_source``) and served
by a small ``http.server`` on 127.0.0.1.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from thinktree.engines.base import CompletionRequest, Engine, EngineError
from thinktree.engines.openai import OpenAIEngine

FIXTURES = Path(__file__).parent / "fixtures"


def fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


# -- a scripted HTTP server ---------------------------------------------------------------


@dataclass
class Reply:
    status: int = 200
    body: Any = None
    """A dict or list is sent as JSON; bytes or str as they are."""
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)


Route = Callable[[Any], Reply]


def recorded(name: str) -> Reply:
    doc = fixture(name)
    return Reply(doc["status"], doc["response"])


class StubServer:
    """``ThreadingHTTPServer`` answering each (method, path) from a script.

    A route is a list of replies given in turn (the last one repeats), or a function
    of the request body. Unknown routes answer 404 as FastAPI does.
    """

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], list[Reply] | Route] = {}
        self.seen: list[tuple[str, str, Any]] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _serve(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = raw
                stub.seen.append((method, self.path, body))
                reply = stub.reply(method, self.path, body)
                time.sleep(reply.delay)
                if isinstance(reply.body, (dict, list)):
                    data, kind = json.dumps(reply.body).encode(), "application/json"
                elif isinstance(reply.body, str):
                    data, kind = reply.body.encode(), "text/plain"
                else:
                    data, kind = reply.body or b"", "application/json"
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", kind)
                    self.send_header("Content-Length", str(len(data)))
                    for key, value in reply.headers.items():
                        self.send_header(key, value)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up
                    pass

            def do_GET(self) -> None:
                self._serve("GET")

            def do_POST(self) -> None:
                self._serve("POST")

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def route(self, method: str, path: str, *replies: Reply | Route) -> None:
        if len(replies) == 1 and callable(replies[0]) and not isinstance(replies[0], Reply):
            self.routes[(method, path)] = replies[0]
        else:
            self.routes[(method, path)] = [r for r in replies if isinstance(r, Reply)]

    def reply(self, method: str, path: str, body: Any) -> Reply:
        script = self.routes.get((method, path))
        if script is None:
            return Reply(404, {"detail": "Not Found"})
        if callable(script):
            return script(body)
        return script.pop(0) if len(script) > 1 else script[0]

    def calls(self, path: str) -> list[Any]:
        return [body for _, p, body in self.seen if p == path]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def stub() -> Iterator[StubServer]:
    server = StubServer()
    yield server
    server.close()


def engine(stub: StubServer, **kwargs: Any) -> OpenAIEngine:
    options: dict[str, Any] = {"max_retries": 2, "backoff": 0.01, "timeout": 5.0}
    options.update(kwargs)
    return OpenAIEngine(f"{stub.url}/v1", "test-model", **options)


def ok_answer(text: str = "4", tokens: int = 1) -> Reply:
    return Reply(
        200,
        {
            "choices": [{"index": 0, "text": text, "finish_reason": "stop", "logprobs": None}],
            "usage": {"prompt_tokens": 5, "completion_tokens": tokens, "total_tokens": 5 + tokens},
        },
    )


SERVER_ERROR = Reply(
    500, {"error": {"message": "CUDA out of memory", "type": "InternalServerError", "code": 500}}
)


# -- failures -----------------------------------------------------------------------------


def test_closed_port_fails_fast_after_bounded_retries() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    eng = OpenAIEngine(f"http://127.0.0.1:{port}/v1/", "m", max_retries=2, backoff=0.05)
    started = time.perf_counter()
    with pytest.raises(EngineError) as info:
        eng.complete([CompletionRequest("2 + 2 =")])
    elapsed = time.perf_counter() - started
    message = str(info.value)
    assert message.startswith(f"cannot reach http://127.0.0.1:{port}/v1/completions")
    assert "after 3 tries" in message and message.endswith("is the server running?")
    assert "\n" not in message
    assert 0.15 <= elapsed < 3  # waited 0.05 + 0.1 s between the three tries
    assert eng._transport.retries == 2
    eng.close()


def test_server_error_then_success_is_retried(stub: StubServer) -> None:
    stub.route("POST", "/v1/completions", SERVER_ERROR, ok_answer(" 4", 2))
    with engine(stub) as eng:
        [[completion]] = eng.complete([CompletionRequest("2 + 2 =", max_tokens=4)])
        assert completion.text == " 4" and completion.generated_tokens == 2
        assert eng.stats.extra["retries"] == 1
    assert len(stub.calls("/v1/completions")) == 2


def test_rate_limit_is_retried(stub: StubServer) -> None:
    busy = Reply(429, {"error": {"message": "too many requests"}}, headers={"Retry-After": "0"})
    stub.route("POST", "/v1/completions", busy, ok_answer())
    with engine(stub) as eng:
        assert eng.complete([CompletionRequest("x")])[0][0].text == "4"
    assert len(stub.calls("/v1/completions")) == 2


def test_server_error_gives_up_after_max_retries(stub: StubServer) -> None:
    stub.route("POST", "/v1/completions", SERVER_ERROR)
    with engine(stub, max_retries=1) as eng, pytest.raises(EngineError) as info:
        eng.complete([CompletionRequest("x")])
    assert str(info.value) == (
        f"{stub.url}/v1/completions answered HTTP 500: CUDA out of memory (after 2 tries)"
    )
    assert len(stub.calls("/v1/completions")) == 2


def test_not_found_is_not_retried_and_passes_the_message_on(stub: StubServer) -> None:
    stub.route("POST", "/v1/completions", recorded("vllm_error_model_not_found.json"))
    with engine(stub) as eng, pytest.raises(EngineError) as info:
        eng.complete([CompletionRequest("x")])
    assert str(info.value) == (
        f"{stub.url}/v1/completions answered HTTP 404: The model `qwen-typo` does not exist."
    )
    assert len(stub.calls("/v1/completions")) == 1


def test_bad_request_is_not_retried(stub: StubServer) -> None:
    bad = Reply(
        400,
        {
            "error": {
                "code": 400,
                "type": "invalid_request_error",
                "message": "Field 'n': Value must be\nbetween 1 <= value <= 4",
            }
        },
    )
    stub.route("POST", "/v1/completions", bad)
    with engine(stub) as eng, pytest.raises(EngineError) as info:
        eng.complete([CompletionRequest("x", n=6)])
    assert str(info.value).endswith("HTTP 400: Field 'n': Value must be between 1 <= value <= 4")
    assert len(stub.calls("/v1/completions")) == 1


def test_garbage_json_is_an_error(stub: StubServer) -> None:
    stub.route("POST", "/v1/completions", Reply(200, b"{'choices': [oops"))
    with engine(stub) as eng, pytest.raises(EngineError) as info:
        eng.complete([CompletionRequest("x")])
    assert "returned malformed JSON (HTTP 200): {'choices': [oops" in str(info.value)
    assert len(stub.calls("/v1/completions")) == 1


def test_an_answer_without_choices_is_an_error(stub: StubServer) -> None:
    stub.route("POST", "/v1/completions", Reply(200, {"object": "text_completion"}))
    with engine(stub) as eng, pytest.raises(EngineError, match="returned no 'choices' list"):
        eng.complete([CompletionRequest("x")])


def test_a_server_ignoring_n_is_an_error(stub: StubServer) -> None:
    stub.route("POST", "/v1/completions", ok_answer())
    with engine(stub) as eng, pytest.raises(EngineError, match="1 choices for n=3"):
        eng.complete([CompletionRequest("x", n=3)])


def test_slow_server_times_out_after_retries(stub: StubServer) -> None:
    stub.route("POST", "/v1/completions", Reply(200, {"choices": []}, delay=1.5))
    started = time.perf_counter()
    with engine(stub, timeout=0.2, max_retries=1) as eng, pytest.raises(EngineError) as info:
        eng.complete([CompletionRequest("x")])
    elapsed = time.perf_counter() - started
    assert str(info.value) == (
        f"{stub.url}/v1/completions did not answer within 0.2 s — the server is overloaded"
        " or the timeout is too short (after 2 tries)"
    )
    assert elapsed < 1.5
    assert len(stub.calls("/v1/completions")) == 2


def test_requests_run_concurrently_and_come_back_in_order(stub: StubServer) -> None:
    # Each request waits inside the server until all four are there: served one at a
    # time, the first would wait alone until the barrier broke (no clock is read).
    together = threading.Barrier(4, timeout=60)

    def echo_together(body: Any) -> Reply:
        together.wait()
        reply = ok_answer(body["prompt"].upper())
        reply.delay = 0.3 if body["prompt"] == "a" else 0.0  # the first request ends last
        return reply

    stub.route("POST", "/v1/completions", echo_together)
    with engine(stub, max_concurrency=4) as eng:
        results = eng.complete([CompletionRequest(p) for p in "abcd"])
    assert not together.broken
    assert [r[0].text for r in results] == ["A", "B", "C", "D"]


def test_api_key_and_extra_body_are_sent(stub: StubServer) -> None:
    seen_headers: list[str] = []
    stub.route("POST", "/v1/completions", ok_answer())
    with engine(
        stub, api_key="sk-test", extra_body={"min_p": None, "repetition_penalty": 1.1}
    ) as eng:
        original = eng._transport._client.request

        def spy(method: str, url: str, **kwargs: Any) -> Any:
            response = original(method, url, **kwargs)
            seen_headers.append(response.request.headers["authorization"])
            return response

        eng._transport._client.request = spy  # type: ignore[method-assign]
        eng.complete([CompletionRequest("x", seed=2**40 + 5)])
    [body] = stub.calls("/v1/completions")
    assert seen_headers == ["Bearer sk-test"]
    assert "min_p" not in body and body["repetition_penalty"] == 1.1
    assert body["seed"] == 5  # masked to 32 bits, as the llamacpp engine does


def test_check_model_lists_what_the_server_serves(stub: StubServer) -> None:
    stub.route("GET", "/v1/models", recorded("vllm_models.json"))
    with OpenAIEngine(stub.url, "Qwen/Qwen2.5-Coder-0.5B-Instruct") as eng:
        assert isinstance(eng, Engine)
        assert eng.name == "openai:Qwen/Qwen2.5-Coder-0.5B-Instruct"
        assert eng.served_models() == ["Qwen/Qwen2.5-Coder-0.5B-Instruct"]
        eng.check_model()
    with OpenAIEngine(stub.url, "qwen-typo") as eng, pytest.raises(EngineError) as info:
        eng.check_model()
    assert str(info.value) == (
        f"{stub.url} does not serve model 'qwen-typo'; it serves: Qwen/Qwen2.5-Coder-0.5B-Instruct"
    )


# -- recorded vLLM and SGLang answers -----------------------------------------------------


def request_of(doc: dict[str, Any], logprobs: int = 0) -> CompletionRequest:
    sent = doc["request"]
    return CompletionRequest(
        prompt=sent["prompt"],
        max_tokens=sent["max_tokens"],
        temperature=sent["temperature"],
        top_p=sent["top_p"],
        stop=tuple(sent.get("stop", ())),
        seed=sent["seed"],
        n=sent["n"],
        logprobs=logprobs,
    )


@pytest.mark.parametrize(
    "name", ["vllm_completions_n3_logprobs.json", "sglang_completions_n3_logprobs.json"]
)
def test_n_choices_with_logprobs(stub: StubServer, name: str) -> None:
    doc = fixture(name)
    stub.route("POST", "/v1/completions", Reply(200, doc["response"]))
    with OpenAIEngine(stub.url, doc["request"]["model"]) as eng:
        [completions] = eng.complete([request_of(doc, logprobs=1)])
        stats = eng.stats
    [sent] = stub.calls("/v1/completions")
    assert sent == doc["request"]  # exactly the body the recorded answer was for

    choices = doc["response"]["choices"]
    usage = doc["response"]["usage"]
    assert [c.text for c in completions] == [c["text"] for c in choices]
    assert [c.finish_reason for c in completions] == ["stop", "stop", "length"]
    # Per choice: the number of tokens with a log-probability (usage only has the sum).
    assert [c.generated_tokens for c in completions] == [8, 8, 8]
    assert sum(c.generated_tokens for c in completions) == usage["completion_tokens"]
    for completion, choice in zip(completions, choices, strict=True):
        assert completion.logprobs is not None
        assert [t.token for t in completion.logprobs] == choice["logprobs"]["tokens"]
        assert [t.logprob for t in completion.logprobs] == choice["logprobs"]["token_logprobs"]
        assert all(len(t.top) == 1 for t in completion.logprobs)
    # vLLM lists the sampled " Tom" first and the more likely " Initial" second; SGLang
    # only the top-1. Either way the top alternative is the most likely one.
    assert completions[1].logprobs[1].token == " Tom"  # type: ignore[index]
    assert completions[1].logprobs[1].top == ((" Initial", -0.681),)  # type: ignore[index]
    if name.startswith("vllm"):  # no cache report: the whole prompt counts as evaluated
        assert [(c.prompt_tokens, c.cached_tokens) for c in completions] == [
            (27, 0),
            (0, 27),
            (0, 27),
        ]
        assert stats.prompt_tokens == 27 and stats.cached_tokens == 54
    else:  # SGLang reports 78 cached = 26 per choice (prompt pre-filled, not reported)
        assert [(c.prompt_tokens, c.cached_tokens) for c in completions] == [
            (1, 26),
            (0, 27),
            (0, 27),
        ]
        assert stats.prompt_tokens == 1
    assert stats.requests == 1 and stats.generated_tokens == 24


def test_vllm_cached_tokens(stub: StubServer) -> None:
    doc = fixture("vllm_completions_cached_tokens.json")
    stub.route("POST", "/v1/completions", Reply(200, doc["response"]))
    with OpenAIEngine(stub.url, doc["request"]["model"]) as eng:
        [[completion]] = eng.complete([request_of(doc)])
    assert stub.calls("/v1/completions") == [doc["request"]]
    assert completion.text == "# Tom buys 5 more apples\n"
    assert (completion.generated_tokens, completion.prompt_tokens, completion.cached_tokens) == (
        8,
        9,
        32,
    )
    assert completion.logprobs is None


def test_sglang_without_cache_report(stub: StubServer) -> None:
    doc = fixture("sglang_completions_n1.json")
    stub.route("POST", "/v1/completions", Reply(200, doc["response"]))
    with OpenAIEngine(stub.url, doc["request"]["model"]) as eng:
        [[completion]] = eng.complete([request_of(doc)])
    assert stub.calls("/v1/completions") == [doc["request"]]
    assert completion.finish_reason == "stop"
    assert (completion.generated_tokens, completion.prompt_tokens, completion.cached_tokens) == (
        15,
        27,
        0,
    )


@pytest.mark.parametrize(
    "name", ["vllm_error_context_length.json", "sglang_error_context_length.json"]
)
def test_too_long_prompt_fails_alone(stub: StubServer, name: str) -> None:
    doc = fixture(name)

    def answer(body: Any) -> Reply:
        if body["prompt"] == "long":
            return Reply(doc["status"], doc["response"])
        return ok_answer(body["prompt"])

    stub.route("POST", "/v1/completions", answer)
    with engine(stub) as eng:
        results = eng.complete(
            [CompletionRequest("a"), CompletionRequest("long", n=2), CompletionRequest("b")]
        )
        assert eng.stats.requests == 2 and eng.stats.extra["failed_requests"] == 1
    assert [r[0].text for r in (results[0], results[2])] == ["a", "b"]
    assert len(results[1]) == 2
    for failed in results[1]:
        assert failed.text == "" and failed.finish_reason == "error"
        assert failed.error is not None and "context length" in failed.error
    assert len(stub.calls("/v1/completions")) == 3  # not retried


def test_vllm_chat_template_through_tokenize(stub: StubServer) -> None:
    tokenize, detokenize = fixture("vllm_tokenize_chat.json"), fixture("vllm_detokenize.json")
    stub.route("POST", "/tokenize", Reply(200, tokenize["response"]))
    stub.route("POST", "/detokenize", Reply(200, detokenize["response"]))
    with OpenAIEngine(stub.url, tokenize["request"]["model"]) as eng:
        messages = tokenize["request"]["messages"]
        assert eng.render_chat(messages) == detokenize["response"]["prompt"]
        assert eng.render_chat(messages) == detokenize["response"]["prompt"]
    # llama.cpp's /apply-template is tried once, then vLLM's way is remembered.
    assert [path for _, path, _ in stub.seen] == [
        "/apply-template",
        "/tokenize",
        "/detokenize",
        "/tokenize",
        "/detokenize",
    ]
    assert stub.calls("/tokenize")[0] == tokenize["request"]
    assert stub.calls("/detokenize")[0] == detokenize["request"]


def test_sglang_chat_template_needs_a_file(stub: StubServer, tmp_path: Path) -> None:
    stub.route("POST", "/tokenize", recorded("sglang_tokenize_messages_rejected.json"))
    messages = [{"role": "user", "content": "What is 3 + 5?"}]
    with OpenAIEngine(stub.url, "m") as eng, pytest.raises(EngineError) as info:
        eng.render_chat(messages)
    assert "pass a chat template file" in str(info.value)

    config = tmp_path / "tokenizer_config.json"
    config.write_text(
        json.dumps(
            {
                "bos_token": None,
                "eos_token": {"content": "<|im_end|>", "special": True},
                "chat_template": "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}"
                "{{ eos_token }}\n{% endfor %}"
                "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}",
            }
        )
    )
    with OpenAIEngine(stub.url, "m", chat_template=config) as eng:
        assert eng.render_chat(messages) == (
            "<|im_start|>user\nWhat is 3 + 5?<|im_end|>\n<|im_start|>assistant\n"
        )
