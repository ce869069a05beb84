"""An evolve pool: the training problems each round searches, loaded once."""

from __future__ import annotations

from thinktree.problems import Problem, dataset_hash, load_source
from thinktree.train.evolve.config import PoolConfig
from thinktree.train.evolve.stage_names import pool_search


class Pool:
    """The pool source's problems (read on first use), each round's slice of them and
    the dev slice; ``index`` is the pool's place in the config's ``pools``."""

    def __init__(self, config: PoolConfig, index: int = 0) -> None:
        self.config = config
        self.index = index
        self._loaded: tuple[list[Problem], str, str] | None = None

    @property
    def label(self) -> str:
        return self.config.label

    @property
    def search_stage(self) -> str:
        """The name of the pool's search stage in a round's ledger."""
        return pool_search(self.index, self.label)

    def load(self) -> tuple[list[Problem], str, str]:
        """(every problem of the pool source, dataset name, dataset hash)."""
        if self._loaded is None:
            p = self.config
            problems, name = load_source(
                p.benchmark if p.data is None else None,
                p.split if p.data is None else None,
                p.data,
                p.question_field,
                p.answer_field,
                p.id_field,
            )
            self._loaded = (problems, name, dataset_hash(problems))
        return self._loaded

    def problems(self, index: int) -> list[Problem]:
        """Round ``index``'s problems (fewer where the source ends); ValueError when the
        source has none of them."""
        start, stop = self.config.bounds(index)
        return self._slice(start, stop, f"round {index} would search", "lower its size or grow")

    def dev_problems(self) -> list[Problem]:
        """The pool's dev slice (none without one); ValueError when the source has none
        of its problems."""
        dev = self.config.dev
        if dev is None:
            return []
        return self._slice(dev.offset, dev.stop, "its dev slice takes", "move its dev slice")

    def _slice(self, start: int, stop: int, what: str, remedy: str) -> list[Problem]:
        problems, _, _ = self.load()
        chosen = problems[start:stop]
        if not chosen:
            raise ValueError(
                f"{what} problems {start}..{stop} of pool {self.label!r} but its source has "
                f"{len(problems)}; {remedy}"
            )
        return chosen
