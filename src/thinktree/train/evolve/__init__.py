"""``thinktree evolve``: self-evolution rounds (rStar-Math's loop, scaled to a CPU).

Its config, the round ledger, the stages of a round and the loop that runs them,
and the summary. Code outside train reads an evolve directory through
:func:`thinktree.train.evolve.results.read_results` only.
"""
