"""Evolved policies: a base model file, a LoRA adapter over it, and the prompt it learned.

A policy directory (each round of ``thinktree evolve`` writes one, and the
embedded ``evolved`` policy ships as package data) holds ``policy.json``::

    {"base": "qwen2.5-coder-0.5b-instruct",      # an embedded model name
     "base_sha256": "...",                        # of the GGUF the adapter was trained on
     "adapter": "adapter.gguf",                   # llama.cpp LoRA adapter, or null
     "adapter_sha256": "...",
     "prompt_style": "zero-shot",                 # how the policy is prompted
     "provenance": {...}}                         # round, data, dev accuracy (shown by
                                                  # ``thinktree models list``)

The adapter is served by llama.cpp over the unchanged base file; a policy with
no adapter (round 0) is the base model with its prompt style. The adapter's
sha256 is checked on every load, so a half-copied or edited adapter is never
served under the policy's name.

A policy may instead name a whole model file, ``"model": "merged-q8_0.gguf"``
with its ``"model_sha256"`` (``thinktree models merge`` writes one: the adapter
merged into the base file), served on its own with the same prompt style; it is
checked the same way, and a policy naming both a model and an adapter is refused.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from thinktree.models.assemble import ModelError, sha256_file

POLICY_FILE = "policy.json"
EMBEDDED_POLICY = "evolved"
DEFAULT_POLICY = "default"
"""What ``--model default`` serves: the evolved 1.5B the package ships in
``models/default/`` once one is shipped; until then the untouched 1.5B (``base``)."""
PPM_SUBDIR = "ppm"
"""Where a policy directory keeps the PPM trained beside it (an evolve round's PPM_r)."""
PROMPT_STYLES = ("few-shot", "zero-shot")


@dataclass(frozen=True)
class Policy:
    """A policy as ``policy.json`` describes it, with its adapter's full path."""

    directory: Path
    name: str
    base: str
    base_sha256: str | None
    adapter: Path | None
    adapter_sha256: str | None
    prompt_style: str
    provenance: dict[str, Any] = field(default_factory=dict)
    model: Path | None = None
    """A whole model file served instead of base + adapter (a merged policy)."""
    model_sha256: str | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "base": self.base,
            "base_sha256": self.base_sha256,
            "adapter": self.adapter.name if self.adapter is not None else None,
            "adapter_sha256": self.adapter_sha256,
            "prompt_style": self.prompt_style,
            "provenance": self.provenance,
        }
        if self.model is not None:  # absent otherwise: adapter policies keep their bytes
            data.update(model=self.model.name, model_sha256=self.model_sha256)
        return data


def is_policy_dir(path: Path) -> bool:
    return path.is_dir() and (path / POLICY_FILE).is_file()


def embedded_policy_dir() -> Path:
    """The package directory of the embedded ``evolved`` policy (may be absent)."""
    return Path(str(resources.files("thinktree.models").joinpath(EMBEDDED_POLICY)))


def default_policy_dir() -> Path:
    """The package directory of the shipped evolved 1.5B that ``default`` names (absent
    until one is shipped)."""
    return Path(str(resources.files("thinktree.models").joinpath(DEFAULT_POLICY)))


def embedded_ppm_dir() -> Path:
    """The package directory of the embedded ``evolved`` policy's PPM (may be absent)."""
    return embedded_policy_dir() / PPM_SUBDIR


def read_policy(directory: str | Path, name: str | None = None) -> Policy:
    """The policy in ``directory``; ModelError with one line for anything wrong."""
    directory = Path(directory)
    path = directory / POLICY_FILE
    if not path.is_file():
        raise ModelError(f"{directory} holds no {POLICY_FILE}; is it an evolve round directory?")
    try:
        data = json.loads(path.read_text())
        base = str(data["base"])
        style = str(data.get("prompt_style", "few-shot"))
        adapter_name = data.get("adapter")
        model_name = data.get("model")
    except (ValueError, KeyError, TypeError) as exc:
        raise ModelError(f"{path} is not a valid policy file ({exc})") from exc
    if style not in PROMPT_STYLES:
        raise ModelError(
            f"{path}: unknown prompt_style {style!r}; use {' or '.join(PROMPT_STYLES)}"
        )
    if adapter_name and model_name:
        raise ModelError(f"{path} names both a model and an adapter; a policy serves one of them")
    adapter = _named_file(path, "adapter", adapter_name)
    model = _named_file(path, "model", model_name)
    if model is not None and not data.get("model_sha256"):
        raise ModelError(f"{path} names model {model_name!r} without its model_sha256")
    return Policy(
        directory=directory,
        name=name or directory.name,
        base=base,
        base_sha256=data.get("base_sha256"),
        adapter=adapter,
        adapter_sha256=data.get("adapter_sha256"),
        prompt_style=style,
        provenance=dict(data.get("provenance") or {}),
        model=model,
        model_sha256=data.get("model_sha256"),
    )


def _named_file(path: Path, kind: str, name: Any) -> Path | None:
    if not name:
        return None
    named = path.parent / str(name)
    if not named.is_file():
        raise ModelError(f"{path} names {kind} {name!r}, which is missing")
    return named


def check_weights(policy: Policy) -> None:
    """Raise ModelError unless the adapter or model file on disk is the one the policy names."""
    for kind, file, expected, remedy in (
        ("adapter", policy.adapter, policy.adapter_sha256, "export the round again"),
        ("model", policy.model, policy.model_sha256, "run `thinktree models merge` again"),
    ):
        if file is None or expected is None:
            continue
        actual = sha256_file(file)
        if actual != expected:
            raise ModelError(
                f"{kind} {file} does not match its policy.json (sha256 {actual[:12]}, "
                f"expected {expected[:12]}); {remedy}"
            )


def write_policy(policy: Policy) -> Path:
    """Write ``policy.json`` atomically (a reader never sees half a file)."""
    path = policy.directory / POLICY_FILE
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(policy.to_json(), indent=2, sort_keys=True) + "\n")
    tmp.replace(path)
    return path
