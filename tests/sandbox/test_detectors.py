"""The adversarial suite's detectors catch what they claim to, so a pass means something."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path

from tests.sandbox.conftest import MARK, make_bait, marked_processes, remove_bait


def test_marked_processes_finds_a_stray_process() -> None:
    stray = subprocess.Popen(["sleep", "30"], env={"THINKTREE_TEST_MARK": MARK})
    try:
        # Popen returns once the child is forked; until it execs, /proc shows the
        # parent's environment, without the mark. Wait for the exec, not for time.
        deadline = time.monotonic() + 10
        while b"sleep" not in Path(f"/proc/{stray.pid}/cmdline").read_bytes():
            assert time.monotonic() < deadline, "the stray process never exec'd"
            time.sleep(0.01)
        assert any(line.startswith(f"{stray.pid}:") for line in marked_processes())
        assert marked_processes(exclude={stray.pid}) == []
    finally:
        stray.kill()
        stray.wait()


def test_bait_notices_every_kind_of_change() -> None:
    base = Path(f"/tmp/{MARK}-bait-selftest")
    bait = make_bait(base, os.getuid())
    try:
        assert bait.changes() == []
        canary = bait.user_home / f"{MARK}-canary"
        os.chmod(canary, 0o777)
        (bait.home / f".{MARK}-canary").unlink()
        (Path("/tmp") / f"{MARK}-evil").write_text("x")
        with socket.create_connection(("127.0.0.1", bait.port), timeout=1):
            pass
        problems = bait.changes()
        assert any(str(canary) in p for p in problems)
        assert any(f".{MARK}-canary" in p for p in problems)
        assert any(f"{MARK}-evil was created" in p for p in problems)
        assert any("received a connection" in p for p in problems)
    finally:
        (Path("/tmp") / f"{MARK}-evil").unlink(missing_ok=True)
        remove_bait(bait, base)
