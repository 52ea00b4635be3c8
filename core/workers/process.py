"""One running worker process, seen from the daemon: spawn, requests, pings, exit.

Requests are multiplexed over one socket by id. A call waits for its ``result``; a stream reads
``item`` messages until ``end``. When the process dies, every request still waiting fails with
:class:`WorkerDied` (an ``EngineUnavailable``, so the router falls back to the next engine).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import signal
import socket
import sys
import time
from collections import deque
from collections.abc import AsyncGenerator, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog

from core.engines.errors import EngineError, EngineUnavailable, InvalidRequest, Unsupported
from core.workers import protocol
from core.workers.protocol import Message

log = structlog.get_logger(__name__)

CHILD_SCRIPT = Path(__file__).resolve().with_name("child.py")
STDERR_LINES = 40


class WorkerDied(EngineUnavailable):
    """The worker process exited (or was killed) while a request was waiting on it."""


#: What a worker takes from the daemon's environment: where things are, the locale, proxies and
#: certificates, and the settings of the numeric and model libraries it runs. Never the daemon's
#: API keys, control token or cloud credentials: a model's code has no use for them.
_PASSED = frozenset(
    {
        "PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LANGUAGE", "TZ", "TERM",
        "TMPDIR", "TEMP", "TMP", "SYSTEMROOT", "LD_LIBRARY_PATH", "DYLD_LIBRARY_PATH",
        "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE",
        "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy",
        "VOXGATE_DATA_DIR", "VOXGATE_MODELS_DIR",
    }
)  # fmt: skip
_PASSED_PREFIXES = (
    "LC_", "XDG_", "HF_", "HUGGINGFACE_", "TRANSFORMERS_", "TORCH", "PYTORCH_", "OMP_",
    "MKL_", "OPENBLAS_", "KMP_", "CUDA_", "NVIDIA_", "HIP_", "ROCM_", "QWEN_TTS_",
)  # fmt: skip
_SECRET_WORDS = ("TOKEN", "KEY", "SECRET", "PASSWORD", "CREDENTIAL")


def worker_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """The part of the daemon's environment a worker process gets."""
    kept = {}
    for name, value in environ.items():
        if name not in _PASSED and not name.startswith(_PASSED_PREFIXES):
            continue
        if any(word in name.upper() for word in _SECRET_WORDS):
            continue
        kept[name] = value
    return kept


@dataclass(frozen=True)
class WorkerCommand:
    """How to start a worker: which interpreter runs which handler."""

    #: A label for logs and status (usually the engine name).
    name: str
    #: The Python interpreter of the worker's environment.
    python: Path
    #: ``/path/to/file.py:factory`` building the handler inside the worker.
    handler: str
    #: Extra environment variables for the worker (the daemon's own environment is inherited).
    env: Mapping[str, str] = field(default_factory=dict)


def error_from(message: Message) -> EngineError:
    """Turn a worker's ``error`` message into the engine error the router understands."""
    kind = message.header.get("kind")
    text = str(message.header.get("message") or "worker error")
    if kind == "invalid_request":
        return InvalidRequest(text, param=message.header.get("param"))
    if kind == "unsupported":
        return Unsupported(text)
    return EngineUnavailable(text)


class WorkerProcess:
    def __init__(
        self, command: WorkerCommand, on_exit: Callable[[WorkerProcess], None] | None = None
    ) -> None:
        self.command = command
        self.pid: int | None = None
        self.returncode: int | None = None
        self.hello: dict[str, Any] = {}
        self.started_at: float | None = None
        #: Why the daemon ended the process, when it did ("hung", "stalled", "stopped").
        self.kill_reason: str | None = None
        self.stderr_tail: deque[str] = deque(maxlen=STDERR_LINES)
        self._on_exit = on_exit
        self._process: asyncio.subprocess.Process | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._ids = itertools.count(1)
        self._calls: dict[int, asyncio.Future[Message]] = {}
        self._streams: dict[int, asyncio.Queue[Message | None]] = {}
        self._pings: dict[int, asyncio.Future[Message]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._reader: asyncio.Task[None] | None = None
        self._exited = asyncio.Event()
        self._dead = False

    @property
    def alive(self) -> bool:
        """Running and not being ended by the daemon."""
        return self._process is not None and not self._dead and self.kill_reason is None

    def describe_exit(self) -> str:
        if self.kill_reason:
            return f"ended by the daemon ({self.kill_reason})"
        code = self.returncode
        if code is None:
            return "running"
        if code < 0:
            return f"killed by signal {-code}"
        return f"exited with code {code}"

    # -- start and stop ----------------------------------------------------------------------

    async def start(self, timeout: float = 60.0) -> None:
        """Spawn the process and wait for its hello; raises EngineUnavailable if it fails."""
        python = self.command.python
        if not await asyncio.to_thread(Path(python).exists):
            raise EngineUnavailable(f"worker interpreter {python} does not exist")
        parent_sock, child_sock = socket.socketpair()
        env = {**worker_environment(os.environ), **self.command.env}
        try:
            self._process = await asyncio.create_subprocess_exec(
                str(python),
                "-E",  # the daemon's PYTHONPATH and friends must not leak into the worker
                "-s",
                "-u",  # unbuffered: a crash report reaches the log before the process is gone
                str(CHILD_SCRIPT),
                "--fd",
                str(child_sock.fileno()),
                "--handler",
                self.command.handler,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
                pass_fds=(child_sock.fileno(),),
                env=env,
                # Its own process group: a Ctrl-C in the daemon's terminal is the daemon's to
                # handle; workers are ended by the daemon.
                start_new_session=sys.platform != "win32",
            )
        except OSError as exc:
            parent_sock.close()
            raise EngineUnavailable(f"cannot start worker with {python}: {exc}") from exc
        finally:
            child_sock.close()
        self.pid = self._process.pid
        reader, self._writer = await asyncio.open_connection(sock=parent_sock)
        self._tasks.append(asyncio.create_task(self._read_stderr(), name=f"worker-err:{self.pid}"))
        try:
            hello = await asyncio.wait_for(protocol.read_message_async(reader), timeout)
        except (TimeoutError, protocol.ProtocolError, OSError) as exc:
            await self._abort(f"no hello from the worker ({exc!r})")
            raise EngineUnavailable(
                f"worker {self.command.name!r} did not start within {timeout}s: "
                f"{self.last_output()}"
            ) from exc
        if hello is None or hello.type != "hello":
            await self._abort("worker exited before it was ready")
            raise EngineUnavailable(
                f"worker {self.command.name!r} exited before it was ready: {self.last_output()}"
            )
        self.hello = hello.header
        self.started_at = time.monotonic()
        self._reader = asyncio.create_task(self._read(reader), name=f"worker:{self.pid}")
        log.info("worker.started", worker=self.command.name, pid=self.pid, python=str(python))

    async def _abort(self, why: str) -> None:
        log.warning("worker.start_failed", worker=self.command.name, pid=self.pid, why=why)
        self.kill()
        await self._wait_exit()
        await self._finish_stderr()

    async def stop(self, grace: float = 5.0) -> None:
        """Ask the worker to exit; kill it if it has not after ``grace`` seconds."""
        if self._process is None:
            return
        if not self._dead and self._writer is not None:
            self.kill_reason = self.kill_reason or "stopped"
            with contextlib.suppress(Exception):
                await self._send({"type": "shutdown"})
            try:
                await asyncio.wait_for(self._process.wait(), grace)
            except TimeoutError:
                self.kill()
        else:
            self.kill()
        if self._reader is not None:
            await self._exited.wait()
        else:
            await self._wait_exit()

    def kill(self, reason: str | None = None) -> None:
        """Kill the process now (SIGKILL): a hung worker cannot be asked politely."""
        if reason is not None and self.kill_reason is None:
            self.kill_reason = reason
        if self._process is not None and self._process.returncode is None:
            # os.kill, not Process.kill: the latter polls (waitpid) first and can reap the
            # child under asyncio's own watcher, which then reports a made-up exit code.
            with contextlib.suppress(ProcessLookupError):
                os.kill(self._process.pid, signal.SIGKILL)

    async def _wait_exit(self) -> None:
        if self._process is not None:
            self.returncode = await self._process.wait()

    # -- requests ----------------------------------------------------------------------------

    async def _send(self, header: dict[str, Any], payload: bytes = b"") -> None:
        if self._writer is None or self._dead:
            raise WorkerDied(f"worker {self.command.name!r} is not running")
        self._writer.write(protocol.encode(header, payload))
        await self._writer.drain()

    async def call(self, method: str, params: Mapping[str, Any], payload: bytes = b"") -> Message:
        """Run ``method`` in the worker and return its result message."""
        request_id = next(self._ids)
        future: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
        self._calls[request_id] = future
        try:
            await self._send(
                {"type": "call", "id": request_id, "method": method, "params": dict(params)},
                payload,
            )
            message = await future
        finally:
            self._calls.pop(request_id, None)
        if message.type == "error":
            raise error_from(message)
        return message

    async def stream(
        self,
        method: str,
        params: Mapping[str, Any],
        payload: bytes = b"",
        item_timeout: float | None = None,
    ) -> AsyncGenerator[Message, None]:
        """Yield each ``item`` of a streamed method; leaving early cancels it in the worker.

        With ``item_timeout``, waiting longer than that for the next message raises
        ``TimeoutError`` (the caller decides whether the worker is stuck).
        """
        request_id = next(self._ids)
        items: asyncio.Queue[Message | None] = asyncio.Queue()
        self._streams[request_id] = items
        finished = False
        try:
            await self._send(
                {"type": "stream", "id": request_id, "method": method, "params": dict(params)},
                payload,
            )
            while True:
                message = await asyncio.wait_for(items.get(), item_timeout)
                if message is None:
                    raise WorkerDied(self._death_message())
                if message.type == "end":
                    finished = True
                    return
                if message.type == "error":
                    finished = True
                    raise error_from(message)
                yield message
        finally:
            self._streams.pop(request_id, None)
            if not finished and not self._dead:
                with contextlib.suppress(Exception):
                    await self._send({"type": "cancel", "id": request_id})

    async def ping(self, timeout: float) -> Message:
        """A round trip through the worker's reader thread; raises TimeoutError if none comes."""
        request_id = next(self._ids)
        future: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
        self._pings[request_id] = future
        try:
            await self._send({"type": "ping", "id": request_id})
            return await asyncio.wait_for(future, timeout)
        finally:
            self._pings.pop(request_id, None)

    # -- background readers ------------------------------------------------------------------

    async def _read(self, reader: asyncio.StreamReader) -> None:
        error: BaseException | None = None
        try:
            while True:
                message = await protocol.read_message_async(reader)
                if message is None:
                    break
                self._dispatch(message)
        except (protocol.ProtocolError, OSError) as exc:
            error = exc
        finally:
            await self._died(error)

    def _dispatch(self, message: Message) -> None:
        request_id = message.id
        if request_id is None:
            return
        if message.type == "pong":
            ping = self._pings.get(request_id)
            if ping is not None and not ping.done():
                ping.set_result(message)
            return
        future = self._calls.get(request_id)
        if future is not None:
            if not future.done():
                future.set_result(message)
            return
        items = self._streams.get(request_id)
        if items is not None:
            items.put_nowait(message)

    async def _died(self, error: BaseException | None) -> None:
        self._dead = True
        if error is not None:
            self.kill()  # a protocol error leaves a process we can no longer talk to
        await self._wait_exit()
        await self._finish_stderr()
        if self._writer is not None:
            self._writer.close()
        why = self._death_message()
        for future in [*self._calls.values(), *self._pings.values()]:
            if not future.done():
                future.set_exception(WorkerDied(why))
        for items in self._streams.values():
            items.put_nowait(None)
        level = log.info if self.kill_reason == "stopped" else log.warning
        level(
            "worker.exited",
            worker=self.command.name,
            pid=self.pid,
            returncode=self.returncode,
            reason=self.kill_reason,
            error=repr(error) if error else None,
        )
        self._exited.set()
        if self._on_exit is not None:
            self._on_exit(self)

    def _death_message(self) -> str:
        output = self.last_output()
        tail = f"; last output: {output}" if output else ""
        return f"worker {self.command.name!r} {self.describe_exit()}{tail}"

    def last_output(self, lines: int = 3) -> str:
        return " | ".join(list(self.stderr_tail)[-lines:])

    async def _read_stderr(self) -> None:
        assert self._process is not None and self._process.stderr is not None
        stream = self._process.stderr
        while True:
            raw = await stream.readline()
            if not raw:
                return
            line = raw.decode("utf-8", "replace").rstrip()
            if line.strip():
                self.stderr_tail.append(line[:500])
                log.debug("worker.output", worker=self.command.name, pid=self.pid, line=line)

    async def _finish_stderr(self) -> None:
        # The tail explains a crash: let the reader drain what the process wrote last.
        for task in self._tasks:
            if task.get_name().startswith("worker-err:") and not task.done():
                with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                    await asyncio.wait_for(asyncio.shield(task), 2.0)
