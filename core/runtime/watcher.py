"""Reload triggers: file changes (watchfiles, debounced) and SIGHUP."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import structlog
import watchfiles

from core.runtime.runtime import Runtime

log = structlog.get_logger(__name__)


async def watch_config_file(runtime: Runtime, debounce: float, stop: asyncio.Event) -> None:
    """Reload whenever the config file changes. Watches its folder, since editors often replace
    a file by renaming a new one over it."""
    path = runtime.config_path.resolve()

    def only_config(_change: watchfiles.Change, changed: str) -> bool:
        return Path(changed).name == path.name

    log.info("config.watching", file=str(path))
    async for _changes in watchfiles.awatch(
        path.parent,
        watch_filter=only_config,
        debounce=max(int(debounce * 1000), 1),
        step=50,
        stop_event=stop,
        recursive=False,
    ):
        if not path.exists():
            continue  # mid-rename; the next event brings the new file
        if not await _settled(path):
            log.warning("config.still_changing", file=str(path))
            continue  # the writer is not done; its next write brings another event
        await runtime.reload("file_change", force=False)


#: A file is read once its size and modification time stayed the same this long ...
_STABLE_FOR = 0.1
#: ... or given up on (for now) after this long.
_STABLE_WITHIN = 3.0


async def _settled(path: Path) -> bool:
    """Wait until ``path`` stops changing, so a file still being written is not read half-way."""
    loop = asyncio.get_running_loop()
    give_up = loop.time() + _STABLE_WITHIN
    last = _signature(path)
    while loop.time() < give_up:
        await asyncio.sleep(_STABLE_FOR)
        current = _signature(path)
        if current == last and current is not None:
            return True
        last = current
    return False


def _signature(path: Path) -> tuple[int, int] | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_size, stat.st_mtime_ns


def install_sighup(runtime: Runtime) -> None:
    """SIGHUP reloads the configuration, as daemons conventionally do."""
    loop = asyncio.get_running_loop()
    tasks: set[asyncio.Task[object]] = set()

    def on_hup() -> None:
        task = loop.create_task(runtime.reload("sighup"))
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    try:
        loop.add_signal_handler(signal.SIGHUP, on_hup)
    except (NotImplementedError, AttributeError, RuntimeError):  # Windows, or not main thread
        log.debug("config.sighup_unavailable")
