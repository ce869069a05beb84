"""A deterministic engine for unit tests only: canned text, no model.

The script is a function of (request, choice index) returning the text the
"model" writes; the engine cuts it at the first stop string, as a real engine
does. Tokens are whitespace-separated words, and a prefix cache is simulated
(the longest common word prefix with any earlier prompt counts as cached), so
tests can check token accounting with exact numbers. Every token's log-probability,
when asked for, is ``logprob(request, choice index)`` (-0.5 unless given). Every
batch is recorded in ``calls``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from thinktree.engines.base import Completion, CompletionRequest, EngineStats, TokenLogprob

Script = Callable[[CompletionRequest, int], str]
LogprobScript = Callable[[CompletionRequest, int], float]


def _words(text: str) -> list[str]:
    return text.split()


def _common_prefix(a: list[str], b: list[str]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


class ScriptedEngine:
    def __init__(
        self,
        script: Script,
        name: str = "scripted",
        max_prompt_words: int | None = None,
        logprob: LogprobScript = lambda request, index: -0.5,
    ) -> None:
        self.script = script
        self.logprob = logprob
        self.name = name
        self.stats = EngineStats()
        self.calls: list[list[CompletionRequest]] = []
        self.max_prompt_words = max_prompt_words
        self._seen: list[list[str]] = []

    @classmethod
    def from_texts(cls, texts: Sequence[str], **kwargs: object) -> ScriptedEngine:
        """Answer every choice with the next text of ``texts``, in call order."""
        queue = list(texts)

        def script(request: CompletionRequest, index: int) -> str:
            if not queue:
                raise AssertionError("ScriptedEngine ran out of texts")
            return queue.pop(0)

        return cls(script, **kwargs)  # type: ignore[arg-type]

    def _one(self, request: CompletionRequest) -> list[Completion]:
        words = _words(request.prompt)
        if self.max_prompt_words is not None and len(words) > self.max_prompt_words:
            message = f"request ({len(words)} tokens) exceeds the available context size"
            return [Completion("", "error", 0, error=message) for _ in range(request.n)]
        cached = max((_common_prefix(words, seen) for seen in self._seen), default=0)
        self._seen.append(words)
        out = []
        for i in range(request.n):
            text = self.script(request, i)
            finish = "stop"
            cuts = [text.find(s) for s in request.stop if s in text]
            if cuts:
                text = text[: min(cuts)]
            tokens = _words(text)
            if len(tokens) > request.max_tokens:
                finish = "length"
                text = " ".join(tokens[: request.max_tokens])
                tokens = tokens[: request.max_tokens]
            logprob = self.logprob(request, i)
            logprobs = [TokenLogprob(t, logprob) for t in tokens] if request.logprobs else None
            out.append(
                Completion(
                    text=text,
                    finish_reason=finish,
                    generated_tokens=len(tokens),
                    prompt_tokens=len(words) - cached if i == 0 else 0,
                    cached_tokens=cached if i == 0 else len(words),
                    logprobs=logprobs,
                )
            )
        self.stats.requests += 1
        self.stats.generated_tokens += sum(c.generated_tokens for c in out)
        self.stats.prompt_tokens += out[0].prompt_tokens
        self.stats.cached_tokens += sum(c.cached_tokens for c in out)
        return out

    def complete(self, requests: Sequence[CompletionRequest]) -> list[list[Completion]]:
        self.calls.append(list(requests))
        return [self._one(r) for r in requests]

    def render_chat(self, messages: Sequence[dict[str, str]]) -> str:
        turns = "".join(f"<{m['role']}>\n{m['content']}\n</{m['role']}>\n" for m in messages)
        return turns + "<assistant>\n"

    def close(self) -> None:
        pass
