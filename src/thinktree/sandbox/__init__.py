"""Running untrusted step code: safe by default, cheap enough to run thousands of cells.

Contract
--------
``Sandbox(config).run(cells, timeout)`` runs the cells of one trajectory, in
order, in one fresh process, and returns an ``ExecResult`` for the last cell:
``stdout``, ``stderr``, ``error``, ``timed_out``, ``seconds`` (+ ``truncated``,
``failed_cell``, ``earlier_errors``). ``run_batch(trajectories)`` runs
independent trajectories concurrently across the pool, results in order. Both
are thread-safe and never raise for anything the code does; ``SandboxError`` is
raised only when the sandbox itself cannot run (closed, a worker cannot start).

The state of a trajectory is its earlier cells: they are run again, every time,
before the last one, and their output is discarded (so their side effects and
their cost repeat). Each execution starts from a fresh fork of a warm worker
with numpy and sympy already imported, in a fresh private working directory
(also ``$HOME`` and ``$TMPDIR``) that is deleted afterwards.

What counts as a failed cell
----------------------------
- A cell fails when it raises anything, ``SystemExit`` and ``KeyboardInterrupt``
  included. ``error`` is ``"<ExcType>: <message>"`` (``"<ExcType>"`` when the
  message is empty; no module prefix; at most 1000 characters): the last line of
  a traceback, short enough to show the model.
- An earlier cell that raises does NOT stop the trajectory (a step's error stays
  in it and a later step may repair it, as the step format intends); it is
  reported in ``earlier_errors`` as ``(cell index, error)``. ``error`` stays the
  last cell's, so compare ``earlier_errors`` with what the step loop recorded
  to notice a trajectory whose re-run diverged.
- Execution stops early only on a timeout (``timed_out``, ``"TimeoutError:
  ..."``, also when the CPU-time limit hits) or when the process dies or ends
  itself (``"SandboxError: ..."``, e.g. ``os._exit``, a fatal signal);
  ``failed_cell`` then says which cell was running. Output the code had not yet
  flushed when its process died is lost.
- stdout and stderr are each capped (``max_output_bytes``, 8 KB); the rest is
  drained and dropped, and ``"[output truncated: N bytes, first 8192 shown]"``
  is appended.

Determinism
-----------
Re-running earlier cells must give the same state, so every execution seeds
``random``, numpy's global generator and sympy's generator with
``config.seed`` (0), and workers run with ``PYTHONHASHSEED=seed`` (set and dict
ordering of strings), hostname ``sandbox`` and the same working-directory path
(``/tmp/job`` with namespaces). Numeric libraries run single-threaded
(``OPENBLAS_NUM_THREADS=1`` and friends), which also keeps them inside the
memory limit. Not covered: the clock, ``os.urandom``/``secrets``/``uuid4`` and
unseeded ``numpy.random.default_rng()``. numpy's global generator is seeded only
when ``numpy.random`` is preloaded (the default).

Isolation layers, and where they fall back
------------------------------------------
Each worker reports its layers (``Sandbox.layers``); whatever fell back is said
once, as a ``SandboxFallbackWarning`` (``Sandbox.fallbacks``).

- Namespaces (default): each worker is PID 1 of its own PID namespace, with its
  own empty network namespace (127.0.0.1 is a different, unconfigured loopback,
  so the host's llama.cpp listener is unreachable), mount, IPC and UTS
  namespaces; a user namespace too when not started as root. After every
  execution the worker kills every other process in its namespace, which
  reaches setsid'd and double-forked processes; if the worker dies, the kernel
  kills the namespace. The filesystem is a private read-only root holding only
  the system directories and the Python installation, plus a small tmpfs
  (``/tmp``); homes, ``/root`` and the rest of the host are not there.
- Identity: started as root, the code runs as ``uid``/``gid`` 65534 with no
  groups (root ignores ``RLIMIT_NPROC`` and reads ``/etc/shadow``); otherwise it
  keeps the user's uid and loses every capability. Always ``no_new_privs``.
- Landlock (Linux >= 5.13, when present): writes only in the working directory,
  reads only below the system and Python directories, no TCP connect/bind
  (ABI >= 4), no signals to processes outside the sandbox (ABI >= 6).
- Resource limits per execution: address space (``memory_mb``, 1 GiB,
  including about 150 MB of preloaded numpy/sympy), CPU seconds (timeout + 1),
  file size (16 MB), processes+threads (64), open files (256), no core dumps;
  and the wall-clock timeout, enforced by the worker and, one second later, by
  the host, which then kills and replaces the whole worker.
- Without namespaces (unprivileged user namespaces refused, or a container
  without CAP_SYS_ADMIN): the worker is a child subreaper and sweeps every
  descendant after each execution; the code shares the host's filesystem, so
  Landlock confines it and a seccomp filter refuses ``socket()`` (no network at
  all, unix sockets included) and metadata changes (chmod, chown, utimes,
  xattrs) outright. Without Landlock or seccomp as well, a strict Python audit
  hook refuses sockets, exec/spawn, ctypes, signals outside the process group
  and file access outside the sandbox: a best-effort fence, not a boundary.
- Always: a scrubbed environment (built from nothing: no API keys, tokens or
  user variables; ``config.env`` adds variables explicitly), and an audit hook
  that refuses internet sockets, so the code sees the same error everywhere.

Surprises
---------
- Limits are per execution; started as root, all workers' code shares uid
  65534, so ``max_processes`` is shared by executions running at the same time.
- Without a private root, uid 65534 may be unable to read the interpreter's
  own files (a Python under /root, as with pyenv here): then only preloaded
  modules import, and the fallback warning says so.
- A worker found dead during a call (killed from outside, out of memory) is
  replaced and the call is retried once: the code cannot change anything
  outside the sandbox, so running it again is safe.
- Workers run ``python -s -P -m thinktree.sandbox.worker``: importing
  ``thinktree`` must stay cheap, or every worker start pays for it.
"""

from thinktree.sandbox._process import SandboxError
from thinktree.sandbox.config import SandboxConfig
from thinktree.sandbox.pool import Sandbox, SandboxFallbackWarning
from thinktree.sandbox.result import ExecResult

__all__ = ["ExecResult", "Sandbox", "SandboxConfig", "SandboxError", "SandboxFallbackWarning"]
