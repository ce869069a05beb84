"""The OpenAI response objects built from a SolveResult: completions and stream chunks.

The message content is the final answer line, ``Answer: \\boxed{...}`` (or a
sentence saying why there is none); the solution itself travels in the extra
``thinktree`` field: ``answer``, ``steps`` (the chosen trajectory's steps),
``run_id`` (None when not stored), ``problem_id`` (the completion id),
``strategy``, ``stop_reason`` and ``votes``.

Usage follows OpenAI's meaning: ``prompt_tokens`` counts every prompt token the
search sent (evaluated plus reused from the prefix cache, the latter also in
``prompt_tokens_details.cached_tokens``), ``completion_tokens`` every generated
token, across all the search's engine calls.
"""

from __future__ import annotations

import json
import time
from typing import Any

from thinktree.search import SolveResult
from thinktree.server.solver import Progress, Solved
from thinktree.steps import final_step_text


def answer_text(result: SolveResult) -> str:
    if result.answer is not None:
        return final_step_text(result.answer).lstrip("\n")
    return f"No answer: the search stopped ({result.stop_reason}) without finding one."


def usage(result: SolveResult) -> dict[str, Any]:
    prompt = result.usage.prompt_tokens + result.usage.cached_tokens
    completion = result.usage.generated_tokens
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": result.usage.cached_tokens},
    }


def extras(solved: Solved) -> dict[str, Any]:
    result = solved.result
    best = result.best
    return {
        "answer": result.answer,
        "steps": [s.to_dict() for s in best.steps] if best else [],
        "run_id": solved.run_id,
        "problem_id": result.problem_id,
        "strategy": result.strategy,
        "stop_reason": result.stop_reason,
        "votes": result.votes,
    }


def completion(completion_id: str, model: str, solved: Solved) -> dict[str, Any]:
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": answer_text(solved.result)},
                "finish_reason": "stop",
            }
        ],
        "usage": usage(solved.result),
        "thinktree": extras(solved),
    }


def chunk(
    completion_id: str,
    model: str,
    delta: dict[str, Any],
    finish_reason: str | None = None,
    **fields: Any,
) -> str:
    """One server-sent event holding a ``chat.completion.chunk``."""
    body = {
        "id": completion_id,
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
        **fields,
    }
    return f"data: {json.dumps(body)}\n\n"


def progress_chunk(completion_id: str, model: str, event: Progress) -> str:
    """A round as reasoning text (shown by clients that show reasoning) and as data."""
    figures = ", ".join(f"{k} {v}" for k, v in event.figures.items())
    line = f"round {event.round}: {figures}" if figures else f"round {event.round}"
    if event.step is not None:
        line = event.step["text"].strip()
    info: dict[str, Any] = {"round": event.round, "progress": event.figures}
    if event.step is not None:
        info["step"] = event.step
    return chunk(completion_id, model, {"reasoning_content": line + "\n"}, thinktree=info)


def sse_error(body: dict[str, Any]) -> str:
    return f"data: {json.dumps(body)}\n\n"


DONE = "data: [DONE]\n\n"
