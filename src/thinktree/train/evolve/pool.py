"""The evolve pool: the training problems each round searches, loaded once."""

from __future__ import annotations

from thinktree.problems import Problem, dataset_hash, load_source
from thinktree.train.evolve.config import PoolConfig


class Pool:
    """The pool source's problems (read on first use) and each round's slice of them."""

    def __init__(self, config: PoolConfig) -> None:
        self.config = config
        self._loaded: tuple[list[Problem], str, str] | None = None

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
        """Round ``index``'s problems; ValueError when the source has too few."""
        problems, _, _ = self.load()
        start, stop = self.config.bounds(index)
        chosen = problems[start:stop]
        if not chosen:
            raise ValueError(
                f"round {index} would search problems {start}..{stop} but the pool source has "
                f"{len(problems)}; lower pool.size or pool.grow"
            )
        return chosen
