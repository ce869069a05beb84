"""Admission: at most ``concurrency`` solves at once, at most ``queue`` waiting.

A request that finds every slot taken and the queue full is refused at once
(:class:`Busy`, answered 429). A waiting request whose client disconnects leaves
the queue. A slot is released by whoever holds it when its solve's worker thread
ends (:meth:`Gate.release`), not when the request ends: a client that goes away
mid-solve stops the search, and its slot frees once the round in flight is done,
so the engine is never asked for more than ``concurrency`` solves.

Lives on the event loop; not thread-safe (release from a thread through
``loop.call_soon_threadsafe``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable


class Busy(Exception):
    """Every slot is taken and the queue is full."""


class Gate:
    def __init__(self, concurrency: int, queue: int) -> None:
        self.concurrency = concurrency
        self.queue = queue
        self.running = 0
        self.waiting = 0
        self._slots: asyncio.Semaphore | None = None

    def _semaphore(self) -> asyncio.Semaphore:
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.concurrency)
        return self._slots

    async def acquire(self, gone: Callable[[], Awaitable[bool]], poll: float = 0.05) -> bool:
        """Take a slot; False if ``gone()`` turned true while waiting. Raises :class:`Busy`."""
        slots = self._semaphore()
        if slots.locked() and self.waiting >= self.queue:
            raise Busy(f"all {self.concurrency} slots are busy and {self.waiting} requests wait")
        self.waiting += 1
        task = asyncio.ensure_future(slots.acquire())
        acquired = False
        try:
            while not acquired:
                done, _ = await asyncio.wait({task}, timeout=poll)
                acquired = bool(done)
                if not acquired and await gone():
                    return False
        finally:
            self.waiting -= 1
            if not acquired:
                task.cancel()
                # The wait may have taken the slot just before it was abandoned.
                if task.done() and not task.cancelled():
                    slots.release()
        self.running += 1
        return True

    def release(self) -> None:
        self.running -= 1
        self._semaphore().release()
