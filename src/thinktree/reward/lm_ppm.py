"""The language-model PPM served by llama.cpp: one request a node, two log-probabilities.

The PPM is a LoRA adapter over the policy's unchanged base GGUF, trained so that
``log P(" yes") − log P(" no")`` after :func:`~thinktree.reward.lm_format.ppm_text`
is its score (:mod:`thinktree.reward.lm_format`). Serving it:

- **Its own engine.** The base file is loaded a second time, with the adapter, on
  an in-process llama.cpp server of its own (:class:`LMServing` sizes it), never on
  the policy's slots: llama.cpp does not batch requests of different LoRA scales,
  and a slot whose scale changes loses its prefix cache.
- **One request per item**, sent from one thread per slot: prompt = the item's
  text, ``max_tokens`` 1, ``n_probs`` = :attr:`LMServing.top_logprobs`. llama.cpp
  returns the top-k next tokens with log-probabilities of the full softmax of the
  model's logits (before any sampler); the score is the YES token's minus the NO
  token's. The token generated is forced
  to YES (``logit_bias``), because llama.cpp returns no probabilities when the
  generated token ends inside a UTF-8 character (a byte token can).
- **A token outside the top k** gets the lowest log-probability returned (the k-th
  token's), an upper bound on its own: a missing YES makes the score an upper bound,
  a missing NO a lower bound, both missing give 0. Each missing token is counted
  (:attr:`LMScoreStats.missing_tokens`); a trained PPM puts both near the top.
- **Prefix reuse.** A child's text extends its parent's up to the suffix, and
  ``cache_prompt`` lets the slot (or llama.cpp's RAM prompt cache) that scored the
  parent evaluate only the child's new step and the suffix; llama.cpp's own counts
  of evaluated and reused prompt tokens are summed in :class:`LMScoreStats`. The
  siblings of one parent in a batch go one after another to one slot (llama.cpp
  copies no prefix between slots); the parents' groups run concurrently. On CPU
  the slots share the cores, so concurrency buys little and reuse buys most.
- **A text longer than a slot's context** is valued 0 (no signal) and counted in
  :attr:`LMScoreStats.failed` rather than failing the search; the PPM reads no
  instructions or examples, so it fits wherever the policy's prompt fitted when its
  slots are as long as the policy's.

``ppm.json`` of this kind (written by the trainer, read by :class:`LMPPMFile`)::

    {"kind": "lm",
     "base": "qwen2.5-coder-0.5b-instruct",  # embedded model name/alias, or a GGUF
                                             # path (relative to the directory)
     "base_sha256": "...",                   # of the GGUF trained on (checked)
     "adapter": "adapter.gguf",              # llama.cpp LoRA adapter beside ppm.json
     "adapter_sha256": "...",                # checked on load when present
     "lora_rank": 16, "lora_alpha": 32,
     "yes_token_id": 9834, "no_token_id": 902,  # checked against the base's vocabulary
     "training": {...}}

Its identity in run fingerprints is ``lm-`` and the adapter file's sha256 prefix, so
runs scored by different adapters never share a run.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field

from thinktree.models.assemble import ModelError, sha256_file
from thinktree.reward.base import ScoreItem, StepScorer
from thinktree.reward.lm_format import NO, YES, ppm_text, squash
from thinktree.reward.ppm_dir import LM_KIND, PPM_FILE, PPMError

if TYPE_CHECKING:
    from thinktree.engines.llamacpp import LlamaCppEngine, NextTokenLogprobs


class LMServing(BaseModel):
    """How the LM PPM's own llama.cpp engine is sized."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    threads: int = Field(0, ge=0)
    """CPU threads (0 = all; 1 when another process keeps the cores busy)."""
    slots: int = Field(4, ge=1, le=256)
    """Concurrent scoring requests (llama.cpp slots), as many as the policy's by default."""
    ctx_per_slot: int = Field(4096, ge=256)
    """Context tokens of each slot: at least the policy's, so every node's text fits."""
    cache_ram_mib: int = Field(512, ge=0)
    """llama.cpp's host-RAM prompt cache (0 = off): keeps parents' prefixes whose slot
    has since scored another problem."""
    top_logprobs: int = Field(20, ge=2)
    """Next tokens returned per request (``n_probs``); YES or NO outside them is bounded."""


@dataclass(frozen=True)
class LMPPMFile:
    """What ``ppm.json`` of kind ``lm`` says (see the module docstring)."""

    base: str
    adapter: str
    yes_token_id: int
    no_token_id: int
    base_sha256: str | None = None
    adapter_sha256: str | None = None
    lora_rank: int | None = None
    lora_alpha: float | None = None
    training: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, path: Path, data: dict[str, Any]) -> LMPPMFile:
        """Parse ``data`` read from ``path``; PPMError with one line naming the file."""
        required = ("base", "adapter", "yes_token_id", "no_token_id")
        missing = [k for k in required if data.get(k) is None]
        if missing:
            raise PPMError(f"{path}: an lm PPM needs {', '.join(missing)}")
        try:
            return cls(
                base=str(data["base"]),
                adapter=str(data["adapter"]),
                yes_token_id=int(data["yes_token_id"]),
                no_token_id=int(data["no_token_id"]),
                base_sha256=data.get("base_sha256"),
                adapter_sha256=data.get("adapter_sha256"),
                lora_rank=None if data.get("lora_rank") is None else int(data["lora_rank"]),
                lora_alpha=None if data.get("lora_alpha") is None else float(data["lora_alpha"]),
                training=dict(data.get("training") or {}),
            )
        except (TypeError, ValueError) as exc:
            raise PPMError(f"{path}: {exc}") from exc

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": LM_KIND,
            "base": self.base,
            "base_sha256": self.base_sha256,
            "adapter": self.adapter,
            "adapter_sha256": self.adapter_sha256,
            "lora_rank": self.lora_rank,
            "lora_alpha": self.lora_alpha,
            "yes_token_id": self.yes_token_id,
            "no_token_id": self.no_token_id,
            "training": self.training,
        }


@dataclass
class LMScoreStats:
    """Running totals of an LM PPM (benchmarks report seconds per node from them)."""

    items: int = 0
    seconds: float = 0.0
    """Wall time of :meth:`LMPPM.score` calls."""
    prompt_tokens: int = 0
    """Prompt tokens llama.cpp evaluated."""
    cached_tokens: int = 0
    """Prompt tokens it reused from a prefix cache."""
    missing_tokens: int = 0
    """YES or NO tokens outside the returned top k (valued by the bound)."""
    failed: int = 0
    """Items valued 0 because their text did not fit a slot."""

    @property
    def seconds_per_item(self) -> float:
        return self.seconds / self.items if self.items else 0.0


def logit_difference(top: dict[int, float], yes: int, no: int) -> tuple[float, int]:
    """``log P(yes) − log P(no)`` from the top-k log-probabilities ``top``, and how
    many of the two tokens were missing (each then valued at the lowest returned
    log-probability, an upper bound on its own)."""
    floor = min(top.values())
    missing = (yes not in top) + (no not in top)
    return top.get(yes, floor) - top.get(no, floor), missing


def parent_key(item: ScoreItem) -> tuple[str, str, tuple[str, ...]]:
    """What the siblings of one parent share: they are scored one after another on one
    slot, so that each reuses the parent's prefix the previous one left there."""
    return item.problem_id, item.question, tuple(step.text for step in item.steps[:-1])


class LMPPM(StepScorer):
    """A PPM that is a LoRA adapter over the base model, scored on its own llama.cpp engine."""

    name = "ppm"

    def __init__(
        self,
        directory: Path,
        file: LMPPMFile,
        engine: LlamaCppEngine,
        identity: str,
        serving: LMServing,
    ) -> None:
        self.directory = directory
        self.file = file
        self.engine = engine
        self.identity = identity
        self.serving = serving
        self.stats = LMScoreStats()
        self._lock = threading.Lock()

    @property
    def seconds(self) -> float:
        return self.stats.seconds

    def raw(self, items: Sequence[ScoreItem]) -> list[float]:
        """``log P(YES) − log P(NO)`` per item (0 for an item that failed)."""
        if not items:
            return []
        started = time.perf_counter()
        answers = self.engine.next_token_logprobs(
            [ppm_text(item.question, item.steps) for item in items],
            self.serving.top_logprobs,
            pick=self.file.yes_token_id,
            chains=[parent_key(item) for item in items],
        )
        values = [self._difference(answer) for answer in answers]
        with self._lock:
            self.stats.items += len(items)
            self.stats.seconds += time.perf_counter() - started
        return values

    def _difference(self, answer: NextTokenLogprobs) -> float:
        with self._lock:
            self.stats.prompt_tokens += answer.prompt_tokens
            self.stats.cached_tokens += answer.cached_tokens
            if answer.error is not None or not answer.top:
                self.stats.failed += 1
                return 0.0
        value, missing = logit_difference(answer.top, self.file.yes_token_id, self.file.no_token_id)
        with self._lock:
            self.stats.missing_tokens += missing
        return value

    def score(self, items: Sequence[ScoreItem]) -> list[float]:
        return [squash(d) for d in self.raw(items)]

    def close(self) -> None:
        engine = self.__dict__.pop("engine", None)
        if engine is not None:
            engine.close()


def lm_ppm_adapter(directory: Path, config: dict[str, Any]) -> Path | None:
    """The adapter file an lm ``ppm.json`` names, when it is there."""
    adapter = config.get("adapter")
    path = Path(directory) / str(adapter) if adapter else None
    return path if path is not None and path.is_file() else None


def load_lm_ppm(directory: Path, config: dict[str, Any], serving: LMServing | None = None) -> LMPPM:
    """Start the LM PPM described by ``config`` (``directory``'s ``ppm.json``).

    Checks, each a PPMError of one line naming the file: the adapter is there and
    is the one ``adapter_sha256`` names; the base model resolves and is the file
    ``base_sha256`` names; YES and NO are the token ids ``ppm.json`` gives.
    """
    from thinktree.engines.base import EngineError
    from thinktree.engines.llamacpp import LlamaCppEngine, LlamaCppOptions

    serving = serving or LMServing()
    path = Path(directory) / PPM_FILE
    file = LMPPMFile.from_json(path, config)
    adapter = Path(directory) / file.adapter
    if not adapter.is_file():
        raise PPMError(f"{path} names adapter {file.adapter!r}, which is missing from {directory}")
    digest = sha256_file(adapter)
    if file.adapter_sha256 is not None and digest != file.adapter_sha256:
        raise PPMError(
            f"adapter {adapter} does not match {path} (sha256 {digest[:12]}, expected "
            f"{file.adapter_sha256[:12]}); train or export the PPM again"
        )
    base = _base_model(Path(directory), path, file)
    options = LlamaCppOptions(
        n_parallel=serving.slots,
        ctx_per_slot=serving.ctx_per_slot,
        threads=serving.threads,
        cache_ram_mib=serving.cache_ram_mib,
        lora=((str(adapter), 1.0),),
    )
    identity = f"lm-{digest[:12]}"
    try:
        engine = LlamaCppEngine(base, options, name=f"ppm-{identity}")
    except EngineError as exc:
        raise PPMError(f"{path}: {exc}") from exc
    try:
        for token, expected in ((YES, file.yes_token_id), (NO, file.no_token_id)):
            ids = engine.tokenize(token)
            if ids != [expected]:
                raise PPMError(
                    f"{path}: {token!r} is token(s) {ids} of {base.name}, not {expected}; "
                    "was the PPM trained on another base model?"
                )
    except BaseException:
        engine.close()
        raise
    return LMPPM(Path(directory), file, engine, identity, serving)


def _base_model(directory: Path, path: Path, file: LMPPMFile) -> Path:
    """The base GGUF: an embedded model (assembled on first use) or a file, checked
    against ``base_sha256``."""
    from thinktree.models import resolve_model

    spec = file.base
    local = directory / spec
    if not Path(spec).is_absolute() and local.is_file():
        spec = str(local)
    try:
        resolved = resolve_model(spec)
    except ModelError as exc:
        raise PPMError(f"{path}: base model: {exc}") from exc
    if resolved.adapter is not None or resolved.policy is not None:
        raise PPMError(f"{path}: base {file.base!r} is a policy; name its base model or GGUF")
    if file.base_sha256 is not None and resolved.digest() != file.base_sha256:
        raise PPMError(
            f"{path}: the adapter was trained on another file of {file.base} (sha256 "
            f"{file.base_sha256[:12]}, {resolved.path.name} has {resolved.digest()[:12]})"
        )
    return resolved.path
