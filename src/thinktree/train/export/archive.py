"""Training checkpoints as one gzip-compressed tar that travels in git: a
``manifest.json`` first, then the named files. The same contents always give the
same bytes (no timestamps, fixed order), so git sees no change when nothing
trained, and the file is written beside its destination and renamed into place."""

from __future__ import annotations

import gzip
import io
import json
import tarfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

MANIFEST = "manifest.json"


def write_archive(dest: Path, manifest: Mapping[str, Any], members: Mapping[str, bytes]) -> None:
    """Write ``manifest`` and ``members`` (name: bytes, in sorted order) to ``dest``."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.tmp")
    try:
        with (
            tmp.open("wb") as raw,
            gzip.GzipFile(filename="", fileobj=raw, mode="wb", mtime=0) as zipped,
            tarfile.open(fileobj=zipped, mode="w", format=tarfile.PAX_FORMAT) as archive,
        ):
            _add(archive, MANIFEST, json.dumps(manifest, indent=2, sort_keys=True).encode())
            for name in sorted(members):
                _add(archive, name, members[name])
        tmp.replace(dest)
    finally:
        tmp.unlink(missing_ok=True)


def _add(archive: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    archive.addfile(info, io.BytesIO(data))


def read_archive_manifest(source: Path) -> dict[str, Any]:
    """The manifest of an archive ``write_archive`` wrote; ``{}`` for anything else (not
    a file, not a gzip tar, no manifest first)."""
    try:
        with tarfile.open(source, "r:gz") as archive:
            first = archive.next()
            handle = archive.extractfile(first) if first and first.name == MANIFEST else None
            manifest = json.loads(handle.read()) if handle is not None else {}
    except (OSError, tarfile.TarError, ValueError):
        return {}
    return manifest if isinstance(manifest, dict) else {}


def read_checkpoint_manifest(
    source: Path, form: str, version: int, precisions: tuple[str, ...], what: str, fresh: str
) -> dict[str, Any]:
    """The manifest of an exported checkpoint of format ``form`` and ``version`` at one of
    ``precisions``; ``ValueError`` (one line naming ``what`` it should be and where
    training starts without it, ``fresh``) for anything else."""
    manifest = read_archive_manifest(source)
    known = manifest.get("format") == form and manifest.get("version") == version
    if not known or manifest.get("precision") not in precisions:
        raise ValueError(
            f"{source} is not {what} this thinktree reads (format {form} version {version}); "
            f"export it again, or delete it to train from {fresh}"
        )
    return manifest


def archive_members(source: Path, names: set[str]) -> Iterator[tuple[str, bytes]]:
    """Each member of ``source`` after the manifest, as (name, bytes); ``ValueError``
    (one line) for an entry not in ``names`` (the manifest's list)."""
    with tarfile.open(source, "r:gz") as archive:
        for member in archive:
            if member.name == MANIFEST:
                continue
            handle = archive.extractfile(member) if member.isfile() else None
            if member.name not in names or "/" in member.name or handle is None:
                raise ValueError(
                    f"{source} holds an unexpected entry {member.name!r}; export it again"
                )
            yield member.name, handle.read()
