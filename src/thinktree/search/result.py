"""What every strategy returns for one problem."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from thinktree.steps import Step


@dataclass
class Trajectory:
    steps: list[Step]
    answer: str | None = None
    value: float | None = None
    """The strategy's value of this trajectory (PPM score, Q-value, vote share)."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "steps": [s.to_dict() for s in self.steps],
            "answer": self.answer,
            "value": self.value,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Trajectory:
        return cls(
            [Step.from_dict(s) for s in data["steps"]], data.get("answer"), data.get("value")
        )


@dataclass
class Usage:
    """Compute spent on one problem."""

    generated_tokens: int = 0
    prompt_tokens: int = 0
    cached_tokens: int = 0
    request_prompt_tokens: int = 0
    """Prompt tokens counted once per request (siblings share one prompt): evaluated..."""
    request_cached_tokens: int = 0
    """...and reused from the prefix cache."""
    engine_calls: int = 0
    prompt_seconds: float = 0.0
    """Server time evaluating prompts (slot time; concurrent requests overlap)."""
    engine_seconds: float = 0.0
    exec_seconds: float = 0.0
    score_seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class SolveResult:
    problem_id: str
    strategy: str
    answer: str | None
    trajectories: list[Trajectory]
    usage: Usage
    seconds: float
    stop_reason: str
    """Why the search stopped: "done", "max_tokens", "max_seconds", "max_samples",
    "exhausted" (an MCTS tree with nothing left to explore) or "settled" (its answers
    settled early, ``SearchConfig.settle``)."""
    sample_answers: list[str | None] = field(default_factory=list)
    """Answer of each independent sample, for pass@k and maj@k."""
    votes: dict[str, float] = field(default_factory=dict)
    tree: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def best(self) -> Trajectory | None:
        for trajectory in self.trajectories:
            if trajectory.answer == self.answer:
                return trajectory
        return self.trajectories[0] if self.trajectories else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "problem_id": self.problem_id,
            "strategy": self.strategy,
            "answer": self.answer,
            "trajectories": [t.to_dict() for t in self.trajectories],
            "usage": self.usage.to_dict(),
            "seconds": round(self.seconds, 3),
            "stop_reason": self.stop_reason,
            "sample_answers": self.sample_answers,
            "votes": self.votes,
            "tree": self.tree,
            "extra": self.extra,
        }
