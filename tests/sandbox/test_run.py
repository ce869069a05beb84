"""The sandbox's contract for well-behaved code: state, output, errors, determinism."""

from __future__ import annotations

import itertools
import os
import signal
import threading
import time
from collections.abc import Iterator

import pytest

from tests.sandbox.conftest import _children, _nspid_is_one, start_sandbox
from thinktree.sandbox import ExecResult, Sandbox, SandboxConfig, SandboxError


@pytest.fixture(scope="module")
def box() -> Iterator[Sandbox]:
    sandbox = start_sandbox(SandboxConfig(workers=2, timeout=5.0))
    yield sandbox
    sandbox.close()


def run(box: Sandbox, *cells: str) -> ExecResult:
    return box.run(list(cells), timeout=5.0)


# (cells, stdout, error): one line per behaviour, new bugs become new lines.
CASES = [
    (["x = 3", "print(x * 4)"], "12\n", None),
    (["print('a')", "print('b')"], "b\n", None),
    (["import sys; print('hidden', file=sys.stderr)", "print('shown')"], "shown\n", None),
    (["def f(n):\n    return n * n", "class A:\n    k = 2", "print(f(A.k))"], "4\n", None),
    (
        ["import sympy as sp", "x = sp.Symbol('x')", "print(sp.solve(x**2 - 4, x))"],
        "[-2, 2]\n",
        None,
    ),
    (
        ["import sympy as sp\nprint(sp.factorint(360), sp.Rational(1, 3) + sp.Rational(1, 6))"],
        "{2: 3, 3: 2, 5: 1} 1/2\n",
        None,
    ),
    (
        ["import numpy as np\nprint(round(float(np.linalg.det(np.array([[1, 2], [3, 4]]))), 6))"],
        "-2.0\n",
        None,
    ),
    (["from fractions import Fraction\nprint(Fraction(1, 3) + Fraction(1, 6))"], "1/2\n", None),
    (
        [
            "import itertools, math\n"
            "print(sum(1 for _ in itertools.permutations(range(4))), math.comb(5, 2))"
        ],
        "24 10\n",
        None,
    ),
    (["print(1 / 0)"], "", "ZeroDivisionError: division by zero"),
    (["d = {}", "d['a']"], "", "KeyError: 'a'"),
    (["print(y)"], "", "NameError: name 'y' is not defined"),
    (["x = = 1"], "", "SyntaxError: invalid syntax (<cell 1>, line 1)"),
    (["print('a'", "print(2)"], "2\n", None),
    (["raise MemoryError"], "", "MemoryError"),
    (
        ["class StepError(Exception):\n    pass\nraise StepError('bad step')"],
        "",
        "StepError: bad step",
    ),
    (
        ["print('partial')\nraise ValueError('after printing')"],
        "partial\n",
        "ValueError: after printing",
    ),
    (["import sys\nsys.exit()"], "", "SystemExit"),
    ([], "", None),
]


@pytest.mark.parametrize(("cells", "stdout", "error"), CASES)
def test_cells(box: Sandbox, cells: list[str], stdout: str, error: str | None) -> None:
    result = run(box, *cells)
    assert (result.stdout, result.error) == (stdout, error)
    assert not result.timed_out and not result.truncated


def test_failed_cell_index(box: Sandbox) -> None:
    assert run(box, "x = 1", "1 / 0").failed_cell == 1
    assert run(box, "x = 1", "print(x)").failed_cell is None


def test_earlier_error_is_reported_and_does_not_stop_the_trajectory(box: Sandbox) -> None:
    result = run(box, "y = 1 / 0", "print('repaired')")
    assert (result.stdout, result.error) == ("repaired\n", None)
    assert result.earlier_errors == ((0, "ZeroDivisionError: division by zero"),)

    broken = run(box, "y = 1 / 0", "print(y)")
    assert broken.error == "NameError: name 'y' is not defined"
    assert broken.earlier_errors == ((0, "ZeroDivisionError: division by zero"),)


def test_timeout_in_an_earlier_cell_stops_everything(box: Sandbox) -> None:
    result = box.run(["while True:\n    pass", "print('never')"], timeout=0.5)
    assert result.timed_out and result.failed_cell == 0 and result.stdout == ""
    assert result.error == "TimeoutError: the code ran longer than the 0.5 s time limit"


def test_output_is_capped_with_a_marker(box: Sandbox) -> None:
    result = run(box, "print('x' * 10_000)")
    assert result.truncated
    assert result.stdout == "x" * 8192 + "\n[output truncated: 10001 bytes, first 8192 shown]"


def test_stderr_of_the_last_cell_is_kept(box: Sandbox) -> None:
    result = run(box, "import sys\nprint('warn', file=sys.stderr)\nprint('out')")
    assert (result.stdout, result.stderr) == ("out\n", "warn\n")


def test_random_is_seeded_identically_on_every_execution(box: Sandbox) -> None:
    cells = [
        "import random, numpy as np, sympy",
        "a = random.random()\nprint('earlier output is discarded', a)",
        "b = (random.randint(0, 10**9), float(np.random.rand()), sympy.randprime(10**6, 10**7))",
        "print(a, b, list({'apple', 'pear', 'fig', 'kiwi'}))",
    ]
    first = box.run(cells)
    batch = box.run_batch([cells] * 4)  # across both workers
    assert first.error is None
    assert {r.stdout for r in batch} == {first.stdout}
    assert first.stdout.startswith("0.8444218515250481 ")  # random.seed(0)


def test_each_execution_gets_a_fresh_private_directory(box: Sandbox) -> None:
    first = run(
        box,
        "import os\nopen('notes.txt', 'w').write('1')\n"
        "print(os.listdir('.'), os.getcwd() == os.environ['HOME'])",
    )
    assert first.stdout == "['notes.txt'] True\n"
    assert run(box, "import os\nprint(os.listdir('.'))").stdout == "[]\n"


def test_environment_is_scrubbed(box: Sandbox) -> None:
    shown = run(box, "import os\nprint(sorted(os.environ))").stdout
    assert "OPENBLAS_NUM_THREADS" in shown and "PYTHONHASHSEED" in shown
    assert not {"USER", "SSH_AUTH_SOCK", "VIRTUAL_ENV", "OPENAI_API_KEY"} & set(eval(shown))


def test_run_batch_keeps_order_and_uses_every_worker(box: Sandbox) -> None:
    # Each trajectory prints when its sleep began and ended; on two workers some
    # two of the four spans overlap, which one worker running them in a row can't do.
    trajectories = [
        ["import time", f"began = time.time()\ntime.sleep(1)\nprint({i}, began, time.time())"]
        for i in range(4)
    ]
    results = box.run_batch(trajectories)
    rows = [r.stdout.split() for r in results]
    assert [row[0] for row in rows] == ["0", "1", "2", "3"]
    spans = [(float(row[1]), float(row[2])) for row in rows]
    assert any(a[0] < b[1] and b[0] < a[1] for a, b in itertools.combinations(spans, 2))
    assert box.run_batch([]) == []


def test_run_is_thread_safe(box: Sandbox) -> None:
    results: dict[int, str] = {}

    def call(i: int) -> None:
        results[i] = box.run([f"v = {i}", "print(v * 2)"]).stdout

    threads = [threading.Thread(target=call, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == {i: f"{i * 2}\n" for i in range(8)}


def test_bad_arguments_are_programming_errors(box: Sandbox) -> None:
    with pytest.raises(TypeError):
        box.run("print(1)")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        box.run([b"print(1)"])  # type: ignore[list-item]
    with pytest.raises(ValueError):
        box.run(["print(1)"], timeout=0)


def test_config_is_validated() -> None:
    with pytest.raises(ValueError, match="workers"):
        SandboxConfig(workers=0)
    with pytest.raises(ValueError, match="timeout"):
        SandboxConfig(timeout=float("inf"))
    assert SandboxConfig(timeout=2.5).cpu_limit(2.5) == 4
    assert SandboxConfig(cpu_seconds=7).cpu_limit(2.5) == 7


def test_result_to_dict() -> None:
    result = ExecResult(
        stdout="1\n", error=None, timed_out=False, seconds=0.01, earlier_errors=((0, "E"),)
    )
    assert result.ok
    assert result.to_dict() == {
        "stdout": "1\n",
        "error": None,
        "timed_out": False,
        "seconds": 0.01,
        "stderr": "",
        "truncated": False,
        "failed_cell": None,
        "earlier_errors": [[0, "E"]],
    }


def test_cpu_time_limit_is_reported_as_a_timeout() -> None:
    with Sandbox(SandboxConfig(workers=1, cpu_seconds=1, preload=())) as sandbox:
        result = sandbox.run(["while True:\n    pass"], timeout=5.0)
    assert result.timed_out
    assert result.error == "TimeoutError: the code used more than 1 s of CPU time"


def test_a_crashed_worker_is_replaced() -> None:
    with Sandbox(SandboxConfig(workers=1, preload=())) as sandbox:
        os.killpg(sandbox._workers[0].proc.pid, signal.SIGKILL)  # type: ignore[union-attr]
        assert sandbox.run(["print('back')"]).stdout == "back\n"


def test_a_hung_worker_is_killed_and_replaced() -> None:
    with Sandbox(SandboxConfig(workers=1, preload=())) as sandbox:
        outer = sandbox._workers[0].proc.pid  # type: ignore[union-attr]
        frozen = [pid for pid in _children(outer) if _nspid_is_one(pid)] or [outer]
        os.kill(frozen[0], signal.SIGSTOP)
        started = time.monotonic()
        result = sandbox.run(["print(1)"], timeout=0.5)
        assert time.monotonic() - started < 0.5 + 2
        assert result.timed_out
        assert sandbox.run(["print('back')"]).stdout == "back\n"


def test_works_when_the_host_runs_other_threads() -> None:
    stop = threading.Event()
    spinners = [
        threading.Thread(target=lambda: [None for _ in iter(stop.is_set, True)]) for _ in range(4)
    ]
    for spinner in spinners:
        spinner.start()
    try:
        with Sandbox(SandboxConfig(workers=2, preload=())) as sandbox:
            assert [r.stdout for r in sandbox.run_batch([["print(7)"]] * 4)] == ["7\n"] * 4
    finally:
        stop.set()
        for spinner in spinners:
            spinner.join()


def test_close_stops_every_worker() -> None:
    sandbox = Sandbox(SandboxConfig(workers=2, preload=()))
    sandbox.start()
    pids = [w.proc.pid for w in sandbox._workers]  # type: ignore[union-attr]
    jobs_dirs = [w.jobs_dir for w in sandbox._workers]
    sandbox.close()
    sandbox.close()  # idempotent
    for pid in pids:
        assert not os.path.exists(f"/proc/{pid}")
    assert not any(os.path.exists(d) for d in jobs_dirs if d)
    with pytest.raises(SandboxError):
        sandbox.run(["print(1)"])


def test_layers_are_reported(box: Sandbox) -> None:
    assert set(box.layers) >= {
        "namespaces",
        "filesystem",
        "identity",
        "landlock",
        "network",
        "cleanup",
    }


@pytest.mark.parametrize(
    ("code", "error"),
    [
        (
            "import os, signal\nos.kill(os.getpid(), signal.SIGRTMIN + 3)",
            "SandboxError: the process was killed by signal 37",
        ),
        (
            "import os, signal\nos.kill(os.getpid(), signal.SIGSEGV)",
            "SandboxError: the process was killed by SIGSEGV",
        ),
    ],
)
def test_death_by_signal_is_reported(box: Sandbox, code: str, error: str) -> None:
    assert run(box, code).error == error


def test_forged_result_frames_cannot_break_the_worker(box: Sandbox) -> None:
    """The code can write to the result pipe; what it writes there is its own result only."""
    forged = {"done": True, "error": "x" * 5000, "earlier_errors": [[1, 2, 3], "junk", [0, "E"]]}
    forge = (
        "import os, json, struct\n"
        f"body = json.dumps({forged!r}).encode()\n"
        "for fd in range(3, 20):\n"
        "    try:\n"
        "        os.write(fd, struct.pack('>I', len(body)) + body)\n"
        "    except OSError:\n"
        "        pass\n"
        "os._exit(0)\n"
    )
    result = run(box, forge)
    assert (result.error, result.earlier_errors) == ("x" * 1000, ((0, "E"),))
    assert run(box, "print('fine')").stdout == "fine\n"
