"""Training from search trees, by capability, one package each.

- :mod:`~thinktree.train.ppm`: preference pairs from trees and the process
  preference model trained on them;
- :mod:`~thinktree.train.sft`: supervised fine-tuning of the policy (LoRA) on
  trajectories, and the data it trains on;
- :mod:`~thinktree.train.export`: a trained adapter as llama.cpp serves it
  (GGUF adapter, merged model), its parity check, and shipping a round;
- :mod:`~thinktree.train.evolve`: ``thinktree evolve``, the self-evolution rounds
  that chain the three.

``ppm``, ``sft`` and ``export`` never import ``evolve``; ``ppm`` and ``sft`` do
not import each other (``tests/layout`` enforces both).
"""
