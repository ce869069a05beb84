"""Per-request seeds that do not depend on the order requests arrive in."""

from __future__ import annotations

import hashlib


def derive_seed(run_seed: int, problem_id: str, *path: int | str) -> int:
    """A 31-bit seed from (run seed, problem, node id, child index, ...)."""
    key = "\x1f".join([str(run_seed), problem_id, *map(str, path)]).encode()
    return int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "big") & 0x7FFFFFFF
