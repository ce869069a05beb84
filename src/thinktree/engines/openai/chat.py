"""The model's own chat template, rendered by the server or from a file.

Strategies, tried in this order (the first that works is remembered):

1. a chat template file given by the user (``chat_template=``): a Jinja file, or the
   model's ``tokenizer_config.json``, rendered here in jinja2's sandbox the way
   Hugging Face ``apply_chat_template`` does (``trim_blocks``, ``lstrip_blocks``,
   ``raise_exception``, ``tojson``), with ``bos_token``/``eos_token`` from the JSON;
2. llama.cpp's server: ``POST /apply-template`` answers ``{"prompt"}`` (checked live);
3. vLLM: ``POST /tokenize`` with ``messages`` and ``add_generation_prompt`` renders the
   template and tokenizes it, and ``POST /detokenize`` turns the ids back into text
   (``vllm/entrypoints/serve/tokenize/``; tested against a recorded answer only). The
   text is the tokenizer's decode of the template's tokens: exact for byte-level BPE
   tokenizers (Qwen, Llama 3), possibly normalised for others.

SGLang offers neither (its ``/v1/tokenize`` takes a prompt, not messages), so with
SGLang, pass a chat template file.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from thinktree.engines.base import EngineError
from thinktree.engines.openai.transport import Transport, one_line

_NOT_OFFERED = (404, 405, 501)


@dataclass(frozen=True)
class ChatTemplateFile:
    """A chat template read from disk, with the special tokens it may refer to."""

    source: str
    template: str
    bos_token: str = ""
    eos_token: str = ""

    @classmethod
    def load(cls, path: str | Path) -> ChatTemplateFile:
        file = Path(path).expanduser()
        if not file.is_file():
            raise EngineError(f"chat template file {file} does not exist")
        text = file.read_text(encoding="utf-8")
        if file.suffix != ".json":
            return cls(str(file), text)
        try:
            config = json.loads(text)
        except ValueError as exc:
            raise EngineError(f"chat template file {file} is not valid JSON: {exc}") from exc
        template = config.get("chat_template") if isinstance(config, dict) else None
        if isinstance(template, list):  # named templates: take "default", else the first
            named = {t.get("name"): t.get("template") for t in template if isinstance(t, dict)}
            template = named.get("default") or next(iter(named.values()), None)
        if not isinstance(template, str) or not template:
            raise EngineError(f"{file} has no 'chat_template'")
        return cls(
            str(file),
            template,
            _token_text(config.get("bos_token")),
            _token_text(config.get("eos_token")),
        )

    def render(self, messages: Sequence[dict[str, str]]) -> str:
        try:
            from jinja2 import TemplateError
            from jinja2.sandbox import ImmutableSandboxedEnvironment
        except ImportError as exc:  # pragma: no cover - jinja2 is a dependency
            raise EngineError("a chat template file needs jinja2: pip install jinja2") from exc

        def raise_exception(message: str) -> None:
            raise TemplateError(message)

        def tojson(value: Any, indent: int | None = None, ensure_ascii: bool = False) -> str:
            return json.dumps(value, indent=indent, ensure_ascii=ensure_ascii)

        env = ImmutableSandboxedEnvironment(
            trim_blocks=True, lstrip_blocks=True, extensions=["jinja2.ext.loopcontrols"]
        )
        env.filters["tojson"] = tojson
        env.globals["raise_exception"] = raise_exception
        env.globals["strftime_now"] = lambda fmt: datetime.now().strftime(fmt)
        try:
            return env.from_string(self.template).render(
                messages=list(messages),
                add_generation_prompt=True,
                bos_token=self.bos_token,
                eos_token=self.eos_token,
                tools=None,
            )
        except TemplateError as exc:
            raise EngineError(f"chat template {self.source} failed: {one_line(str(exc))}") from exc


def _token_text(token: Any) -> str:
    if isinstance(token, dict):  # tokenizer_config.json may store an AddedToken
        return str(token.get("content", ""))
    return str(token or "")


class ChatRenderer:
    """``render_chat`` for :class:`OpenAIEngine`: a template file, else the server."""

    def __init__(
        self, transport: Transport, model: str, chat_template: str | Path | None = None
    ) -> None:
        self._transport = transport
        self._model = model
        self._file = ChatTemplateFile.load(chat_template) if chat_template else None
        self._strategy: Callable[[list[dict[str, str]]], str | None] | None = None

    def render(self, messages: Sequence[dict[str, str]]) -> str:
        msgs = [dict(m) for m in messages]
        if self._file is not None:
            return self._file.render(msgs)
        if self._strategy is not None:
            prompt = self._strategy(msgs)
            if prompt is not None:
                return prompt
        for strategy in (self._llamacpp, self._vllm):
            prompt = strategy(msgs)
            if prompt is not None:
                self._strategy = strategy
                return prompt
        raise EngineError(
            f"{self._transport.root} cannot render the model's chat template (it has neither"
            " llama.cpp's /apply-template nor vLLM's /tokenize with messages; SGLang has"
            " neither): pass a chat template file, a Jinja file or the model's"
            " tokenizer_config.json"
        )

    def _llamacpp(self, messages: list[dict[str, str]]) -> str | None:
        answer = self._transport.request(
            "POST", "/apply-template", {"messages": messages, "add_generation_prompt": True}
        )
        if answer.status in _NOT_OFFERED:
            return None
        if not answer.ok:
            raise EngineError(f"{answer.url} answered HTTP {answer.status}: {answer.message}")
        prompt = answer.json_object().get("prompt")
        return prompt if isinstance(prompt, str) else None

    def _vllm(self, messages: list[dict[str, str]]) -> str | None:
        answer = self._transport.request(
            "POST",
            "/tokenize",
            {
                "model": self._model,
                "messages": messages,
                "add_generation_prompt": True,
                "add_special_tokens": False,  # the template writes its own special tokens
            },
        )
        if not answer.ok:  # 404: no such route; 400/422: a /tokenize that wants a prompt
            return None
        tokens = answer.json_object().get("tokens")
        if not tokens or not all(isinstance(t, int) for t in tokens):
            return None  # llama.cpp answers {"tokens": []} to a body without "content"
        answer = self._transport.request(
            "POST", "/detokenize", {"model": self._model, "tokens": tokens}
        )
        if not answer.ok:
            raise EngineError(f"{answer.url} answered HTTP {answer.status}: {answer.message}")
        prompt = answer.json_object().get("prompt")
        if not isinstance(prompt, str):
            raise EngineError(f"{answer.url} returned no 'prompt' for the chat template")
        return prompt
