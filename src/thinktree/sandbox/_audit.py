"""Audit hooks (PEP 578) installed in the sandboxed child before the code runs.

Always: no internet or raw sockets (unix sockets stay allowed, so ``asyncio``
and friends work). The kernel layers (network namespace, Landlock) already stop
connections; refusing them here too makes the error the code sees the same on
every machine.

``strict`` is the last line of defence, used only where the kernel layers for
a concern are missing (no namespaces and no Landlock): it also refuses every
socket, new programs (exec, spawn, ``subprocess``), ``ctypes`` (which would
bypass the hooks), signals to processes outside the code's own process group,
writes outside the job directory and reads outside the allowed directories.
Audit hooks are a Python-level fence, not a kernel boundary: code that finds a
way around the interpreter is out of their reach.
"""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Sequence

_NET_REFUSED = "network access is disabled in the sandbox"
_FS_FLAGS_WRITE = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
_FS_EVENTS_WRITE = {
    "os.remove": (0,),
    "os.rmdir": (0,),
    "os.mkdir": (0,),
    "os.rename": (0, 1),
    "os.link": (0, 1),
    "os.symlink": (1,),
    "os.truncate": (0,),
    "os.chmod": (0,),
    "os.chown": (0,),
    "os.utime": (0,),
    "os.chflags": (0,),
    "os.setxattr": (0,),
    "os.removexattr": (0,),
    "shutil.rmtree": (0,),
}
_EVENTS_REFUSED_STRICT = {
    "subprocess.Popen",
    "os.exec",
    "os.posix_spawn",
    "os.spawn",
    "os.system",
    "os.startfile",
    "ctypes.dlopen",
    "ctypes.dlsym",
    "ctypes.dlsym/handle",
    "ctypes.call_function",
    "ctypes.addressof",
    "ctypes.cdata",
    "sys.remote_exec",
}


def _under(path: str, roots: Sequence[str]) -> bool:
    return any(path == root or path.startswith(root.rstrip("/") + "/") for root in roots)


def install(strict: bool, workdir: str, readable: Sequence[str]) -> None:
    """Install the hook for the rest of this process's life (hooks cannot be removed)."""
    # /proc as a whole would expose other processes of the same user (their environ).
    readable = [os.path.realpath(p) for p in readable if p != "/proc"]
    readable += [workdir, f"/proc/{os.getpid()}", "/dev"]
    writable = [workdir, "/dev/null", "/dev/zero", "/dev/full"]
    allowed_families = {socket.AF_UNIX} if not strict else set()

    def resolve(path: object) -> str | None:
        if isinstance(path, int):
            return None  # an fd the process already holds
        try:
            return os.path.realpath(os.fsdecode(path))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            return ""

    def check_write(path: object) -> None:
        real = resolve(path)
        if real is not None and not _under(real, writable):
            raise PermissionError(f"writing outside the sandbox directory is not allowed: {path!r}")

    def hook(event: str, args: tuple) -> None:
        if event == "socket.__new__":
            if args[1] not in allowed_families:
                raise PermissionError(_NET_REFUSED)
            return
        if not strict:
            return
        if event == "open":
            path, mode, flags = args
            writing = (isinstance(flags, int) and flags & _FS_FLAGS_WRITE) or (
                isinstance(mode, str) and any(c in mode for c in "wax+")
            )
            if writing:
                check_write(path)
            else:
                real = resolve(path)
                if real is not None and not _under(real, readable):
                    raise PermissionError(
                        f"reading outside the allowed directories is not allowed: {path!r}"
                    )
        elif event in _FS_EVENTS_WRITE:
            for index in _FS_EVENTS_WRITE[event]:
                check_write(args[index])
        elif (event == "os.kill" and args[0] not in (0, os.getpid(), -os.getpgrp())) or (
            event == "os.killpg" and args[0] not in (0, os.getpgrp())
        ):
            raise PermissionError("signalling processes outside the sandbox is not allowed")
        elif event in ("os.listdir", "os.scandir"):
            real = resolve(args[0]) if args[0] is not None else os.getcwd()
            if real is not None and not _under(real, readable):
                raise PermissionError(
                    f"reading outside the allowed directories is not allowed: {args[0]!r}"
                )
        elif event in _EVENTS_REFUSED_STRICT or event.startswith("socket."):
            raise PermissionError(f"{event} is not allowed in the sandbox")

    sys.addaudithook(hook)
