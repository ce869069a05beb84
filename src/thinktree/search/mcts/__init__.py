"""Monte Carlo Tree Search over code-augmented steps."""

from thinktree.search.mcts.search import MCTSSearch
from thinktree.search.mcts.tree import Node, check_invariants, deserialize, serialize

__all__ = ["MCTSSearch", "Node", "check_invariants", "deserialize", "serialize"]
