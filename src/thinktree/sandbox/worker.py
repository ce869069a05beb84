"""The sandbox worker process: ``python -s -P -m thinktree.sandbox.worker``.

Started by ``Sandbox`` with a scrubbed environment; speaks length-prefixed
JSON frames on stdin/stdout (see ``_channel``). The first frame configures it.

Process tree (namespace mode)::

    host ── outer (waits, nothing else)
              └── supervisor = PID 1 of a new PID namespace, also in new
                  net/mount/ipc/uts namespaces (+ a user namespace when not root);
                  builds the private root, preloads numpy/sympy, then per job:
                    └── child (fork): drops privileges, runs the cells, exits
                          └── whatever the code starts

The supervisor never runs untrusted code. After every job it kills every other
process in its PID namespace (``kill(-1)`` from PID 1 reaches setsid'd and
double-forked processes too) and reaps them, so nothing outlives a call; if the
supervisor itself dies, the kernel kills the whole namespace. Without
namespaces the supervisor is a child subreaper and sweeps its descendants
instead. Standard library only, so the sandbox costs no imports of its own.
"""

from __future__ import annotations

import os
import signal
from typing import NoReturn

from thinktree.sandbox import _linux
from thinktree.sandbox._channel import read_frame
from thinktree.sandbox._supervisor import Supervisor


def _enter_namespaces() -> str:
    """Move this process into new namespaces; its next child becomes PID 1."""
    uid, gid = os.getuid(), os.getgid()
    flags = (
        _linux.CLONE_NEWNS
        | _linux.CLONE_NEWPID
        | _linux.CLONE_NEWNET
        | _linux.CLONE_NEWIPC
        | _linux.CLONE_NEWUTS
    )
    if uid != 0:
        flags |= _linux.CLONE_NEWUSER
    _linux.unshare(flags)
    if uid != 0:
        # Same ids inside as outside: the code sees the user it really is.
        for name, text in (
            ("setgroups", "deny"),
            ("uid_map", f"{uid} {uid} 1"),
            ("gid_map", f"{gid} {gid} 1"),
        ):
            with open(f"/proc/self/{name}", "w") as f:
                f.write(text)
        return "user+pid+net+mount+ipc+uts"
    return "pid+net+mount+ipc+uts"


def _wait_as_outer(pid: int) -> NoReturn:
    """The outer process holds nothing open and exits when the supervisor does."""
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    os._exit(code if code >= 0 else 128 - code)


def main() -> None:
    init = read_frame(0)
    if init is None:
        return
    fallbacks: list[str] = []
    namespaces: str | None = None
    if not init["namespaces"]:
        fallbacks.append("namespaces: disabled by the configuration")
    else:
        try:
            namespaces = _enter_namespaces()
        except OSError as exc:
            fallbacks.append(f"namespaces: unavailable ({exc}); no PID/network/mount isolation")
    if namespaces is not None:
        pid = os.fork()
        if pid:
            _wait_as_outer(pid)
        _linux.prctl(_linux.PR_SET_PDEATHSIG, signal.SIGKILL)
    Supervisor(init, namespaces, fallbacks).serve()


if __name__ == "__main__":
    main()
