"""A chat-completion request, read into a question and a validated search config.

Model names are ``thinktree-<strategy>`` for each strategy in the registry
(:data:`thinktree.search.registry.STRATEGIES`). Request fields map onto
:class:`thinktree.search.SearchConfig`:

- ``model`` → ``strategy``; ``n`` → ``samples`` (OpenAI's ``n`` asks for n
  choices; here it is the search's width, and one choice comes back);
- ``max_tokens`` (or ``max_completion_tokens``) → ``max_tokens``, the generated-token
  budget of the whole search, capped by the server;
- ``temperature``, ``top_p``, ``seed`` → the fields of the same name;
- ``thinktree``: an object of any other SearchConfig field (``k``, ``max_steps``,
  ``settle``...) plus ``scorer`` (unset: the server's ``--scorer``, or where none was
  given, the verifier shipped with the model for mcts, best_of_n and beam);
  ``thinktree.samples``/``rollouts`` are other names for ``n``. A field given twice
  with different values is a 400.

Only the last user message is solved; earlier turns and system messages are read
(their shape is checked) but not used. Fields of the OpenAI API not listed here
(``stop``, ``user``, ``stream_options``...) are accepted and ignored.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from thinktree.api import check_question
from thinktree.search import SearchConfig
from thinktree.search.registry import STRATEGIES
from thinktree.server.config import ServerConfig
from thinktree.server.errors import APIError, bad_request, from_validation

MODEL_PREFIX = "thinktree-"


def model_names() -> list[str]:
    """The served models: one per registered strategy, in registry order."""
    return [MODEL_PREFIX + name for name in STRATEGIES]


class TextPart(BaseModel):
    model_config = ConfigDict(extra="ignore")
    type: str
    text: str = ""


class Message(BaseModel):
    model_config = ConfigDict(extra="ignore")
    role: str
    content: str | list[TextPart] | None = None

    def text(self) -> str:
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return "".join(p.text for p in self.content if p.type == "text")


class ChatBody(BaseModel):
    """The request fields thinktree reads; strict types, so ``"n": "3"`` is a 400."""

    model_config = ConfigDict(extra="ignore", strict=True)
    model: str
    messages: list[Message]
    n: int | None = None
    max_tokens: int | None = None
    max_completion_tokens: int | None = None
    temperature: float | int | None = None
    top_p: float | int | None = None
    seed: int | None = None
    stream: bool = False
    thinktree: dict[str, Any] | None = None


@dataclass(frozen=True)
class ChatRequest:
    model: str
    question: str
    config: SearchConfig
    scorer: str
    stream: bool


def parse_body(raw: bytes, limits: ServerConfig) -> ChatRequest:
    """Read and check one request body; every user mistake is an :class:`APIError`."""
    if len(raw) > limits.max_body_bytes:
        raise APIError(
            413,
            f"the request body has {len(raw)} bytes; the limit is {limits.max_body_bytes}",
            code="request_too_large",
        )
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise bad_request(f"the body is not valid JSON: {exc}", code="invalid_json") from exc
    if not isinstance(data, dict):
        raise bad_request("the body must be a JSON object", code="invalid_json")
    try:
        body = ChatBody.model_validate(data)
    except ValidationError as exc:
        raise from_validation(exc) from exc
    if body.model not in model_names():
        raise APIError(
            404,
            f"the model {body.model!r} does not exist; choose one of {', '.join(model_names())}",
            param="model",
            code="model_not_found",
        )
    question = _question(body.messages, limits)
    fields, scorer = _search_fields(body, limits)
    try:
        config = SearchConfig(**fields)
    except ValidationError as exc:
        raise from_validation(exc) from exc
    except TypeError as exc:  # a field name that is not a string
        raise bad_request(str(exc), param="thinktree") from exc
    return ChatRequest(body.model, question, config, scorer, body.stream)


def _question(messages: list[Message], limits: ServerConfig) -> str:
    users = [m for m in messages if m.role == "user"]
    if not users:
        raise bad_request("messages hold no user message to solve", param="messages")
    try:
        text = check_question(users[-1].text())
    except ValueError as exc:
        raise bad_request(str(exc), param="messages") from exc
    if len(text) > limits.max_question_chars:
        raise bad_request(
            f"the question has {len(text)} characters; the limit is {limits.max_question_chars}",
            param="messages",
            code="context_length_exceeded",
        )
    return text


def _search_fields(body: ChatBody, limits: ServerConfig) -> tuple[dict[str, Any], str]:
    """SearchConfig fields (not yet validated) and the scorer name of a request."""
    extra = dict(body.thinktree or {})
    strategy = body.model.removeprefix(MODEL_PREFIX)
    scorer = extra.pop("scorer", None)
    if scorer is None:
        scorer = limits.request_default(STRATEGIES[strategy].takes_shipped_verifier)
    if not isinstance(scorer, str) or scorer not in limits.scorers:
        raise bad_request(
            f"unknown scorer {scorer!r}; this server has {', '.join(sorted(limits.scorers))}",
            param="thinktree.scorer",
        )
    if "rollouts" in extra:
        _set(extra, "samples", extra.pop("rollouts"), "thinktree.rollouts")
    if "strategy" in extra:
        raise bad_request("the model names the strategy; drop thinktree.strategy", "thinktree")
    fields: dict[str, Any] = dict(extra)
    fields["strategy"] = strategy
    tokens = body.max_tokens if body.max_tokens is not None else body.max_completion_tokens
    for name, value, param in (
        ("samples", body.n, "n"),
        ("max_tokens", tokens, "max_tokens"),
        ("temperature", body.temperature, "temperature"),
        ("top_p", body.top_p, "top_p"),
        ("seed", body.seed, "seed"),
    ):
        if value is not None:
            _set(fields, name, value, param)
    _cap(fields, "max_tokens", limits.max_tokens_limit)
    _cap(fields, "max_seconds", limits.max_seconds_limit)
    _cap(fields, "exec_timeout", limits.exec_timeout_limit, fill=False)
    return fields, scorer


def _set(fields: dict[str, Any], name: str, value: Any, param: str) -> None:
    if name in fields and fields[name] != value:
        raise bad_request(f"{name} is given twice ({fields[name]!r} and {value!r})", param)
    fields[name] = value


def _cap(fields: dict[str, Any], name: str, limit: float, fill: bool = True) -> None:
    """400 when ``name`` passes ``limit``; an absent one becomes ``limit`` if ``fill``."""
    value = fields.get(name)
    if value is None:
        if fill:
            fields[name] = limit
        return
    if isinstance(value, int | float) and not isinstance(value, bool) and value > limit:
        raise bad_request(f"{name} is {value}; this server allows at most {limit}", param=name)
