"""Host side of one worker: spawn it, talk to it, kill it.

Workers are spawned with ``subprocess`` (no ``preexec_fn``), which is safe in a
host that already runs other threads (llama.cpp's): nothing Python-level runs
between fork and exec. Everything sent is a frame of ``_channel``.
"""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import signal
import subprocess
import sys
import threading
import time
from typing import Any

from thinktree.sandbox._channel import FrameReader, encode
from thinktree.sandbox.config import SandboxConfig

_THREAD_VARIABLES = (
    "OPENBLAS_NUM_THREADS",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
    "GOTO_NUM_THREADS",
    "RAYON_NUM_THREADS",
)
_PACKAGE_PARENT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_REPLY_LIMIT = 64 << 20
_STOP_GRACE_SECONDS = 2.0


class SandboxError(RuntimeError):
    """The sandbox itself failed (could not start, was closed); never the code's fault."""


def worker_environment(config: SandboxConfig) -> dict[str, str]:
    """The whole environment of a worker: built from nothing, never copied from the host."""
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "HOME": "/tmp",
        "PYTHONHASHSEED": str(config.seed),
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONNOUSERSITE": "1",
        "MPLBACKEND": "Agg",
        **dict.fromkeys(_THREAD_VARIABLES, "1"),
    }
    extra = dict(config.env)
    paths = [_PACKAGE_PARENT, *filter(None, extra.pop("PYTHONPATH", "").split(os.pathsep))]
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    env.update(extra)
    return env


def _init_message(config: SandboxConfig) -> dict[str, Any]:
    return {
        "namespaces": config.namespaces,
        "landlock": config.landlock,
        "seccomp": config.seccomp,
        "uid": config.uid,
        "gid": config.gid,
        "memory_mb": config.memory_mb,
        "max_file_mb": config.max_file_mb,
        "max_processes": config.max_processes,
        "max_open_files": config.max_open_files,
        "max_output_bytes": config.max_output_bytes,
        "tmp_size_mb": config.tmp_size_mb,
        "seed": config.seed,
        "preload": list(config.preload),
    }


class WorkerProcess:
    """One warm worker. Not thread-safe: the pool lends it to one thread at a time,
    except :meth:`kill`, which a closing pool may call while that thread does."""

    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self._kill_lock = threading.Lock()
        self.proc: subprocess.Popen[bytes] | None = None
        self.jobs_dir: str | None = None  # on the host's /tmp, only without namespaces
        self.supervisor_pidfd: int | None = None
        self.ready: dict[str, Any] | None = None
        self.dead = False

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def reset(self) -> None:
        self.proc, self.jobs_dir, self.ready, self.dead = None, None, None, False
        self.supervisor_pidfd = None

    def spawn(self) -> None:
        config = self.config
        # Where jobs run when there is no private /tmp: traversable, not listable.
        user: dict[str, Any] = {}
        if config.worker_user is not None:
            if os.getuid() != 0:
                raise SandboxError("SandboxConfig.worker_user needs the host to run as root")
            user = {"user": config.worker_user, "group": config.worker_user, "extra_groups": []}
        python = config.python or sys.executable
        try:
            self.proc = subprocess.Popen(
                [python, "-s", "-P", "-m", "thinktree.sandbox.worker"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=worker_environment(config),
                cwd="/",
                start_new_session=True,
                close_fds=True,
                **user,
            )
        except OSError as exc:
            self.kill()
            raise SandboxError(f"cannot start a sandbox worker with {python}: {exc}") from exc
        assert self.proc.stdin is not None
        self.proc.stdin.write(encode(_init_message(config)))
        self.proc.stdin.flush()

    def wait_ready(self) -> dict[str, Any]:
        """Block until the worker reports ready; raise ``SandboxError`` if it cannot start."""
        if self.ready is not None:
            return self.ready
        assert self.proc is not None and self.proc.stderr is not None
        message = self._receive(time.monotonic() + self.config.start_timeout)
        if message is None or message.get("op") != "ready":
            detail = self._stderr_tail()
            self.kill()
            raise SandboxError(f"sandbox worker failed to start: {detail}")
        self.proc.stderr.close()
        self.ready = message
        try:  # a handle on the supervisor itself, immune to pid reuse
            self.supervisor_pidfd = os.pidfd_open(int(message["pid"]))
        except (OSError, KeyError, ValueError):
            self.supervisor_pidfd = None
        # Without a private /tmp the worker made a directory on the host's.
        self.jobs_dir = message.get("jobs_dir")
        return message

    def execute(self, request: dict[str, Any], wait_seconds: float) -> dict[str, Any] | None:
        """Send one job and return the worker's reply; ``None`` if the worker died or hung."""
        assert self.proc is not None and self.proc.stdin is not None
        try:
            self.proc.stdin.write(encode(request))
            self.proc.stdin.flush()
        except (BrokenPipeError, ValueError):
            self.dead = True
            return None
        reply = self._receive(time.monotonic() + wait_seconds)
        if reply is None or reply.get("op") != "result":
            self.dead = True
            return None
        return reply

    def _receive(self, deadline: float) -> dict[str, Any] | None:
        assert self.proc is not None and self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        reader = FrameReader(_REPLY_LIMIT)
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            if not poller.poll(min(remaining, 60.0) * 1000):
                continue
            try:
                chunk = os.read(fd, 1 << 16)
            except OSError:
                return None
            if not chunk:
                return None
            try:
                messages = reader.feed(chunk)
            except ValueError:
                return None
            if messages:
                return messages[0]

    def _stderr_tail(self) -> str:
        assert self.proc is not None and self.proc.stderr is not None
        try:
            self.proc.wait(timeout=5)
            lines = self.proc.stderr.read().decode("utf-8", "replace").strip().splitlines()
        except (subprocess.TimeoutExpired, OSError, ValueError):
            lines = []
        return lines[-1] if lines else f"exit status {self.proc.poll()}"

    def stop(self) -> None:
        """Ask the worker to clean up and exit (it reads end of input), then make sure."""
        proc = self.proc
        if proc is not None and proc.poll() is None and proc.stdin is not None:
            with contextlib.suppress(OSError):
                proc.stdin.close()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=_STOP_GRACE_SECONDS)
        self.kill()

    def kill(self) -> None:
        """Kill the worker and, with it, everything it started; idempotent.

        Returns only once the supervisor is gone too: as PID 1 of its namespace
        it exits after every process in there has been killed and reaped.
        Concurrent calls take turns, so that one never waits on a pidfd the
        other has closed (or on whatever reused its number).
        """
        with self._kill_lock:
            self._kill()

    def _kill(self) -> None:
        self.dead = True
        proc = self.proc
        if proc is not None:
            if proc.poll() is None:  # not reaped yet, so its group id cannot be reused
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            for stream in (proc.stdin, proc.stdout, proc.stderr):
                if stream is not None:
                    with contextlib.suppress(OSError):
                        stream.close()
        if self.supervisor_pidfd is not None:
            with contextlib.suppress(OSError):
                signal.pidfd_send_signal(self.supervisor_pidfd, signal.SIGKILL)
            select.select([self.supervisor_pidfd], [], [], _STOP_GRACE_SECONDS)
            os.close(self.supervisor_pidfd)
            self.supervisor_pidfd = None
        if self.jobs_dir is not None:
            shutil.rmtree(self.jobs_dir, ignore_errors=True)
            self.jobs_dir = None
