"""Running a blocking iterator (a model's generator of segments or audio) off the event loop.

The iterator runs in its own thread and hands each item to the loop as soon as it exists, so the
first segment reaches the client while later ones are still being decoded. Closing stops the
thread before it asks the iterator for another item and waits until the model is no longer in
use, so the engine's concurrency slot is only freed once the CPU is.

With ``first_item_waits``, the thread pauses after the first item until the consumer asks for
the next one (at most 50 ms). Producers that run Python between items (a TTS front end
phonemizing the next sentence) otherwise hold the GIL just as the event loop needs it to send
the first item on, and the first audio leaves a millisecond or two later; later items are
ahead of real time anyway.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

T = TypeVar("T")

#: How long a ``first_item_waits`` thread gives the consumer to be done with the first item.
_FIRST_ITEM_WAIT_SECONDS = 0.05


class _End:
    pass


class _Failure:
    def __init__(self, error: BaseException) -> None:
        self.error = error


class ThreadedIterator(Generic[T]):
    """Async iteration over ``make()``, which is called and iterated in a dedicated thread."""

    def __init__(
        self, make: Callable[[], Iterator[T]], *, name: str, first_item_waits: bool = False
    ) -> None:
        self._make = make
        # Set when the consumer asks for the item after the first: it is done with the first.
        self._first_taken: threading.Event | None = threading.Event() if first_item_waits else None
        self._loop = asyncio.get_running_loop()
        self._items: asyncio.Queue[T | _End | _Failure] = asyncio.Queue()
        self._stop = threading.Event()
        self._finished: asyncio.Future[None] = self._loop.create_future()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._started = False
        self._exhausted = False

    def __aiter__(self) -> ThreadedIterator[T]:
        return self

    async def __anext__(self) -> T:
        if self._exhausted:
            raise StopAsyncIteration
        if not self._started:
            self._started = True
            self._thread.start()
        elif self._first_taken is not None:
            self._first_taken.set()
        item = await self._items.get()
        if isinstance(item, _End):
            self._exhausted = True
            raise StopAsyncIteration
        if isinstance(item, _Failure):
            self._exhausted = True
            raise item.error
        return item

    async def aclose(self) -> None:
        """Stop pulling items and wait for the thread to leave the iterator.

        A caller cancelled meanwhile (a client that hung up) still waits, then sees the
        cancellation: returning early would free the engine's slot while the model is busy, and
        the next request would run on a model that is not re-entrant. The wait is bounded by one
        item (the thread checks the stop flag between items)."""
        self._stop.set()
        self._exhausted = True
        if self._first_taken is not None:
            self._first_taken.set()
        if not self._started:
            return
        cancelled = False
        while not self._finished.done():
            try:
                await asyncio.shield(self._finished)
            except asyncio.CancelledError:
                cancelled = True
        if cancelled:
            raise asyncio.CancelledError

    # -- the worker thread -------------------------------------------------------------------

    def _run(self) -> None:
        try:
            iterator = self._make()
            try:
                while not self._stop.is_set():
                    try:
                        item = next(iterator)
                    except StopIteration:
                        break
                    self._hand(item)
                    if self._first_taken is not None and not self._first_taken.is_set():
                        self._first_taken.wait(_FIRST_ITEM_WAIT_SECONDS)
                        self._first_taken.set()  # waited once: later items go straight on
            finally:
                close = getattr(iterator, "close", None)
                if close is not None:
                    close()
        except BaseException as exc:  # handed to the consumer, which re-raises it
            self._hand(_Failure(exc))
        else:
            self._hand(_End())
        finally:
            self._call_in_loop(self._set_finished)

    def _hand(self, item: T | _End | _Failure) -> None:
        self._call_in_loop(self._items.put_nowait, item)

    def _set_finished(self) -> None:
        if not self._finished.done():
            self._finished.set_result(None)

    def _call_in_loop(self, fn: Callable[..., object], *args: object) -> None:
        # The loop may already be closed at shutdown; nobody is waiting then.
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(fn, *args)
