"""The one name of an evolve round directory that more than one train package reads.

``OUT/round-N/manifest.json`` is written by the round ledger
(:mod:`thinktree.train.evolve.ledger`) and read by shipping
(:mod:`thinktree.train.export.ship`), which must not depend on the evolve loop.
"""

MANIFEST_FILE = "manifest.json"
