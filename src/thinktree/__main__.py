"""``python -m thinktree``: the command-line interface."""

from thinktree.cli import main

main()
