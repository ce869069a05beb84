"""Two threads killing one sandbox worker, a race seen in CI (EBADF).

Unlike the hostile cells of ``test_adversarial.py``, which run under every mode
whether or not its layers fell back, this race exists only where a worker has a
supervisor process watched through a pidfd: the namespace layer. Where that
layer cannot be set up the test skips, saying so.
"""

from __future__ import annotations

import threading

import pytest

from tests.sandbox.conftest import MARK, MODES, start_sandbox


def test_two_threads_killing_one_worker_take_turns(monkeypatch: pytest.MonkeyPatch) -> None:
    """A pool closing while a run's thread kills the same worker: the second kill
    must not wait on the supervisor pidfd the first has closed (EBADF, seen in CI)."""
    import types

    from thinktree.sandbox import _process

    mode = next(m for m in MODES if m.namespaces)  # every MODES list has one
    box = start_sandbox(mode.config(mark=f"{MARK}-kill-race", timeout=10.0))
    worker = next((w for w in box._workers if w.supervisor_pidfd is not None), None)
    if worker is None:
        box.close()
        pytest.skip("the namespace layer fell back here: no supervisor pidfd, no race to test")
    other = threading.Thread(target=worker.kill)
    real_select = _process.select.select

    def select_while_another_thread_kills(*args: object) -> object:
        if other.ident is None:  # first wait on the pidfd: the other kill runs now
            other.start()
            other.join(0.5)
        return real_select(*args)

    monkeypatch.setattr(
        _process, "select", types.SimpleNamespace(select=select_while_another_thread_kills)
    )
    worker.kill()
    other.join(10)
    assert not other.is_alive() and worker.supervisor_pidfd is None
    box.close()
