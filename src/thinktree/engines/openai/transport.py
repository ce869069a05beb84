"""HTTP to an OpenAI-compatible server: one pooled client, bounded retries, one-line errors.

What is retried (``max_retries`` more tries, waiting ``backoff * 2**k`` seconds between
them, or the server's ``Retry-After`` when it asks for a wait of up to 30 s): a refused
or failed connection, a timeout, HTTP 429 and HTTP 5xx. What is not: any other 4xx
(the request itself is wrong and will stay wrong) and a malformed JSON body.

A retried timeout costs up to ``timeout`` seconds per try, so a server that never
answers takes ``(max_retries + 1) * timeout`` seconds to be reported.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from typing import Any

import httpx

from thinktree.engines.base import EngineError

_MESSAGE_LIMIT = 300
_RETRY_AFTER_LIMIT = 30.0


def one_line(text: str, limit: int = _MESSAGE_LIMIT) -> str:
    """Whitespace collapsed and cut to ``limit`` characters, so errors stay one line."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def normalize_base_url(base_url: str) -> str:
    """The server root: ``http://host:8000/v1/`` and ``host:8000`` give ``http://host:8000``."""
    url = base_url.strip().rstrip("/")
    if not url:
        raise EngineError(
            "the base URL is empty; give the server's address, e.g. http://127.0.0.1:8000"
        )
    if "://" not in url:
        url = f"http://{url}"
    if not url.startswith(("http://", "https://")):
        raise EngineError(f"base URL {base_url!r} must start with http:// or https://")
    if url.endswith("/v1"):
        url = url[: -len("/v1")]
    return url


def server_message(payload: Any, text: str) -> str:
    """The error text a server put in its body, whichever convention it follows.

    llama.cpp and vLLM nest it (``{"error": {"message", "type", "code"}}``); SGLang and
    older vLLM put ``message`` at the top level; FastAPI's own errors use ``detail``.
    """
    if isinstance(payload, dict):
        error = payload.get("error")
        if isinstance(error, dict) and error.get("message"):
            return one_line(error["message"])
        if isinstance(error, str) and error:
            return one_line(error)
        for key in ("message", "detail"):
            if payload.get(key):
                value = payload[key]
                return one_line(value if isinstance(value, str) else json.dumps(value))
    return one_line(text) or "(empty body)"


@dataclass(frozen=True)
class Answer:
    """A final HTTP answer (2xx or a 4xx that is not retried)."""

    url: str
    status: int
    payload: Any
    """The decoded JSON body, or None when the body was not JSON."""
    text: str

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def message(self) -> str:
        return server_message(self.payload, self.text)

    def json_object(self) -> dict[str, Any]:
        """The body of a successful answer, which must be a JSON object."""
        if not isinstance(self.payload, dict):
            raise EngineError(
                f"{self.url} returned malformed JSON (HTTP {self.status}):"
                f" {one_line(self.text, 120)}"
            )
        return self.payload


def _retryable_status(status: int) -> bool:
    return status == 429 or status >= 500


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    try:
        return min(float(value), _RETRY_AFTER_LIMIT) if value is not None else None
    except ValueError:  # an HTTP date: not worth parsing for a wait this short
        return None


class Transport:
    """A shared ``httpx.Client`` (thread-safe, pooled) with the retry policy above."""

    def __init__(
        self,
        root: str,
        *,
        api_key: str | None,
        timeout: float,
        max_retries: int,
        backoff: float,
        max_connections: int,
    ) -> None:
        if timeout <= 0:
            raise EngineError(f"timeout must be positive, got {timeout}")
        if max_retries < 0:
            raise EngineError(f"max_retries must be 0 or more, got {max_retries}")
        self.root = root
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff = backoff
        headers = {"Content-Type": "application/json"}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        self._client = httpx.Client(
            headers=headers,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            limits=httpx.Limits(
                max_connections=max_connections, max_keepalive_connections=max_connections
            ),
        )
        self._lock = threading.Lock()
        self.retries = 0
        """Tries beyond the first, over the transport's life (for stats)."""

    def request(self, method: str, path: str, body: dict[str, Any] | None = None) -> Answer:
        """Send with retries; return the final 2xx/4xx answer or raise :class:`EngineError`."""
        url = f"{self.root}{path}"
        tries = self.max_retries + 1
        failure = ""
        for attempt in range(tries):
            if attempt:
                with self._lock:
                    self.retries += 1
            wait = self.backoff * 2**attempt
            try:
                response = self._client.request(method, url, json=body)
            except httpx.ConnectTimeout:
                failure = f"cannot reach {url}: no connection within {min(self.timeout, 10.0):g} s"
            except httpx.TimeoutException:
                failure = (
                    f"{url} did not answer within {self.timeout:g} s"
                    " — the server is overloaded or the timeout is too short"
                )
            except httpx.TransportError as exc:
                failure = f"cannot reach {url}: {one_line(str(exc) or type(exc).__name__, 160)}"
            else:
                text = response.text
                try:
                    payload = response.json() if text else None
                except ValueError:
                    payload = None
                answer = Answer(url, response.status_code, payload, text)
                if not _retryable_status(response.status_code):
                    return answer
                failure = f"{url} answered HTTP {response.status_code}: {answer.message}"
                wait = _retry_after(response) or wait
            if attempt + 1 < tries:
                time.sleep(wait)
        suffix = f" (after {tries} tries)" if tries > 1 else ""
        if failure.startswith("cannot reach"):
            raise EngineError(f"{failure}{suffix} — is the server running?")
        raise EngineError(f"{failure}{suffix}")

    def close(self) -> None:
        self._client.close()
