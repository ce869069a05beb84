"""Turn what a user typed after ``--model`` into a GGUF file on disk."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from thinktree.models.assemble import ModelError, assemble, sha256_file
from thinktree.models.registry import DEFAULT_MODEL, find_embedded


@dataclass(frozen=True)
class ResolvedModel:
    name: str
    path: Path
    embedded: bool
    sha256: str | None
    """Known for embedded models; for a user file, computed on demand by :meth:`digest`."""

    def digest(self) -> str:
        return self.sha256 or sha256_file(self.path)


def resolve_model(
    spec: str | None = None, progress: Callable[[int], None] | None = None
) -> ResolvedModel:
    """An embedded model name or alias (assembled on first use), or a path to a ``.gguf``."""
    spec = (spec or DEFAULT_MODEL).strip()
    embedded = find_embedded(spec)
    if embedded is not None:
        return ResolvedModel(
            embedded.name, assemble(embedded, progress=progress), True, embedded.sha256
        )
    path = Path(spec).expanduser()
    if path.is_file():
        with open(path, "rb") as handle:
            if handle.read(4) != b"GGUF":
                raise ModelError(
                    f"{path} is not a GGUF file; give a .gguf model or an embedded name"
                )
        return ResolvedModel(path.stem, path.resolve(), False, None)
    if path.suffix == ".gguf" or "/" in spec:
        raise ModelError(f"model file {path} does not exist")
    raise ModelError(
        f"unknown model {spec!r}; use an embedded name (see: thinktree models list) or a .gguf path"
    )
