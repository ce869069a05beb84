"""The supervisor: PID 1 of a worker's namespaces, never runs untrusted code itself.

Builds the filesystem view, decides the layers (and reports what fell back),
preloads numpy/sympy, then serves jobs one at a time: a fresh forked child per
job, its output capped, its time limited, and everything it started killed and
reaped before the reply goes out. Standard library only.
"""

from __future__ import annotations

import contextlib
import errno
import gc
import importlib
import os
import select
import shutil
import signal
import sys
import tempfile
import time
from typing import Any, NoReturn

from thinktree.sandbox import _child, _linux, _rootfs
from thinktree.sandbox._channel import FrameReader, read_frame, write_frame

_RESULT_CHANNEL_LIMIT = 1 << 20
_DEVICES = [f"/dev/{name}" for name in _rootfs.DEVICES]
_WARMUP = """
import numpy, sympy
x = sympy.Symbol("x")
sympy.solve(x**2 - 4, x); sympy.simplify((x**2 - 1) / (x - 1)); sympy.factorint(360)
sympy.Rational(1, 3) + sympy.sqrt(2); sympy.N(sympy.pi, 20); sympy.expand((x + 1) ** 3)
numpy.linalg.solve(numpy.eye(2), numpy.ones(2)); numpy.arange(10).sum()
"""


class _Capped:
    """Keeps the first ``limit`` bytes of a stream and counts the rest."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.head = bytearray()
        self.total = 0

    def add(self, chunk: bytes) -> None:
        self.total += len(chunk)
        room = self.limit - len(self.head)
        if room > 0:
            self.head += chunk[:room]

    @property
    def truncated(self) -> bool:
        return self.total > self.limit

    def text(self) -> str:
        text = self.head.decode("utf-8", "replace")
        if self.truncated:
            text += f"\n[output truncated: {self.total} bytes, first {self.limit} shown]"
        return text


def _wipe(directory: str) -> None:
    """Empty ``directory``, whatever modes the code left on what it made there."""

    def retry_writable(func: Any, failed: str, _exc: Any) -> None:
        with contextlib.suppress(OSError):
            os.chmod(os.path.dirname(failed), 0o700)
            if os.path.isdir(failed) and not os.path.islink(failed):
                os.chmod(failed, 0o700)
            func(failed)

    for entry in os.scandir(directory):
        if entry.is_dir(follow_symlinks=False):
            shutil.rmtree(entry.path, onerror=retry_writable)
        else:
            with contextlib.suppress(OSError):
                os.unlink(entry.path)


class Supervisor:
    """Runs jobs one at a time, each in a fresh child, and cleans up after each."""

    def __init__(self, init: dict[str, Any], namespaces: str | None, fallbacks: list[str]) -> None:
        self.init = init
        self.fallbacks = fallbacks
        self.host_jobs_dir: str | None = None
        self.layers: dict[str, str] = {"namespaces": namespaces or "none"}
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        self.ctl_in = os.dup(0)
        self.ctl_out = os.dup(1)
        self.devnull = os.open(os.devnull, os.O_RDWR)
        os.dup2(self.devnull, 0)
        os.dup2(self.devnull, 1)
        os.umask(0o022)
        # kill(-1) is only safe as PID 1 of our own namespace: anywhere else it
        # would signal every process this uid may signal.
        self.pid_namespace = namespaces is not None and os.getpid() == 1
        self.outer_pid = _outer_pid()  # before /proc is replaced by the namespace's own
        self.jobs_root = self._setup_filesystem(namespaces is not None)
        self.policy = self._make_policy(namespaces)
        self._preload()
        gc.freeze()  # children then leave the preloaded objects' pages shared

    # --- start-up -----------------------------------------------------------

    def _setup_filesystem(self, in_namespaces: bool) -> str:
        if in_namespaces:
            with contextlib.suppress(OSError):
                _linux.sethostname("sandbox")
            try:
                jobs, notes = _rootfs.build_private_root(int(self.init["tmp_size_mb"]))
            except OSError as exc:
                self.fallbacks.append(
                    f"filesystem: private root failed ({exc}); the host filesystem is used, "
                    "writes limited by Landlock, seccomp and file modes"
                )
                self.layers["filesystem"] = "host filesystem"
            else:
                self.fallbacks.extend(f"filesystem: {note}" for note in notes)
                self.layers["filesystem"] = f"private read-only root, tmpfs {jobs}"
                return jobs
        else:
            self.layers["filesystem"] = "host filesystem"
        if not self.pid_namespace:
            _linux.prctl(_linux.PR_SET_CHILD_SUBREAPER, 1)
        # On the host's /tmp: traversable (the code may run as another uid), not listable.
        self.host_jobs_dir = tempfile.mkdtemp(prefix="thinktree-sandbox-")
        os.chmod(self.host_jobs_dir, 0o711)
        return self.host_jobs_dir

    def _make_policy(self, namespaces: str | None) -> _child.ChildPolicy:
        init = self.init
        if os.getuid() == 0:
            identity = "uid"
            self.layers["identity"] = f"uid {init['uid']}, gid {init['gid']}, no groups"
        elif namespaces and namespaces.startswith("user"):
            identity = "caps"
            self.layers["identity"] = f"uid {os.getuid()} (not root), no capabilities"
        else:
            identity = "none"
            self.layers["identity"] = f"uid {os.getuid()} (not root)"

        readable = _rootfs.readable_dirs()
        landlock_fd, abi = -1, 0
        if not init["landlock"]:
            self.fallbacks.append("landlock: disabled by the configuration")
        else:
            abi = _linux.landlock_abi()
            if abi == 0:
                self.fallbacks.append("landlock: not available in this kernel")
            else:
                landlock_fd = _linux.landlock_ruleset(abi, readable, [self.jobs_root], _DEVICES)
        self.layers["landlock"] = f"ABI {abi}" if landlock_fd >= 0 else "off"

        # Sharing the host's filesystem: refuse what Landlock does not cover
        # (metadata changes; unix sockets, which cross network namespaces; UDP)
        # at the syscall level.
        private_root = self.layers["filesystem"] != "host filesystem"
        seccomp = False
        if not private_root:
            if not init["seccomp"]:
                self.fallbacks.append("seccomp: disabled by the configuration")
            elif not _linux.seccomp_available():
                self.fallbacks.append("seccomp: no syscall table for this architecture")
            else:
                seccomp = True
        self.layers["seccomp"] = "no sockets, no metadata changes" if seccomp else "off"

        # Where the kernel layers are missing, the audit hook has to stand in for them.
        signals_guarded = self.pid_namespace or identity == "uid" or abi >= 6
        network_guarded = seccomp or (namespaces is not None and private_root)
        files_guarded = private_root or (abi >= 1 and seccomp)
        strict = not (signals_guarded and network_guarded and files_guarded)
        if strict:
            self.fallbacks.append(
                "audit: kernel layers missing; a strict Python audit hook refuses sockets, "
                "exec, ctypes, signals and file access outside the sandbox (best effort)"
            )
        network = ["network namespace"] if namespaces else []
        network += ["seccomp"] if seccomp else []
        network += ["Landlock TCP"] if abi >= 4 else []
        self.layers["network"] = " + ".join([*network, "audit hook"])
        self.layers["audit"] = "strict" if strict else "sockets"
        self.layers["cleanup"] = "PID namespace" if self.pid_namespace else "subreaper sweep"
        return _child.ChildPolicy(
            identity=identity,
            uid=int(init["uid"]),
            gid=int(init["gid"]),
            memory_bytes=int(init["memory_mb"]) << 20,
            file_bytes=int(init["max_file_mb"]) << 20,
            processes=int(init["max_processes"]),
            processes_relative=identity == "none",
            open_files=int(init["max_open_files"]),
            seed=int(init["seed"]),
            landlock_fd=landlock_fd,
            seccomp=seccomp,
            strict_audit=strict,
            readable=tuple(readable),
        )

    def _preload(self) -> None:
        for name in self.init["preload"]:
            try:
                importlib.import_module(name)
            except Exception as exc:
                self.fallbacks.append(f"preload: {name} not importable ({_child.describe(exc)})")
        if {"numpy", "sympy"} <= sys.modules.keys():
            exec(compile(_WARMUP, "<warmup>", "exec"), {})
        stdlib = os.path.dirname(os.__file__)
        policy = self.policy
        if policy.identity == "uid" and not _traversable_by(stdlib, policy.uid, policy.gid):
            self.fallbacks.append(
                f"imports: uid {policy.uid} cannot read {stdlib} without a private root; "
                "the code can import only what was preloaded"
            )

    # --- serving ------------------------------------------------------------

    def serve(self) -> NoReturn:
        ready = {"op": "ready", "layers": self.layers, "fallbacks": self.fallbacks}
        write_frame(self.ctl_out, {**ready, "jobs_dir": self.host_jobs_dir, "pid": self.outer_pid})
        os.dup2(self.devnull, 2)
        while True:
            request = read_frame(self.ctl_in)
            if request is None or request.get("op") != "run":
                self._exit(None)
            write_frame(self.ctl_out, self.run_job(request))

    def run_job(self, request: dict[str, Any]) -> dict[str, Any]:
        workdir = os.path.join(self.jobs_root, "job")  # the same path every time
        try:
            os.mkdir(workdir, 0o700)
        except FileExistsError:  # a leftover the wipe could not remove
            workdir = tempfile.mkdtemp(prefix="job-", dir=self.jobs_root)
        if self.policy.identity == "uid":
            os.chown(workdir, self.policy.uid, self.policy.gid)
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        res_r, res_w = os.pipe()
        job = _child.ChildJob(
            cells=list(request["cells"]),
            cpu_seconds=int(request["cpu_seconds"]),
            workdir=workdir,
            stdout_fd=out_w,
            stderr_fd=err_w,
            result_fd=res_w,
            devnull_fd=self.devnull,
            keep_fds=(self.policy.landlock_fd,),
        )
        timeout = float(request["timeout"])
        pid = os.fork()
        if pid == 0:
            try:
                _child.run(self.policy, job)
            finally:
                os._exit(_child.SETUP_FAILED_STATUS)
        for fd in (out_w, err_w, res_w):
            os.close(fd)
        try:
            return self._supervise(pid, out_r, err_r, res_r, timeout, job.cpu_seconds)
        finally:
            for fd in (out_r, err_r, res_r):
                os.close(fd)
            self._kill_all(pid)
            _wipe(self.jobs_root)

    def _supervise(
        self, pid: int, out_r: int, err_r: int, res_r: int, timeout: float, cpu_seconds: int
    ) -> dict[str, Any]:
        cap = int(self.init["max_output_bytes"])
        stdout, stderr = _Capped(cap), _Capped(cap)
        frames = FrameReader(_RESULT_CHANNEL_LIMIT)
        messages: list[dict[str, Any]] = []
        corrupted = False
        sinks = {out_r: stdout.add, err_r: stderr.add}

        def take(fd: int, chunk: bytes) -> None:
            nonlocal corrupted
            if fd in sinks:
                sinks[fd](chunk)
            elif not corrupted:
                try:
                    messages.extend(frames.feed(chunk))
                except ValueError:
                    corrupted = True

        poller = select.poll()
        for fd in (out_r, err_r, res_r):
            os.set_blocking(fd, False)
            poller.register(fd, select.POLLIN)
        pidfd = os.pidfd_open(pid)
        poller.register(pidfd, select.POLLIN)
        poller.register(self.ctl_in, select.POLLIN)
        deadline = time.monotonic() + timeout
        status: int | None = None
        try:
            while status is None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                for fd, _event in poller.poll(min(remaining, 60.0) * 1000):
                    if fd == pidfd:
                        status = os.waitpid(pid, 0)[1]
                    elif fd == self.ctl_in:
                        self._exit(pid)  # the host went away
                    else:
                        chunk = _read_some(fd)
                        if chunk:
                            take(fd, chunk)
                        else:
                            poller.unregister(fd)
        finally:
            os.close(pidfd)
        self._kill_all(pid)  # every writer is gone now: the pipes hold what is left
        for fd in (out_r, err_r, res_r):
            while chunk := _read_some(fd):
                take(fd, chunk)
        result = self._outcome(status, messages, corrupted, timeout, cpu_seconds)
        result.update(
            op="result",
            stdout=stdout.text(),
            stderr=stderr.text(),
            truncated=stdout.truncated or stderr.truncated,
        )
        return result

    def _outcome(
        self,
        status: int | None,
        messages: list[dict[str, Any]],
        corrupted: bool,
        timeout: float,
        cpu_seconds: int,
    ) -> dict[str, Any]:
        cells = [m["cell"] for m in messages if isinstance(m.get("cell"), int)]
        current = cells[-1] if cells else 0
        done = next((m for m in reversed(messages) if m.get("done") is True), None)
        setup = next((m for m in messages if "setup_error" in m), None)
        outcome: dict[str, Any] = {"timed_out": False, "failed_cell": current, "earlier_errors": []}
        if status is None:
            outcome.update(
                timed_out=True,
                error=f"TimeoutError: the code ran longer than the {timeout:g} s time limit",
            )
        elif os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGXCPU:
            outcome.update(
                timed_out=True,
                error=f"TimeoutError: the code used more than {cpu_seconds} s of CPU time",
            )
        elif setup is not None:
            outcome.update(
                error=f"SandboxError: setup failed: {setup['setup_error']}", failed_cell=None
            )
        elif corrupted:
            outcome.update(error="SandboxError: the code corrupted the sandbox's result channel")
        elif os.WIFSIGNALED(status):
            number = os.WTERMSIG(status)
            try:
                name = signal.Signals(number).name
            except ValueError:  # real-time signals have no name
                name = f"signal {number}"
            outcome.update(error=f"SandboxError: the process was killed by {name}")
        elif done is None or os.WEXITSTATUS(status) != 0:
            code = os.WEXITSTATUS(status)
            outcome.update(error=f"SandboxError: the code ended its process (exit status {code})")
        else:
            # The frame came from the code's process: trust nothing about its size.
            error = done.get("error")
            error = str(error)[: _child.MAX_ERROR_CHARS] if error is not None else None
            pairs = done.get("earlier_errors")
            earlier = [
                [pair[0], pair[1][: _child.MAX_ERROR_CHARS]]
                for pair in (pairs if isinstance(pairs, list) else [])
                if isinstance(pair, list)
                and len(pair) == 2
                and isinstance(pair[0], int)
                and isinstance(pair[1], str)
            ]
            outcome.update(
                error=error,
                failed_cell=current if error is not None else None,
                earlier_errors=earlier,
            )
        return outcome

    # --- cleanup ------------------------------------------------------------

    def _exit(self, child: int | None) -> NoReturn:
        self._kill_all(child)
        if self.host_jobs_dir is not None:
            shutil.rmtree(self.host_jobs_dir, ignore_errors=True)
        os._exit(0)

    def _kill_all(self, child: int | None) -> None:
        """Kill and reap every process the code started; returns when none is left."""
        if self.pid_namespace:
            while True:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(-1, signal.SIGKILL)
                try:
                    os.waitpid(-1, 0)
                except ChildProcessError:
                    return
        if child is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(child, signal.SIGKILL)
        # Orphans of the code re-parent to us (we are a subreaper): sweep until none.
        while kids := _children():
            for kid in kids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(kid, signal.SIGKILL)
            for kid in kids:
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(kid, 0)


def _traversable_by(path: str, uid: int, gid: int) -> bool:
    """Whether ``uid``/``gid`` (no other groups) may list ``path``, judged by mode bits."""
    path = os.path.realpath(path)
    parts = path.split("/")
    for depth in range(1, len(parts) + 1):
        st = os.stat("/".join(parts[:depth]) or "/")
        shift = 6 if st.st_uid == uid else 3 if st.st_gid == gid else 0
        needed = 0o1 | (0o4 if depth == len(parts) else 0)
        if (st.st_mode >> shift) & needed != needed:
            return False
    return True


def _outer_pid() -> int:
    """This process's pid as the host sees it (``NSpid`` lists it first)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("NSpid:"):
                return int(line.split()[1])
    return os.getpid()


def _read_some(fd: int) -> bytes:
    try:
        return os.read(fd, 1 << 16)
    except BlockingIOError:
        return b""
    except OSError as exc:
        if exc.errno == errno.EBADF:
            return b""
        raise


def _children() -> list[int]:
    pid = os.getpid()
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(p) for p in f.read().split()]
    except FileNotFoundError:  # kernel without CONFIG_PROC_CHILDREN
        kids = []
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    with open(f"/proc/{entry}/stat") as f:
                        if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                            kids.append(int(entry))
                except (OSError, IndexError, ValueError):
                    continue
        return kids
