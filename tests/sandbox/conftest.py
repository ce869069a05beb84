"""Fixtures for the sandbox suite: isolation modes, a marker to find stray processes,
canary files, secrets and a TCP listener the code must not reach."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import sysconfig
import uuid
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from thinktree.sandbox import Sandbox, SandboxConfig, SandboxFallbackWarning

MARK = f"tt-{uuid.uuid4().hex[:12]}"
SECRET = f"SECRET-{uuid.uuid4().hex}"
IS_ROOT = os.getuid() == 0
NOBODY = 65534


def _site_packages() -> str:
    paths = dict.fromkeys([sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]])
    return os.pathsep.join(paths)


def _python_usable_by(uid: int) -> str:
    """An interpreter of this Python version that ``uid`` can run with our packages.

    Ours may live where that uid cannot read (pyenv under /root), so look for
    the same version elsewhere. Never skip: no interpreter means a failing suite.
    """
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    for candidate in (
        sys.executable,
        f"/usr/bin/python{version}",
        f"/usr/local/bin/python{version}",
    ):
        if not os.path.exists(candidate):
            continue
        try:
            probe = subprocess.run(
                [candidate, "-c", "import numpy, sympy"],
                user=uid,
                group=uid,
                extra_groups=[],
                env={"PYTHONPATH": _site_packages(), "PATH": "/usr/bin:/bin"},
                cwd="/",
                capture_output=True,
                check=False,
            )
        except OSError:  # not executable by that uid
            continue
        if probe.returncode == 0:
            return candidate
    pytest.fail(
        f"no Python {version} that uid {uid} can run with numpy and sympy: "
        "cannot test the non-root path"
    )


@dataclass(frozen=True)
class Mode:
    """One way the sandbox can be set up: the default, or with layers switched off."""

    name: str
    user: int | None  # start the workers as this uid (the non-root path), None: as the host
    namespaces: bool
    landlock: bool
    seccomp: bool = True

    @property
    def code_uid(self) -> int:
        """Who the code runs as, i.e. whose files and processes are at risk."""
        if self.user is not None:
            return self.user
        return NOBODY if IS_ROOT else os.getuid()

    @property
    def owner_uid(self) -> int:
        """Whose secrets the code must not read: the user the workers run as."""
        return self.user if self.user is not None else os.getuid()

    def config(self, mark: str = MARK, **overrides: object) -> SandboxConfig:
        env = {"THINKTREE_TEST_MARK": mark}
        python = None
        if self.user is not None:
            python = _python_usable_by(self.user)
            env["PYTHONPATH"] = _site_packages()
        fields: dict = dict(
            workers=1,
            timeout=5.0,
            namespaces=self.namespaces,
            landlock=self.landlock,
            seccomp=self.seccomp,
            worker_user=self.user,
            python=python,
            env=env,
        )
        fields.update(overrides)
        return SandboxConfig(**fields)


if IS_ROOT:
    MODES = [
        Mode("root-namespaces", None, True, True),
        Mode("root-no-namespaces", None, False, True),
        Mode("nonroot-namespaces", NOBODY, True, True),
        Mode("nonroot-landlock-seccomp", NOBODY, False, True),
        Mode("nonroot-audit-hook-only", NOBODY, False, False, seccomp=False),
    ]
else:  # the suite itself runs unprivileged: its own uid is the non-root path
    MODES = [
        Mode("nonroot-namespaces", None, True, True),
        Mode("nonroot-landlock-seccomp", None, False, True),
        Mode("nonroot-audit-hook-only", None, False, False, seccomp=False),
    ]


def start_sandbox(config: SandboxConfig) -> Sandbox:
    box = Sandbox(config)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SandboxFallbackWarning)
        box.start()
    return box


def _nspid_is_one(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    for line in status.splitlines():
        if line.startswith("NSpid:"):
            return line.split()[-1] == "1" and len(line.split()) > 2
    return False


def _children(pid: int) -> set[int]:
    try:
        return {int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()}
    except OSError:
        return set()


def worker_pids(box: Sandbox) -> set[int]:
    """The workers' own processes: the outer one and, in namespace mode, its PID 1."""
    pids: set[int] = set()
    for worker in box._workers:
        if worker.proc is not None and worker.proc.poll() is None:
            pids.add(worker.proc.pid)
            pids |= {c for c in _children(worker.proc.pid) if _nspid_is_one(c)}
    return pids


def marked_processes(exclude: set[int] = frozenset(), mark: str = MARK) -> list[str]:
    """Live processes carrying this session's marker in their environment."""
    found = []
    needle = f"THINKTREE_TEST_MARK={mark}\0".encode()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) in exclude:
            continue
        try:
            environ = Path(f"/proc/{entry}/environ").read_bytes()
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        if needle in environ:
            found.append(f"{entry}: {cmdline.decode(errors='replace')}")
    return found


@dataclass
class Bait:
    """Things outside the sandbox the adversarial code goes after."""

    home: Path  # the host user's real $HOME
    user_home: Path  # a home owned by the uid the workers run as, with ~/.ssh
    canaries: dict[Path, tuple]  # path -> snapshot()
    listener: socket.socket
    port: int
    secret_holder: subprocess.Popen

    def changes(self) -> list[str]:
        problems = []
        for path, before in self.canaries.items():
            after = snapshot(path)
            if after != before:
                problems.append(f"{path} changed: {before} -> {after}")
        for directory in (self.home, self.user_home, Path("/tmp"), Path("/var/tmp")):
            problems += [f"{p} was created" for p in directory.glob(f"*{MARK}-evil*")]
        try:
            connection, _ = self.listener.accept()
        except BlockingIOError:
            pass
        else:
            connection.close()
            problems.append("the listener on 127.0.0.1 received a connection")
        return problems


def snapshot(path: Path) -> tuple | None:
    """Everything about a path the code could change; ``None`` if it is gone."""
    try:
        st = path.lstat()
    except FileNotFoundError:
        return None
    content = path.read_bytes() if path.is_file() else sorted(os.listdir(path))
    return (content, st.st_mode, st.st_uid, st.st_gid, st.st_mtime_ns, st.st_ino)


@pytest.fixture(scope="session")
def secrets_in_environment() -> Iterator[None]:
    """API keys in the host's environment before any sandbox starts."""
    names = ("OPENAI_API_KEY", "HF_TOKEN", "AWS_SECRET_ACCESS_KEY", "THINKTREE_TEST_SECRET")
    saved = {name: os.environ.get(name) for name in names}
    os.environ.update(dict.fromkeys(names, SECRET))
    yield
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


def make_bait(base: Path, owner: int) -> Bait:
    home = Path(os.path.expanduser("~"))
    user_home = base / "home"
    ssh = user_home / ".ssh"
    ssh.mkdir(parents=True)
    (ssh / "id_ed25519").write_text(f"-----BEGIN OPENSSH PRIVATE KEY----- {SECRET}\n")
    files = [
        home / f".{MARK}-canary",
        user_home / f"{MARK}-canary",
        Path("/tmp") / f"{MARK}-canary",
        Path("/tmp") / f"{MARK}-canary-owned",
    ]
    for path in files:
        path.write_text("canary")
    for path in (user_home, ssh, ssh / "id_ed25519", user_home / f"{MARK}-canary", files[-1]):
        os.chown(path, owner, owner)
    os.chmod(user_home, 0o755)
    os.chmod(ssh, 0o700)
    os.chmod(ssh / "id_ed25519", 0o600)
    base.chmod(0o755)
    canaries = {path: snapshot(path) for path in [*files, base, user_home, ssh, ssh / "id_ed25519"]}
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    listener.setblocking(False)
    holder = subprocess.Popen(
        ["sleep", "300"],
        env={"PATH": "/usr/bin:/bin", "THINKTREE_TEST_SECRET": SECRET},
        user=owner if IS_ROOT else None,
    )
    return Bait(home, user_home, canaries, listener, listener.getsockname()[1], holder)


def remove_bait(bait: Bait, base: Path) -> None:
    bait.listener.close()
    bait.secret_holder.kill()
    bait.secret_holder.wait()
    for path in bait.canaries:
        if path.is_file():
            path.unlink(missing_ok=True)
    shutil.rmtree(base, ignore_errors=True)
