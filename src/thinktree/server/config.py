"""What the server allows: auth, concurrency, queue and per-request limits.

Limits a request may not pass (each a 4xx with an error object, never a hang):

- the body: at most ``max_body_bytes`` (1 MB; 413 past it);
- the question (the last user message): at most ``max_question_chars`` (8000; 400);
- the token budget: a request's ``max_tokens`` may not pass ``max_tokens_limit``
  (400), and one that gives none gets it, so no solve runs unbounded;
- the wall-clock budget likewise (``max_seconds_limit``, default 600 s), and a
  code cell's ``exec_timeout`` at most ``exec_timeout_limit`` (30 s).

:class:`ServeConfig` and :class:`ViewConfig` are what ``thinktree serve`` and
``thinktree view`` are given (their options are generated from them);
:class:`ServerConfig` is what the application then runs with (loaded scorers
included).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from thinktree.reward.base import NullScorer, Scorer

LOOPBACK_NAMES = ("localhost",)


@dataclass
class ServerConfig:
    """The server's settings; the CLI fills them from its options."""

    api_key: str | None = None
    """When set, every request needs ``Authorization: Bearer <api_key>``."""
    concurrency: int = 1
    """Solves running at once (each in its own worker thread)."""
    queue: int = 8
    """Requests that may wait for a slot; one more is answered 429."""
    store_path: Path | None = None
    """Run store every solve is written to and the viewer pages show; None: neither."""
    evolve_dir: Path | None = None
    """An evolve directory whose rounds the viewer shows (``/evolve``)."""
    scorers: dict[str, Scorer] = field(default_factory=lambda: {"none": NullScorer()})
    """Scorers a request may name in ``thinktree.scorer``, by name (loaded at start:
    a request never makes the server read a path)."""
    scorer_ids: dict[str, str] = field(default_factory=dict)
    """Each scorer's identity in run fingerprints (``ppm:<sha>``); default its name."""
    default_scorer: str = "none"
    """The scorer of a request that names none (``--scorer``)."""
    shipped_verifier: str | None = None
    """The verifier shipped with the model (a key of ``scorers``) where ``--scorer`` was
    not given: a request of a strategy that takes one (mcts, best_of_n, beam) and names
    no scorer gets it instead of ``default_scorer``."""
    max_body_bytes: int = 1_000_000
    max_question_chars: int = 8000
    max_tokens_limit: int = 65536
    max_seconds_limit: float = 600.0
    exec_timeout_limit: float = 30.0
    poll_seconds: float = 0.05
    """How often a waiting request checks whether its client has gone."""

    def __post_init__(self) -> None:
        if self.concurrency < 1:
            raise ValueError(f"--concurrency must be at least 1, got {self.concurrency}")
        if self.queue < 0:
            raise ValueError(f"--queue must be 0 or more, got {self.queue}")
        if self.default_scorer not in self.scorers:
            raise ValueError(f"default scorer {self.default_scorer!r} is not loaded")
        if self.shipped_verifier is not None and self.shipped_verifier not in self.scorers:
            raise ValueError(f"shipped verifier {self.shipped_verifier!r} is not loaded")

    def request_default(self, takes_shipped_verifier: bool) -> str:
        """The scorer of a request that names none, for a strategy that takes the shipped
        verifier (``takes_shipped_verifier``) or not."""
        if takes_shipped_verifier and self.shipped_verifier is not None:
            return self.shipped_verifier
        return self.default_scorer


def is_loopback(host: str) -> bool:
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(host: str, api_key: str | None, no_auth: bool) -> None:
    """Refuse to serve beyond this machine without a key (unless ``no_auth``)."""
    if api_key or no_auth or is_loopback(host):
        return
    raise ValueError(
        f"refusing to bind {host} without an API key: pass --api-key KEY "
        "(or set THINKTREE_API_KEY), or --no-auth to serve it open"
    )


class BindConfig(BaseModel):
    """Where a server listens, who may use it, and the evolve directory its viewer shows.

    Checked as a whole: a bind beyond this machine needs a key (or ``no_auth``), and
    ``evolve`` must be a directory."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    host: str = "127.0.0.1"
    """Address to bind (loopback unless a key is set)."""
    api_key: str | None = None
    """Require the key (Bearer, or a browser's sign-in with the key as password)."""
    no_auth: bool = False
    """Allow a non-loopback bind without a key."""
    evolve: str | None = None
    """An evolve directory whose rounds to show."""

    @model_validator(mode="after")
    def _allowed(self) -> BindConfig:
        check_bind(self.host, self.api_key, self.no_auth)
        if self.evolve is not None and not Path(self.evolve).is_dir():
            raise ValueError(f"--evolve {self.evolve} is not a directory")
        return self

    @property
    def evolve_dir(self) -> Path | None:
        return Path(self.evolve) if self.evolve else None


class ServeConfig(BindConfig):
    """``thinktree serve``: the OpenAI-compatible server with the viewer."""

    port: int = Field(8000, ge=1, le=65535)
    """Port to listen on."""
    scorer: str | None = None
    """Default scorer: none or ppm:DIR (requests may name it or none); unset, the
    verifier shipped with the model scores mcts, best_of_n and beam."""
    concurrency: int = Field(1, ge=1)
    """Solves running at once."""
    queue: int = Field(8, ge=0)
    """Requests waiting for a slot (then 429)."""


class ViewConfig(BindConfig):
    """``thinktree view``: the viewer alone, no model loaded."""

    port: int = Field(8000, ge=0, le=65535)
    """Port to listen on (0: any free port)."""
