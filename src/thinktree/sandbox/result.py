"""``ExecResult``: what one execution of a trajectory's cells produced."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class ExecResult:
    """The outcome of ``Sandbox.run``.

    ``stdout``/``stderr`` are the last cell's only. ``error`` is
    ``"<ExcType>: <message>"`` (just ``"<ExcType>"`` for an empty message) for
    the last cell, or describes why the execution stopped early wherever that
    happened: ``TimeoutError: ...`` (then ``timed_out``), ``SandboxError: ...``
    when the process died or ended itself. ``failed_cell`` is the 0-based index
    of the cell ``error`` belongs to. Exceptions raised by earlier cells do not
    stop the execution (a step's error stays in the trajectory and a later step
    may repair it); they are listed in ``earlier_errors`` as ``(index, error)``.
    """

    stdout: str
    error: str | None
    timed_out: bool
    seconds: float
    stderr: str = ""
    truncated: bool = False
    failed_cell: int | None = None
    earlier_errors: tuple[tuple[int, str], ...] = ()

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["earlier_errors"] = [list(pair) for pair in self.earlier_errors]
        return data
