"""The private, read-only root filesystem a worker builds inside its mount namespace.

Like bubblewrap, without the binary: a tmpfs becomes the new root; the system
directories and the Python installation are bind-mounted into it at their usual
paths; ``/dev`` holds only null, zero, full, random and urandom; ``/proc`` is the
worker's own PID namespace; everything is then made read-only, and a small
tmpfs at ``/tmp`` is the only writable place. Home directories, ``/root``,
``/work``, ``/var`` and the rest of the host are simply not there.

Must run in a fresh mount namespace, as the first process of a fresh PID
namespace (for ``/proc``), with CAP_SYS_ADMIN in the owning user namespace.
Standard library only: this module is loaded by the worker process.
"""

from __future__ import annotations

import os
import sys

from thinktree.sandbox._linux import (
    MNT_DETACH,
    MS_BIND,
    MS_NODEV,
    MS_NOEXEC,
    MS_NOSUID,
    MS_PRIVATE,
    MS_RDONLY,
    MS_REC,
    MS_REMOUNT,
    make_tree_readonly,
    mount,
    pivot_root,
    umount2,
)

SYSTEM_DIRS = ("usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32", "etc", "opt", "nix")
DEVICES = ("null", "zero", "full", "random", "urandom")
# Where the new root is assembled: any existing directory that holds no part
# of the Python installation (mounting over it hides what is below).
_STAGE_CANDIDATES = ("/mnt", "/media", "/srv", "/tmp", "/run")


def python_dirs() -> list[str]:
    """Directories the interpreter reads from: prefixes, the import path, the executable."""
    candidates = [sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix]
    candidates += [p for p in sys.path if p]
    candidates.append(os.path.dirname(os.path.realpath(sys.executable)))
    found: list[str] = []
    for path in candidates:
        path = os.path.abspath(path)
        if os.path.isdir(path) and path not in found:
            found.append(path)
    return found


def readable_dirs() -> list[str]:
    """Every directory the sandboxed code may read (and import) from."""
    dirs = [f"/{name}" for name in SYSTEM_DIRS if os.path.isdir(f"/{name}")]
    return [*dirs, "/proc", *python_dirs()]


def _is_covered(path: str, mounted: list[str]) -> bool:
    real = os.path.realpath(path)
    return any(real == m or real.startswith(m.rstrip("/") + "/") for m in mounted)


def _bind(source: str, target: str) -> None:
    if os.path.isdir(source):
        os.makedirs(target, mode=0o755, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(target), mode=0o755, exist_ok=True)
        with open(target, "a"):
            pass
    mount(source, target, None, MS_BIND | MS_REC)


def build_private_root(tmp_size_mb: int) -> tuple[str, list[str]]:
    """Replace ``/`` with the private tree.

    Returns the writable directory for jobs (``/tmp``, or ``/.jobs`` when the
    Python installation itself lives under /tmp) and notes about parts that
    fell back. Raises ``OSError`` with the mount namespace unchanged when the
    tree cannot be assembled, ``RuntimeError`` when it failed half-way through
    the switch (the worker must not go on).
    """
    needed = python_dirs()
    new = next(
        (
            d
            for d in _STAGE_CANDIDATES
            if os.path.isdir(d) and not any(_is_covered(p, [d]) for p in needed)
        ),
        None,
    )
    if new is None:
        raise OSError(2, "no directory to assemble the private root in")
    mount(None, "/", None, MS_REC | MS_PRIVATE)
    mount("tmpfs", new, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=16m")
    try:
        jobs, notes = _assemble(new, needed)
        pivot_root(new, f"{new}/.old")
    except OSError:
        umount2(new, MNT_DETACH)
        raise
    try:
        os.chdir("/")
        umount2("/.old", MNT_DETACH)
        os.rmdir("/.old")
        notes += _make_readonly()
        # Mounted after the read-only pass, so it stays writable.
        mount(
            "tmpfs",
            jobs,
            "tmpfs",
            MS_NOSUID | MS_NODEV,
            f"mode=0755,size={tmp_size_mb}m,nr_inodes=4096",
        )
    except OSError as exc:
        raise RuntimeError(f"private root half-built: {exc}") from exc
    return jobs, notes


def _assemble(new: str, needed: list[str]) -> tuple[str, list[str]]:
    notes: list[str] = []
    mounted: list[str] = []  # real paths already visible in the new root
    for name in SYSTEM_DIRS:
        source = f"/{name}"
        if os.path.islink(source):
            os.symlink(os.readlink(source), f"{new}/{name}")
        elif os.path.isdir(source):
            _bind(source, f"{new}{source}")
            mounted.append(os.path.realpath(source))
    for path in needed:
        if not _is_covered(path, mounted):
            _bind(path, f"{new}{path}")
            mounted.append(os.path.realpath(path))

    os.makedirs(f"{new}/dev", mode=0o755)
    mount("tmpfs", f"{new}/dev", "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755,size=64k")
    for device in DEVICES:
        _bind(f"/dev/{device}", f"{new}/dev/{device}")
    for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"),
                         ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2")):  # fmt: skip
        os.symlink(target, f"{new}/dev/{name}")

    os.makedirs(f"{new}/proc", mode=0o555)
    try:
        mount("proc", f"{new}/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    except OSError as exc:
        # A user namespace may not mount a proc that is partly hidden on the host.
        notes.append(f"own /proc unavailable ({exc.strerror}); host /proc bound instead")
        _bind("/proc", f"{new}/proc")
    jobs = "/.jobs" if os.path.exists(f"{new}/tmp") else "/tmp"  # /tmp holds Python itself
    os.makedirs(f"{new}{jobs}", mode=0o755, exist_ok=True)
    os.makedirs(f"{new}/.old", mode=0o700)
    return jobs, notes


# statvfs flags that a read-only bind remount must keep (a user namespace may
# not clear them), with the mount flag each corresponds to.
_KEPT_FLAGS = {
    os.ST_NOSUID: MS_NOSUID,
    os.ST_NODEV: MS_NODEV,
    os.ST_NOEXEC: MS_NOEXEC,
    os.ST_NOATIME: 1024,  # MS_NOATIME
    os.ST_NODIRATIME: 2048,  # MS_NODIRATIME
    os.ST_RELATIME: 1 << 21,  # MS_RELATIME
}


def _make_readonly() -> list[str]:
    try:
        make_tree_readonly("/")
        return []
    except OSError:
        pass  # Linux < 5.12: remount each mount on its own
    failed = []
    with open("/proc/self/mountinfo") as mountinfo:
        points = [line.split()[4] for line in mountinfo]
    for point in points:
        try:
            flags = os.statvfs(point).f_flag
            kept = sum(ms for st, ms in _KEPT_FLAGS.items() if flags & st)
            mount(None, point, None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | kept)
        except OSError:
            failed.append(point)
    if failed:
        where = ", ".join(failed)
        return [f"could not make {where} read-only; writes there rest on Landlock and file modes"]
    return []
