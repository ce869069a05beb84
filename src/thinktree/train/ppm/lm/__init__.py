"""The LM PPM: the policy's base model with a LoRA, trained to answer " yes" or " no"
after a partial solution (:mod:`thinktree.reward.lm_format`).

- :mod:`.config`: its settings (``thinktree ppm train --kind lm``'s ``--lm-*`` options);
- :mod:`.tokens`: a pair as ids, with the shared prefix and truncation;
- :mod:`.scoring`: the score and the loss from one forward pass over a pair;
- :mod:`.checkpoint`: checkpoints and the rules for resuming;
- :mod:`.checkpoint_export`: a checkpoint as one file that travels to another machine;
- :mod:`.training`: the training loop and the held-out figures;
- :mod:`.output`: the directory written, read by the llama.cpp scorer;
- :mod:`.round`: an evolve round's PPM as an LM PPM (``ppm_kind: lm``).
"""
