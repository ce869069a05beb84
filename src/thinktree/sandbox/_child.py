"""The sandboxed child: forked by the worker for one execution, never reused.

Order matters and is the point of this module: own process group, fresh
stdio, resource limits, then the identity drop (another uid, or no
capabilities), ``no_new_privs``, Landlock and seccomp, then the audit hook,
the seeds, and only then the cells. Nothing here returns: the process ends with
``os._exit`` after reporting to the worker over the result pipe. Standard
library only.
"""

from __future__ import annotations

import builtins
import contextlib
import os
import random
import resource
import signal
import sys
import types
from dataclasses import dataclass
from typing import NoReturn

from thinktree.sandbox import _audit, _linux
from thinktree.sandbox._channel import write_frame

MAX_ERROR_CHARS = 1000
SETUP_FAILED_STATUS = 70


@dataclass(frozen=True)
class ChildPolicy:
    """What every child of one worker gets; fixed when the worker starts."""

    identity: str  # "uid": become uid/gid; "caps": keep the uid, drop capabilities; "none"
    uid: int
    gid: int
    memory_bytes: int
    file_bytes: int
    processes: int
    processes_relative: bool  # the uid also runs other processes: count them first
    open_files: int
    seed: int
    landlock_fd: int  # -1 when Landlock is not used
    seccomp: bool
    strict_audit: bool
    readable: tuple[str, ...]


@dataclass(frozen=True)
class ChildJob:
    cells: list[str]
    cpu_seconds: int
    workdir: str
    stdout_fd: int
    stderr_fd: int
    result_fd: int
    devnull_fd: int
    keep_fds: tuple[int, ...] = ()  # e.g. the Landlock ruleset, used after the fds are closed


def describe(exc: BaseException) -> str:
    """``"<ExcType>: <message>"``, or ``"<ExcType>"`` when the message is empty."""
    name = type(exc).__name__
    try:
        message = str(exc)
    except BaseException:  # a hostile __str__
        message = "<message unavailable>"
    text = f"{name}: {message}" if message else name
    if len(text) > MAX_ERROR_CHARS:
        text = text[: MAX_ERROR_CHARS - 1] + "…"
    return text


def run(policy: ChildPolicy, job: ChildJob) -> NoReturn:
    try:
        namespace = _prepare(policy, job)
    except BaseException as exc:
        _send(job.result_fd, {"setup_error": describe(exc)})
        os._exit(SETUP_FAILED_STATUS)
    _run_cells(job, namespace)
    os._exit(0)


def _send(fd: int, message: dict) -> None:
    with contextlib.suppress(OSError):  # the code broke the pipe; the worker reports that
        write_frame(fd, message)


def _prepare(policy: ChildPolicy, job: ChildJob) -> dict:
    os.setpgid(0, 0)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    _setup_fds(job)
    _apply_limits(policy, job)
    _drop_privileges(policy)
    os.umask(0o077)
    os.chdir(job.workdir)
    os.environ.update(HOME=job.workdir, TMPDIR=job.workdir, PWD=job.workdir)
    if "tempfile" in sys.modules:
        sys.modules["tempfile"].tempdir = None
    _audit.install(policy.strict_audit, job.workdir, policy.readable)
    return _fresh_main(policy.seed)


def _setup_fds(job: ChildJob) -> None:
    os.dup2(job.devnull_fd, 0)
    os.dup2(job.stdout_fd, 1)
    os.dup2(job.stderr_fd, 2)
    keep = {0, 1, 2, job.stdout_fd, job.stderr_fd, job.result_fd, job.devnull_fd, *job.keep_fds}
    keep = sorted(fd for fd in keep if fd >= 0)
    for low, high in zip(keep, [*keep[1:], 1 << 20], strict=True):
        os.closerange(low + 1, high)
    sys.stdin = sys.__stdin__ = open(0, encoding="utf-8", closefd=False)  # noqa: SIM115
    sys.stdout = sys.__stdout__ = open(  # noqa: SIM115
        1, "w", encoding="utf-8", errors="backslashreplace", closefd=False
    )
    sys.stderr = sys.__stderr__ = open(  # noqa: SIM115
        2, "w", encoding="utf-8", errors="backslashreplace", closefd=False, buffering=1
    )


def _count_tasks(uid: int) -> int:
    """Processes and threads whose real uid is ``uid`` (what RLIMIT_NPROC counts)."""
    count = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status") as status:
                fields = dict(line.split(":", 1) for line in status if ":" in line)
            if int(fields["Uid"].split()[0]) == uid:
                count += int(fields["Threads"])
        except (OSError, KeyError, ValueError):
            continue
    return count


def _apply_limits(policy: ChildPolicy, job: ChildJob) -> None:
    processes = policy.processes
    if policy.processes_relative:
        processes += _count_tasks(os.getuid())
    limits = {
        resource.RLIMIT_AS: policy.memory_bytes,
        resource.RLIMIT_FSIZE: policy.file_bytes,
        resource.RLIMIT_NOFILE: policy.open_files,
        resource.RLIMIT_NPROC: processes,
        resource.RLIMIT_CORE: 0,
    }
    for which, value in limits.items():
        resource.setrlimit(which, (value, value))
    # The soft limit sends SIGXCPU (reported as a timeout); the hard one SIGKILL.
    resource.setrlimit(resource.RLIMIT_CPU, (job.cpu_seconds, job.cpu_seconds + 1))


def _drop_privileges(policy: ChildPolicy) -> None:
    if policy.identity == "uid":
        os.setgroups([])
        os.setresgid(policy.gid, policy.gid, policy.gid)
        os.setresuid(policy.uid, policy.uid, policy.uid)
    elif policy.identity == "caps":
        _linux.drop_all_capabilities()
    _linux.prctl(_linux.PR_SET_NO_NEW_PRIVS, 1)
    if policy.landlock_fd >= 0:
        _linux.landlock_restrict_self(policy.landlock_fd)
        os.close(policy.landlock_fd)
    if policy.seccomp:
        _linux.seccomp_refuse_host_access()


def _fresh_main(seed: int) -> dict:
    """A new ``__main__`` module for the cells, and every known generator seeded."""
    main = types.ModuleType("__main__")
    main.__dict__["__builtins__"] = builtins
    sys.modules["__main__"] = main
    sys.argv = [""]
    random.seed(seed)
    if "numpy.random" in sys.modules:  # never imported here: numpy 2 loads it lazily (30 ms)
        sys.modules["numpy.random"].seed(seed)
    if "sympy.core.random" in sys.modules:
        sys.modules["sympy.core.random"].seed(seed)
    return main.__dict__


def _flush_stdio() -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(BaseException):  # closed or replaced by the code
            stream.flush()


def _run_cells(job: ChildJob, namespace: dict) -> None:
    last = len(job.cells) - 1
    error: str | None = None
    earlier_errors: list[list] = []
    for index, source in enumerate(job.cells):
        _send(job.result_fd, {"cell": index})
        _flush_stdio()  # what an earlier cell left buffered goes where it belongs
        # Only the last cell's output is wanted: earlier cells write to /dev/null.
        os.dup2(job.stdout_fd if index == last else job.devnull_fd, 1)
        os.dup2(job.stderr_fd if index == last else job.devnull_fd, 2)
        try:
            exec(compile(source, f"<cell {index + 1}>", "exec"), namespace)
        except BaseException as exc:
            if index == last:
                error = describe(exc)
            else:
                earlier_errors.append([index, describe(exc)])
    _flush_stdio()
    _send(job.result_fd, {"done": True, "error": error, "earlier_errors": earlier_errors})
