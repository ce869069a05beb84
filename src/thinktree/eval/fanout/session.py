"""Importing Ray (an extra) and joining or starting a cluster for one fan-out."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType

INSTALL_HINT = "pip install 'thinktree[ray]'"


class RayUnavailableError(ValueError):
    """Ray is not installed, or the cluster cannot be reached (a user error: one line)."""


def import_ray() -> ModuleType:
    """The ``ray`` module, or :class:`RayUnavailableError` saying how to install it."""
    try:
        import ray
    except ImportError as exc:
        raise RayUnavailableError(
            f"--ray needs Ray, which is not installed: {INSTALL_HINT}"
        ) from exc
    return ray


@contextmanager
def ray_session(address: str, *, verbose: bool = False) -> Iterator[ModuleType]:
    """Ray, connected for the duration of the block.

    ``auto`` joins the cluster this machine belongs to (``RAY_ADDRESS``, or the
    last ``ray start`` here) and otherwise starts a local instance, which ends
    with the block; any other value is a cluster address. A Ray the caller already
    initialised (a script, a test) is used as it is and left running.
    """
    ray = import_ray()
    if ray.is_initialized():
        yield ray
        return
    try:
        ray.init(
            address=None if address == "auto" else address,
            include_dashboard=False,
            log_to_driver=verbose,
            logging_level=logging.INFO if verbose else logging.ERROR,
        )
    except (ConnectionError, RuntimeError, ValueError) as exc:
        detail = " ".join(str(exc).split())[:300]
        raise RayUnavailableError(f"cannot join the Ray cluster at {address}: {detail}") from exc
    try:
        yield ray
    finally:
        ray.shutdown()
