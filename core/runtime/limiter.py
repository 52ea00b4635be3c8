"""A first-come-first-served concurrency limit that can change while requests wait or run.

asyncio.Semaphore cannot be resized, so a reload that changes ``max_concurrency`` used to take
effect only when the engine happened to be idle. Here a new limit applies at once: raising it
lets waiters in, lowering it lets running requests finish and admits nobody until the count is
under the new limit.
"""

from __future__ import annotations

import asyncio
import collections


class Limiter:
    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self._limit = limit
        self._held = 0
        self._waiters: collections.deque[asyncio.Future[None]] = collections.deque()

    @property
    def limit(self) -> int:
        return self._limit

    @property
    def held(self) -> int:
        return self._held

    @property
    def waiting(self) -> int:
        return sum(1 for f in self._waiters if not f.done())

    def locked(self) -> bool:
        """True when a new request would have to wait."""
        return self._held >= self._limit or any(not f.done() for f in self._waiters)

    async def acquire(self) -> None:
        if not self.locked():
            self._held += 1
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                # Granted just as the caller gave up: pass the permit on.
                self.release()
            else:
                waiter.cancel()
            raise
        finally:
            # Drop the finished waiter so the queue does not grow with abandoned entries.
            if waiter in self._waiters:
                self._waiters.remove(waiter)

    def release(self) -> None:
        if self._held <= 0:
            raise RuntimeError("release() without a matching acquire()")
        self._held -= 1
        self._wake()

    def set_limit(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self._limit = limit
        self._wake()

    def _wake(self) -> None:
        while self._held < self._limit and self._waiters:
            waiter = self._waiters.popleft()
            if waiter.done():
                continue
            self._held += 1
            waiter.set_result(None)
