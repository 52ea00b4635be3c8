"""Running blocking model code (a generator of segments or audio, one batch call) off the loop.

The iterator runs in its own thread and hands each item to the loop as soon as it exists, so the
first segment reaches the client while later ones are still being decoded. Closing stops the
thread before it asks the iterator for another item.

A native call can hang (a stuck decoder, a model that never yields). The request must not hang
with it: when the engine runs inside an engine slot (the router's), closing returns at once and
hands the thread's completion to the slot (:func:`lingering_work`), which keeps the engine's
concurrency permit until the thread is really free. Outside a slot (a direct call in a script),
closing waits for the thread, so the model is never used by two callers at once.

With ``first_item_waits``, the thread pauses after the first item until the consumer asks for
the next one (at most 50 ms). Producers that run Python between items (a TTS front end
phonemizing the next sentence) otherwise hold the GIL just as the event loop needs it to send
the first item on, and the first audio leaves a millisecond or two later; later items are
ahead of real time anyway.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import threading
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from core.engines.worker_threads import shared_threads

T = TypeVar("T")

#: Set by an engine slot while it runs a request: work that outlives the request (a thread that
#: is still inside a native call when the request gives up) is added here, and the slot keeps
#: its permit until all of it is done.
_LINGERING: contextvars.ContextVar[list[asyncio.Future[None]] | None] = contextvars.ContextVar(
    "voxgate_lingering_work", default=None
)


@contextlib.contextmanager
def lingering_work() -> Iterator[list[asyncio.Future[None]]]:
    """Collect the work that outlives the code run inside (see the module notes)."""
    pending: list[asyncio.Future[None]] = []
    previous = _LINGERING.get()
    _LINGERING.set(pending)
    try:
        yield pending
    finally:
        # Restored only if still ours: streams of two slots may close in either order.
        if _LINGERING.get() is pending:
            _LINGERING.set(previous)


async def run_blocking(fn: Callable[[], T], *, name: str, stop: threading.Event | None = None) -> T:
    """``fn()`` in a thread of its own for the call. A caller that gives up (timeout, client gone)
    returns at once; ``stop`` is set so cooperative code can end early, and an enclosing engine
    slot keeps its permit until the thread is done. Not the loop's executor: a hung call must
    not take one of its few shared workers with it. The thread is a kept one when one is idle
    (see :mod:`core.engines.worker_threads`)."""
    loop = asyncio.get_running_loop()
    result: asyncio.Future[T] = loop.create_future()
    finished: asyncio.Future[None] = loop.create_future()
    holder = _LINGERING.get()

    def settle(value: T | None, error: BaseException | None) -> None:
        if not result.done():
            if error is not None:
                result.set_exception(error)
            else:
                result.set_result(value)  # type: ignore[arg-type]
        if not finished.done():
            finished.set_result(None)

    def work() -> None:
        try:
            value = fn()
        except BaseException as exc:  # handed to the caller, which re-raises it
            _call_in_loop(loop, settle, None, exc)
        else:
            _call_in_loop(loop, settle, value, None)

    shared_threads().submit(work, name)
    try:
        return await asyncio.shield(result)
    except asyncio.CancelledError:
        if stop is not None:
            stop.set()
        if not finished.done():
            # Nobody reads the result now; retrieve any exception so it is not reported.
            result.add_done_callback(_ignore_outcome)
            if holder is not None:
                holder.append(finished)
            else:
                await _wait_uncancellable(finished)
        raise


def _ignore_outcome(future: asyncio.Future[T]) -> None:
    if not future.cancelled():
        future.exception()


async def _wait_uncancellable(future: asyncio.Future[None]) -> None:
    """Wait for ``future`` even through cancellations, then re-raise the cancellation."""
    cancelled = False
    while not future.done():
        try:
            await asyncio.shield(future)
        except asyncio.CancelledError:
            cancelled = True
    if cancelled:
        raise asyncio.CancelledError


def _call_in_loop(
    loop: asyncio.AbstractEventLoop, fn: Callable[..., object], *args: object
) -> None:
    # The loop may already be closed at shutdown; nobody is waiting then.
    with contextlib.suppress(RuntimeError):
        loop.call_soon_threadsafe(fn, *args)


#: How long a ``first_item_waits`` thread gives the consumer to be done with the first item.
_FIRST_ITEM_WAIT_SECONDS = 0.05


class _End:
    pass


class _Failure:
    def __init__(self, error: BaseException) -> None:
        self.error = error


class ThreadedIterator(Generic[T]):
    """Async iteration over ``make()``, which is called and iterated in a thread of its own (a
    kept one when one is idle)."""

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
        self._name = name
        #: The engine slot's collection of lingering work, when created inside one.
        self._holder = _LINGERING.get()
        self._started = False
        self._exhausted = False
        #: The thread has handed its last item: it holds the model no more.
        self._thread_done = False

    def __aiter__(self) -> ThreadedIterator[T]:
        return self

    async def __anext__(self) -> T:
        if self._exhausted:
            raise StopAsyncIteration
        if not self._started:
            self._started = True
            shared_threads().submit(self._run, self._name)
        elif self._first_taken is not None:
            self._first_taken.set()
        item = await self._items.get()
        if isinstance(item, _End):
            self._exhausted = self._thread_done = True
            raise StopAsyncIteration
        if isinstance(item, _Failure):
            self._exhausted = self._thread_done = True
            raise item.error
        return item

    async def aclose(self) -> None:
        """Stop pulling items; the thread stops before it asks the iterator for another one.

        Inside an engine slot this returns at once and the slot keeps its permit until the
        thread has left the model (the current item may be a native call that takes long or
        hangs). Outside one it waits for the thread, and a caller cancelled meanwhile still
        waits, then sees the cancellation: the model is not re-entrant."""
        self._stop.set()
        self._exhausted = True
        if self._first_taken is not None:
            self._first_taken.set()
        if not self._started or self._thread_done or self._finished.done():
            return
        if self._holder is not None:
            self._holder.append(self._finished)
            return
        await _wait_uncancellable(self._finished)

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
        _call_in_loop(self._loop, fn, *args)
