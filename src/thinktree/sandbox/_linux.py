"""Thin ctypes wrappers over the Linux system calls the sandbox worker needs.

Python 3.11 exposes none of unshare, mount, pivot_root, mount_setattr, capset or
Landlock, so they are called through libc. Every wrapper raises ``OSError`` with
the errno on failure; callers decide what a failure means (usually: fall back).
Standard library only: this module is loaded by the worker process.
"""

from __future__ import annotations

import ctypes
import os
import platform

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long

# <sched.h>
CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

# <sys/mount.h>
MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
MNT_DETACH = 2

# mount_setattr(2)
AT_FDCWD = -100
AT_RECURSIVE = 0x8000
MOUNT_ATTR_RDONLY = 0x1
MOUNT_ATTR_NOSUID = 0x2

# <sys/prctl.h>
PR_SET_PDEATHSIG = 1
PR_SET_NO_NEW_PRIVS = 38
PR_SET_CHILD_SUBREAPER = 36

# Syscalls without a glibc wrapper. Numbers >= 424 are the same on every
# architecture; pivot_root predates that unification.
_SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41}.get(platform.machine())
_SYS_MOUNT_SETATTR = 442
_SYS_LANDLOCK_CREATE_RULESET = 444
_SYS_LANDLOCK_ADD_RULE = 445
_SYS_LANDLOCK_RESTRICT_SELF = 446


def _check(result: int, what: str) -> int:
    if result < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")
    return result


def _path(p: str | None) -> bytes | None:
    return None if p is None else os.fsencode(p)


def unshare(flags: int) -> None:
    _check(_libc.unshare(ctypes.c_int(flags)), "unshare")


def mount(
    source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None
) -> None:
    _check(
        _libc.mount(
            _path(source), _path(target), _path(fstype), ctypes.c_ulong(flags), _path(data)
        ),
        f"mount {target}",
    )


def umount2(target: str, flags: int) -> None:
    _check(_libc.umount2(_path(target), ctypes.c_int(flags)), f"umount {target}")


def pivot_root(new_root: str, put_old: str) -> None:
    if _SYS_PIVOT_ROOT is None:
        raise OSError(38, f"pivot_root: unknown syscall number on {platform.machine()}")
    _check(_libc.syscall(_SYS_PIVOT_ROOT, _path(new_root), _path(put_old)), "pivot_root")


class _MountAttr(ctypes.Structure):
    _fields_ = (
        ("attr_set", ctypes.c_uint64),
        ("attr_clr", ctypes.c_uint64),
        ("propagation", ctypes.c_uint64),
        ("userns_fd", ctypes.c_uint64),
    )


def make_tree_readonly(path: str) -> None:
    """Mark every mount at or below ``path`` read-only and nosuid (Linux >= 5.12)."""
    attr = _MountAttr(MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID, 0, 0, 0)
    _check(
        _libc.syscall(
            _SYS_MOUNT_SETATTR,
            ctypes.c_int(AT_FDCWD),
            _path(path),
            ctypes.c_uint(AT_RECURSIVE),
            ctypes.byref(attr),
            ctypes.c_size_t(ctypes.sizeof(attr)),
        ),
        f"mount_setattr {path}",
    )


def prctl(option: int, arg: int = 0) -> None:
    _check(
        _libc.prctl(
            ctypes.c_int(option),
            ctypes.c_ulong(arg),
            ctypes.c_ulong(0),
            ctypes.c_ulong(0),
            ctypes.c_ulong(0),
        ),
        "prctl",
    )


class _CapHeader(ctypes.Structure):
    _fields_ = (("version", ctypes.c_uint32), ("pid", ctypes.c_int))


class _CapData(ctypes.Structure):
    _fields_ = (
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    )


def drop_all_capabilities() -> None:
    """Clear the effective, permitted and inheritable capability sets of this thread."""
    header = _CapHeader(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3
    data = (_CapData * 2)()
    _check(_libc.capset(ctypes.byref(header), data), "capset")


# --- Landlock ---------------------------------------------------------------

FS_EXECUTE = 1 << 0
FS_WRITE_FILE = 1 << 1
FS_READ_FILE = 1 << 2
FS_READ_DIR = 1 << 3
FS_TRUNCATE = 1 << 14
FS_IOCTL_DEV = 1 << 15
_FS_ALL_BY_ABI = {1: (1 << 13) - 1, 2: (1 << 14) - 1, 3: (1 << 15) - 1, 4: (1 << 15) - 1}
_FS_FILE_RIGHTS = FS_EXECUTE | FS_WRITE_FILE | FS_READ_FILE | FS_TRUNCATE | FS_IOCTL_DEV
_NET_BIND_CONNECT_TCP = 0b11
_SCOPE_ABSTRACT_UNIX_SOCKET_AND_SIGNAL = 0b11
_RULE_PATH_BENEATH = 1


class _RulesetAttr(ctypes.Structure):
    _fields_ = (
        ("handled_access_fs", ctypes.c_uint64),
        ("handled_access_net", ctypes.c_uint64),
        ("scoped", ctypes.c_uint64),
    )


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1
    _fields_ = (("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32))


def landlock_abi() -> int:
    """The Landlock ABI version the kernel offers, 0 when Landlock is unavailable."""
    result = _libc.syscall(
        _SYS_LANDLOCK_CREATE_RULESET, None, ctypes.c_size_t(0), ctypes.c_uint32(1)
    )
    return max(int(result), 0)


def _fs_all(abi: int) -> int:
    return _FS_ALL_BY_ABI.get(abi, (1 << 16) - 1)


def landlock_ruleset(
    abi: int, read_paths: list[str], write_paths: list[str], device_paths: list[str]
) -> int:
    """Build a ruleset fd: read+execute below ``read_paths``, everything below
    ``write_paths``, read+write on the device files in ``device_paths``; with
    ABI >= 4 no TCP bind/connect at all; with ABI >= 6 no signals to, and no
    abstract unix sockets of, processes outside the sandboxed process tree.

    Paths that cannot be opened are left out (they stay inaccessible).
    """
    every_fs_right = _fs_all(abi)
    attr = _RulesetAttr(every_fs_right, _NET_BIND_CONNECT_TCP if abi >= 4 else 0, 0)
    size = 8
    if abi >= 4:
        size = 16
    if abi >= 6:
        attr.scoped = _SCOPE_ABSTRACT_UNIX_SOCKET_AND_SIGNAL
        size = 24
    ruleset = _check(
        _libc.syscall(
            _SYS_LANDLOCK_CREATE_RULESET,
            ctypes.byref(attr),
            ctypes.c_size_t(size),
            ctypes.c_uint32(0),
        ),
        "landlock_create_ruleset",
    )
    read_rights = FS_EXECUTE | FS_READ_FILE | FS_READ_DIR
    device_rights = (FS_READ_FILE | FS_WRITE_FILE | FS_TRUNCATE | FS_IOCTL_DEV) & every_fs_right
    rules = [(p, read_rights) for p in read_paths]
    rules += [(p, every_fs_right) for p in write_paths]
    rules += [(p, device_rights) for p in device_paths]
    for path, rights in rules:
        try:
            fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
        except OSError:
            continue
        try:
            if not os.path.isdir(path):
                rights &= _FS_FILE_RIGHTS
            rule = _PathBeneathAttr(rights, fd)
            _check(
                _libc.syscall(
                    _SYS_LANDLOCK_ADD_RULE,
                    ctypes.c_int(ruleset),
                    ctypes.c_int(_RULE_PATH_BENEATH),
                    ctypes.byref(rule),
                    ctypes.c_uint32(0),
                ),
                f"landlock_add_rule {path}",
            )
        finally:
            os.close(fd)
    os.set_inheritable(ruleset, False)
    return ruleset


def landlock_restrict_self(ruleset: int) -> None:
    """Confine this thread and all its future children (requires no_new_privs)."""
    _check(
        _libc.syscall(_SYS_LANDLOCK_RESTRICT_SELF, ctypes.c_int(ruleset), ctypes.c_uint32(0)),
        "landlock_restrict_self",
    )


def sethostname(name: str) -> None:
    raw = name.encode()
    _check(_libc.sethostname(raw, ctypes.c_size_t(len(raw))), "sethostname")


# --- seccomp ----------------------------------------------------------------

_AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}.get(platform.machine())
# Syscalls refused (EPERM) where the code shares the host's filesystem and
# network: Landlock does not cover metadata changes, UDP or unix sockets.
_REFUSED_SYSCALLS = {
    "x86_64": {
        "socket": 41, "chmod": 90, "fchmod": 91, "fchmodat": 268, "fchmodat2": 452,
        "chown": 92, "fchown": 93, "lchown": 94, "fchownat": 260,
        "utime": 132, "utimes": 235, "futimesat": 261, "utimensat": 280,
        "setxattr": 188, "lsetxattr": 189, "fsetxattr": 190,
        "removexattr": 197, "lremovexattr": 198, "fremovexattr": 199,
        "setxattrat": 463, "removexattrat": 466,
        "keyctl": 250, "add_key": 248, "request_key": 249,
        "io_uring_setup": 425, "unshare": 272, "setns": 308,
    },
    "aarch64": {
        "socket": 198, "fchmod": 52, "fchmodat": 53, "fchmodat2": 452,
        "fchownat": 54, "fchown": 55, "utimensat": 88,
        "setxattr": 5, "lsetxattr": 6, "fsetxattr": 7,
        "removexattr": 14, "lremovexattr": 15, "fremovexattr": 16,
        "setxattrat": 463, "removexattrat": 466,
        "keyctl": 219, "add_key": 217, "request_key": 218,
        "io_uring_setup": 425, "unshare": 97, "setns": 268,
    },
}  # fmt: skip


class _SockFilter(ctypes.Structure):
    _fields_ = (
        ("code", ctypes.c_uint16),
        ("jt", ctypes.c_uint8),
        ("jf", ctypes.c_uint8),
        ("k", ctypes.c_uint32),
    )


class _SockFprog(ctypes.Structure):
    _fields_ = (("len", ctypes.c_ushort), ("filter", ctypes.POINTER(_SockFilter)))


def seccomp_available() -> bool:
    return _AUDIT_ARCH is not None


def seccomp_refuse_host_access() -> None:
    """Install a seccomp filter that fails ``_REFUSED_SYSCALLS`` with EPERM.

    Any other architecture's syscalls (x32, i386 via int 0x80) kill the
    process, so the table cannot be sidestepped. Requires no_new_privs.
    """
    if _AUDIT_ARCH is None:
        raise OSError(38, f"seccomp: no syscall table for {platform.machine()}")
    numbers = sorted(set(_REFUSED_SYSCALLS[platform.machine()].values()))
    ld_w_abs, jeq_k, jge_k, ret_k = 0x20, 0x15, 0x35, 0x06
    allow, kill = 0x7FFF0000, 0x80000000
    refuse = 0x00050000 | 1  # SECCOMP_RET_ERRNO | EPERM
    n = len(numbers)
    program = [
        (ld_w_abs, 0, 0, 4),  # seccomp_data.arch
        (jeq_k, 1, 0, _AUDIT_ARCH),
        (ret_k, 0, 0, kill),
        (ld_w_abs, 0, 0, 0),  # seccomp_data.nr
    ]
    if platform.machine() == "x86_64":
        program += [(jge_k, 0, 1, 0x40000000), (ret_k, 0, 0, kill)]  # x32 ABI
    program += [(jeq_k, n - i, 0, nr) for i, nr in enumerate(numbers)]
    program += [(ret_k, 0, 0, allow), (ret_k, 0, 0, refuse)]
    filters = (_SockFilter * len(program))(*[_SockFilter(*ins) for ins in program])
    fprog = _SockFprog(len(program), filters)
    PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 22, 2
    _check(
        _libc.prctl(
            ctypes.c_int(PR_SET_SECCOMP),
            ctypes.c_ulong(SECCOMP_MODE_FILTER),
            ctypes.byref(fprog),
            0,
            0,
        ),
        "prctl(PR_SET_SECCOMP)",
    )
