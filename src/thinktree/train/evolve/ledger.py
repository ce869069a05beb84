"""A round's manifest, which is also its ledger of finished stages.

``OUT/round-N/manifest.json`` holds the round's number and parent, the whole
evolve config, the policy's base model sha256, the hashes of the data the
round trained on, and one entry per finished stage with its figures. A stage
is done when its entry is written, and it is written (atomically: a temporary
file, then a rename) only after the stage's artifacts are complete, so a kill
anywhere leaves either a finished stage or one that is redone.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from thinktree.train.rounds import MANIFEST_FILE


@dataclass
class RoundLedger:
    path: Path
    data: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def open(cls, directory: Path, round_index: int, base: dict[str, Any]) -> RoundLedger:
        """The round's ledger, created with ``base`` fields if it does not exist."""
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / MANIFEST_FILE
        if path.is_file():
            try:
                data = json.loads(path.read_text())
            except ValueError as exc:
                raise ValueError(f"{path} is damaged ({exc}); delete it to redo the round") from exc
            return cls(path, data)
        ledger = cls(path, {"round": round_index, **base, "stages": {}, "data": {}})
        ledger.save()
        return ledger

    @classmethod
    def read(cls, directory: Path, round_index: int) -> RoundLedger | None:
        """The round's ledger as stored; None when the round has not begun."""
        if not (directory / MANIFEST_FILE).is_file():
            return None
        return cls.open(directory, round_index, {})

    @property
    def directory(self) -> Path:
        """The round's directory (where its artifacts are)."""
        return self.path.parent

    def done(self, stage: str) -> bool:
        return stage in self.data["stages"]

    def figures(self, stage: str) -> dict[str, Any]:
        return dict(self.data["stages"].get(stage, {}))

    def finish(self, stage: str, figures: dict[str, Any]) -> dict[str, Any]:
        self.data["stages"][stage] = {**figures, "finished": time.time()}
        self.save()
        return figures

    def record_data(self, name: str, value: Any) -> None:
        self.data["data"][name] = value
        self.save()

    def save(self) -> None:
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps(self.data, indent=2, sort_keys=True) + "\n")
        tmp.replace(self.path)
