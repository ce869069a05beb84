"""Hostile cells, each run under every isolation mode this machine can set up.

Every case asserts, besides its own expectation: the host is alive and the
sandbox still serves; the result came back within timeout + 2 s; nothing
outside changed (canary files, no new files, the 127.0.0.1 listener saw no
connection, no process carrying the test's marker outlived the call); no
secret appears in anything the code could print. No case is skipped: a mode
whose layers fell back must still contain all of them.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from string import Template

import pytest

from tests.sandbox.conftest import (
    MARK,
    MODES,
    SECRET,
    Bait,
    Mode,
    make_bait,
    marked_processes,
    remove_bait,
    start_sandbox,
    worker_pids,
)
from thinktree.sandbox import ExecResult, Sandbox

TIMEOUT = 1.5


@dataclass(frozen=True)
class Case:
    name: str
    code: str  # a string.Template: $port $home $user_home $host_pid $holder $mark
    expect: Callable[[ExecResult], bool] = lambda r: True


def _error_starts(prefix: str) -> Callable[[ExecResult], bool]:
    return lambda r: r.error is not None and r.error.startswith(prefix)


# Only modules every mode can import: where the interpreter lives in /root and
# there is no private root, uid 65534 can import nothing that was not preloaded.
_FILE_ATTACK = """
import os, shutil, subprocess
def attempt(what, attack):
    try:
        attack()
        print(what, "done")
    except Exception as e:
        print(what, type(e).__name__)
for d in ["$home", "$user_home", "/tmp", "/var/tmp"]:
    try:
        names = os.listdir(d)
    except Exception as e:
        names = ["$mark-canary", ".$mark-canary", "$mark-canary-owned"]
    for name in names:
        if "$mark" in name:
            p = os.path.join(d, name)
            attempt("remove", lambda: os.remove(p))
            attempt("rmtree", lambda: shutil.rmtree(p))
            attempt("overwrite", lambda: open(p, "w").write("pwned"))
            attempt("chmod", lambda: os.chmod(p, 0o777))
            attempt("rename", lambda: os.rename(p, p + "-evil"))
    attempt("create", lambda: open(os.path.join(d, "$mark-evil"), "w").write("x"))
    attempt("mkdir", lambda: os.mkdir(os.path.join(d, "$mark-evil-dir")))
    attempt("symlink", lambda: os.symlink("/etc/passwd", os.path.join(d, "$mark-evil-link")))
    touch = ["touch", os.path.join(d, "$mark-evil-touch")]
    attempt("touch", lambda: subprocess.run(touch, timeout=1))
print("finished")
"""

_READ_SECRETS = """
import os, subprocess
print(sorted(os.environ.items()))
def show(path):
    try:
        print(path, open(path, "rb").read())
    except Exception as e:
        print(path, type(e).__name__)
try:
    pids = [p for p in os.listdir("/proc") if p.isdigit()]
except Exception as e:
    pids = []
for path in ["$user_home/.ssh/id_ed25519", "$home/.ssh/id_rsa", "$home/.ssh/id_ed25519",
             "/etc/shadow", "/proc/$host_pid/environ", "/proc/$holder/environ",
             "/proc/1/environ"] + [f"/proc/{p}/environ" for p in pids]:
    show(path)
for d in ["$user_home/.ssh", "$home/.ssh", "$home"]:
    try: print(d, os.listdir(d))
    except Exception as e: print(d, type(e).__name__)
try:
    cat = ["cat", "$user_home/.ssh/id_ed25519", "/etc/shadow"]
    print(subprocess.run(cat, capture_output=True, timeout=1))
except Exception as e: print(type(e).__name__)
print("finished")
"""

_CONNECT = """
import socket, ctypes, struct, subprocess, sys
try:
    socket.create_connection(("127.0.0.1", $port), timeout=0.5); print("connected")
except Exception as e: print("socket", type(e).__name__, e)
try:  # straight to libc: no Python-level hook sees this
    libc = ctypes.CDLL(None, use_errno=True)
    fd = libc.socket(2, 1, 0)
    addr = struct.pack("=H", 2) + struct.pack("!H", $port) + bytes([127, 0, 0, 1]) + bytes(8)
    print("libc connect", libc.connect(fd, addr, 16), ctypes.get_errno())
except Exception as e: print("ctypes", type(e).__name__, e)
try:  # a fresh interpreter carries none of the sandbox's hooks
    code = ("import socket; socket.create_connection(('127.0.0.1', $port), timeout=0.5);"
            "print('child connected')")
    print(subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=1.0))
except Exception as e: print("subprocess", type(e).__name__, e)
print("finished")
"""


def _ran_to_the_end(r: ExecResult) -> bool:
    return r.error is None and r.stdout.endswith("finished\n")


CASES = [
    Case("infinite_loop", "while True:\n    pass", lambda r: r.timed_out),
    Case(
        "fork_loop",
        "import os, time\nfor i in range(500):\n    if os.fork() == 0:\n        time.sleep(1000)\n",
        lambda r: not r.timed_out and (r.error or "").startswith("BlockingIOError"),
    ),
    Case(
        "setsid_double_fork",
        "import os, time\nfor i in range(5):\n    if os.fork() == 0:\n        os.setsid()\n"
        "        if os.fork() == 0:\n            time.sleep(1000)\n        os._exit(0)\n"
        "print('parent done')",
        lambda r: r.stdout == "parent done\n",
    ),
    Case("allocate_8gb", "x = bytearray(8 * 2**30)", _error_starts("MemoryError")),
    Case("allocate_8gb_list", "x = [0] * (2**30)", _error_starts("MemoryError")),
    Case("recursion_bomb", "def f():\n    return f()\nf()", _error_starts("RecursionError")),
    Case(
        "recursion_bomb_unlimited",
        "import sys\nsys.setrecursionlimit(10**9)\ndef f(n):\n    return f(n + 1)\nf(0)",
        lambda r: r.error is not None,
    ),
    Case(
        "thread_bomb",
        "import threading, time\nfor i in range(10000):\n"
        "    threading.Thread(target=time.sleep, args=(1000,), daemon=True).start()",
        _error_starts("RuntimeError"),
    ),
    Case("files_in_home_and_tmp", _FILE_ATTACK, _ran_to_the_end),
    Case("read_secrets", _READ_SECRETS, _ran_to_the_end),
    Case("connect_to_localhost_listener", _CONNECT, _ran_to_the_end),
    Case(
        "print_100_mb",
        "import sys\nsys.stdout.write('x' * 100_000_000)",
        lambda r: r.truncated and r.stdout.startswith("x" * 8192) and len(r.stdout) < 8192 + 200,
    ),
    Case(
        "write_huge_file", "open('big', 'wb').write(bytes(1 << 30))", lambda r: r.error is not None
    ),
    Case(
        "os_exit",
        "import os\nos._exit(0)",
        _error_starts("SandboxError: the code ended its process"),
    ),
    Case("sys_exit", "import sys\nsys.exit(3)", lambda r: r.error == "SystemExit: 3"),
    Case("kill_parent", "import os\nos.kill(os.getppid(), 9)\nimport time\ntime.sleep(0.2)"),
    Case("kill_host", "import os\nos.kill($host_pid, 9)"),
    Case("kill_everything", "import os\nos.kill(-1, 9)"),
    Case(
        "kill_own_process_group",
        "import os, signal\nos.killpg(os.getpgrp(), signal.SIGKILL)",
        lambda r: r.error == "SandboxError: the process was killed by SIGKILL",
    ),
    Case("signal_pause", "import signal\nsignal.pause()", lambda r: r.timed_out),
    Case(
        "close_stdout", "import os, sys\nos.close(1)\nos.close(2)\nsys.stdout.close()\nprint('x')"
    ),
]


@pytest.fixture(scope="module", params=MODES, ids=lambda m: m.name)
def armed(
    request: pytest.FixtureRequest, secrets_in_environment: None
) -> Iterator[tuple[Mode, Sandbox, Bait]]:
    mode: Mode = request.param
    base = Path(f"/tmp/{MARK}-bait-{mode.name}")
    bait = make_bait(base, mode.owner_uid)
    try:
        box = start_sandbox(mode.config(timeout=TIMEOUT))
        jobs_dirs = [w.jobs_dir for w in box._workers if w.jobs_dir]
        yield mode, box, bait
        box.close()
        assert marked_processes() == [], "sandbox processes outlived close()"
        assert not any(os.path.exists(d) for d in jobs_dirs)
    finally:
        remove_bait(bait, base)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_contained(armed: tuple[Mode, Sandbox, Bait], case: Case) -> None:
    mode, box, bait = armed
    code = Template(case.code).substitute(
        port=bait.port,
        home=bait.home,
        user_home=bait.user_home,
        host_pid=os.getpid(),
        holder=bait.secret_holder.pid,
        mark=MARK,
    )
    started = time.monotonic()
    result = box.run([code], timeout=TIMEOUT)
    elapsed = time.monotonic() - started

    assert elapsed <= TIMEOUT + 2, f"returned after {elapsed:.2f} s"
    assert case.expect(result), f"[{mode.name}] unexpected result: {result}"
    assert marked_processes(exclude=worker_pids(box)) == [], "processes outlived the call"
    assert bait.changes() == []
    for text in (result.stdout, result.stderr, result.error or ""):
        assert SECRET not in text
    assert bait.secret_holder.poll() is None  # the code could not kill a process outside
    # The host survived and the pool still serves.
    os.kill(os.getpid(), 0)
    after = box.run(["print('still serving')"], timeout=TIMEOUT)
    assert (after.stdout, after.error) == ("still serving\n", None)


@pytest.mark.parametrize("mode", MODES, ids=lambda m: m.name)
def test_close_mid_execution_leaves_nothing(mode: Mode, secrets_in_environment: None) -> None:
    mark = f"{MARK}-close"  # the module's other sandboxes may still be running
    box = start_sandbox(mode.config(mark=mark, timeout=10.0))
    jobs_dirs = [w.jobs_dir for w in box._workers if w.jobs_dir]
    code = (
        "import os, time\nfor i in range(20):\n    if os.fork() == 0:\n        os.setsid()\n"
        "        time.sleep(1000)\nprint('forked', flush=True)\ntime.sleep(1000)"
    )
    results: list[ExecResult] = []
    runner = threading.Thread(target=lambda: results.append(box.run([code])))
    runner.start()
    time.sleep(0.5)
    started = time.monotonic()
    box.close()
    runner.join(timeout=5)
    assert not runner.is_alive()
    assert time.monotonic() - started < 5
    assert results and results[0].error is not None
    assert marked_processes(mark=mark) == [], "processes outlived close()"
    assert not any(os.path.exists(d) for d in jobs_dirs)
