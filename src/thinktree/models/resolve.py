"""Turn what a user typed after ``--model`` into a GGUF file on disk (and an adapter).

Accepted, in this order: ``default`` (also no model at all), the shipped evolved
1.5B when the package holds one, else the untouched 1.5B; an embedded model name or
alias (``base`` and ``1.5b``: the untouched 1.5B, ``fast``: the 0.5B); ``evolved`` (the
embedded evolved policy); a policy directory (``policy.json``, written by
``thinktree evolve`` for each round); a path to a ``.gguf`` file.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from thinktree.models.assemble import ModelError, assemble, sha256_file
from thinktree.models.policy import (
    DEFAULT_POLICY,
    EMBEDDED_POLICY,
    Policy,
    check_weights,
    default_policy_dir,
    embedded_policy_dir,
    is_policy_dir,
    read_policy,
)
from thinktree.models.registry import EmbeddedModel, find_embedded


@dataclass(frozen=True)
class ResolvedModel:
    name: str
    path: Path
    embedded: bool
    sha256: str | None
    """Known for embedded models; for a user file, computed on demand by :meth:`digest`."""
    adapter: Path | None = None
    """A LoRA adapter (GGUF) llama.cpp applies over ``path``: an evolved policy."""
    adapter_sha256: str | None = None
    prompt_style: str = "few-shot"
    """How the policy is prompted (a fine-tuned policy: the style of its training data)."""
    policy: Policy | None = None

    def digest(self) -> str:
        return self.sha256 or sha256_file(self.path)


def resolve_model(
    spec: str | None = None, progress: Callable[[int], None] | None = None
) -> ResolvedModel:
    """An embedded model name or alias (assembled on first use), or a path to a ``.gguf``."""
    found = locate_model(spec)
    if isinstance(found, Policy):
        return resolve_policy(found, progress)
    if isinstance(found, EmbeddedModel):
        return ResolvedModel(found.name, assemble(found, progress=progress), True, found.sha256)
    return ResolvedModel(found.stem, found.resolve(), False, None)


def resolved_name(spec: str | None = None) -> str:
    """The name :func:`resolve_model` gives ``spec``'s model, which its runs are stored
    under (``default``: the shipped evolved 1.5B's name once one ships, the 1.5B file's
    until then), found without assembling or hashing anything."""
    found = locate_model(spec)
    if isinstance(found, Policy):
        return _served_name(found)
    return found.name if isinstance(found, EmbeddedModel) else found.stem


def locate_model(spec: str | None = None) -> Policy | EmbeddedModel | Path:
    """What ``spec`` names, before anything is assembled: a policy, an embedded model or a
    GGUF file; ModelError, in one line, for anything else."""
    spec = (spec or DEFAULT_POLICY).strip()
    if spec.lower() == DEFAULT_POLICY and is_policy_dir(default_policy_dir()):
        return read_policy(default_policy_dir(), name=DEFAULT_POLICY)
    embedded = find_embedded(spec)
    if embedded is not None:
        return embedded
    if spec == EMBEDDED_POLICY:
        directory = embedded_policy_dir()
        if not is_policy_dir(directory):
            raise ModelError(
                "this thinktree ships no evolved policy yet; run `thinktree evolve` and pass "
                "--model OUT/round-N"
            )
        return read_policy(directory, name=EMBEDDED_POLICY)
    path = Path(spec).expanduser()
    if path.is_dir():
        if not is_policy_dir(path):
            raise ModelError(
                f"{path} is a directory without policy.json; give a .gguf file, an embedded "
                "name or an evolve round directory (OUT/round-N)"
            )
        return read_policy(path, name=_policy_name(path))
    if path.is_file():
        with open(path, "rb") as handle:
            if handle.read(4) != b"GGUF":
                raise ModelError(
                    f"{path} is not a GGUF file; give a .gguf model or an embedded name"
                )
        return path
    if path.suffix == ".gguf" or "/" in spec:
        raise ModelError(f"model file {path} does not exist")
    raise ModelError(
        f"unknown model {spec!r}; use an embedded name (see: thinktree models list) or a .gguf path"
    )


def _policy_name(path: Path) -> str:
    """``<evolve dir>/round-N`` for a round directory, else the directory's name."""
    resolved = path.resolve()
    return f"{resolved.parent.name}/{resolved.name}" if resolved.parent.name else resolved.name


def _served_name(policy: Policy) -> str:
    """A policy's name, except that a policy without an adapter or model file is its
    base model: runs of it share the plain model's name (and so its run fingerprints),
    whichever directory names it."""
    embedded = find_embedded(policy.base)
    if policy.adapter is None and policy.model is None and embedded is not None:
        return embedded.name
    return policy.name


def resolve_policy(policy: Policy, progress: Callable[[int], None] | None = None) -> ResolvedModel:
    """An evolved policy: its base model (embedded, assembled on first use) and adapter,
    or the whole model file a merged policy names."""
    if policy.model is not None:
        check_weights(policy)
        return ResolvedModel(
            name=policy.name,
            path=policy.model.resolve(),
            embedded=False,
            sha256=policy.model_sha256,
            prompt_style=policy.prompt_style,
            policy=policy,
        )
    embedded = find_embedded(policy.base)
    if embedded is None:
        raise ModelError(f"{policy.directory}: base model {policy.base!r} is not an embedded model")
    if policy.base_sha256 is not None and policy.base_sha256 != embedded.sha256:
        raise ModelError(
            f"{policy.directory}: the adapter was trained on another file of {policy.base} "
            f"(sha256 {policy.base_sha256[:12]}, this thinktree has {embedded.sha256[:12]})"
        )
    check_weights(policy)
    return ResolvedModel(
        name=_served_name(policy),
        path=assemble(embedded, progress=progress),
        embedded=True,
        sha256=embedded.sha256,
        adapter=policy.adapter,
        adapter_sha256=policy.adapter_sha256,
        prompt_style=policy.prompt_style,
        policy=policy,
    )
