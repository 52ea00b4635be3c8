"""A real worker process running the test handler: calls, streams, errors, crashes, isolation."""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from core.engines.errors import EngineUnavailable, InvalidRequest, Unsupported
from core.workers.process import WorkerCommand, WorkerDied, WorkerProcess

HANDLER = f"{Path(__file__).with_name('handlers.py')}:create"


def command(**env: str) -> WorkerCommand:
    return WorkerCommand(name="test", python=Path(sys.executable), handler=HANDLER, env=env)


@pytest.fixture
async def worker() -> AsyncIterator[WorkerProcess]:
    process = WorkerProcess(command())
    await process.start(timeout=60)
    try:
        yield process
    finally:
        await process.stop(grace=5)


async def test_a_call_carries_params_and_binary_payload(worker: WorkerProcess) -> None:
    reply = await worker.call("echo", {"text": "你好"}, b"\x00\x01\x02")
    assert reply.header["value"] == {"params": {"text": "你好"}, "size": 3}
    assert reply.payload == b"\x02\x01\x00"
    assert worker.hello["pid"] == worker.pid


async def test_a_stream_yields_items_in_order(worker: WorkerProcess) -> None:
    items = [m async for m in worker.stream("count", {"n": 5, "size": 3})]
    assert [m.header["value"]["index"] for m in items] == [0, 1, 2, 3, 4]
    assert items[4].payload == b"\x04\x04\x04"


async def test_leaving_a_stream_early_cancels_it_in_the_worker(worker: WorkerProcess) -> None:
    stream = worker.stream("count", {"n": 1000, "delay": 0.01})
    async for message in stream:
        assert message.header["value"]["index"] == 0
        break
    await stream.aclose()
    # The worker runs one request at a time: this answer proves the long stream stopped.
    reply = await worker.call("echo", {}, b"")
    assert reply.header["value"]["size"] == 0


@pytest.mark.parametrize(
    ("kind", "error"),
    [
        ("invalid_request", InvalidRequest),
        ("unsupported", Unsupported),
        ("unavailable", EngineUnavailable),
    ],
)
async def test_handler_errors_keep_their_kind(
    worker: WorkerProcess, kind: str, error: type[Exception]
) -> None:
    with pytest.raises(error, match="refused on purpose") as caught:
        await worker.call("refuse", {"kind": kind})
    if isinstance(caught.value, InvalidRequest):
        assert caught.value.param == "voice"
    assert worker.alive


async def test_a_handler_bug_fails_the_request_not_the_worker(worker: WorkerProcess) -> None:
    with pytest.raises(EngineUnavailable, match="ValueError: a bug in the handler"):
        await worker.call("broken", {})
    with pytest.raises(EngineUnavailable, match="no method"):
        await worker.call("_private", {})
    assert (await worker.call("echo", {}, b"ok")).payload == b"ko"


async def test_a_crash_fails_waiting_requests_with_the_exit_and_last_output(
    worker: WorkerProcess,
) -> None:
    with pytest.raises(WorkerDied, match=r"exited with code 7.*about to crash"):
        await worker.call("crash", {"code": 7})
    assert not worker.alive
    assert worker.returncode == 7
    with pytest.raises(WorkerDied):
        await worker.call("echo", {})


async def test_a_crash_mid_stream_ends_the_stream_with_an_error(worker: WorkerProcess) -> None:
    received = []
    with pytest.raises(WorkerDied, match="code 4"):
        async for message in worker.stream("crash_midway", {}):
            received.append(message)
    assert len(received) == 1


async def test_the_worker_sees_only_core_and_its_own_environment(worker: WorkerProcess) -> None:
    reply = await worker.call("environment", {})
    value = reply.header["value"]
    project = Path(__file__).resolve().parents[3]
    assert Path(value["core"]).resolve() == project / "core" / "__init__.py"
    # Nothing of the project is put on the worker's path: only `core` is resolved from it.
    paths = {Path(p).resolve() for p in value["sys_path"] if p}
    assert project not in paths
    assert project / "core" / "workers" not in paths
    await worker.stop()  # drains its stderr
    assert any("goes to stderr" in line for line in worker.stderr_tail)


async def test_the_worker_gets_no_secrets_of_the_daemon(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-daemon-only")
    monkeypatch.setenv("VOXGATE_API_KEYS", "client-key")
    monkeypatch.setenv("VOXGATE_CONTROL_TOKEN", "control")
    monkeypatch.setenv("HF_TOKEN", "hf-secret")
    monkeypatch.setenv("HF_HOME", "/tmp/hf-home")
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    process = WorkerProcess(command(WORKER_OWN="yes"))
    await process.start(timeout=60)
    try:
        environ = (await process.call("environment", {})).header["value"]["environ"]
    finally:
        await process.stop(grace=5)
    for secret in ("OPENAI_API_KEY", "VOXGATE_API_KEYS", "VOXGATE_CONTROL_TOKEN", "HF_TOKEN"):
        assert secret not in environ
    assert environ["HF_HOME"] == "/tmp/hf-home"
    assert environ["OMP_NUM_THREADS"] == "2"
    assert environ["WORKER_OWN"] == "yes"
    assert environ["PATH"] == os.environ["PATH"]


async def test_stop_ends_the_process(worker: WorkerProcess) -> None:
    pid = worker.pid
    assert pid is not None
    await worker.stop(grace=5)
    assert not worker.alive
    assert worker.describe_exit() == "ended by the daemon (stopped)"
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


async def test_a_missing_interpreter_is_a_clear_error(tmp_path: Path) -> None:
    process = WorkerProcess(
        WorkerCommand(name="test", python=tmp_path / "nope" / "python", handler=HANDLER)
    )
    with pytest.raises(EngineUnavailable, match="does not exist"):
        await process.start()


async def test_a_handler_that_cannot_load_explains_why(tmp_path: Path) -> None:
    bad = tmp_path / "bad_handler.py"
    bad.write_text("import a_module_that_is_not_installed\n", encoding="utf-8")
    process = WorkerProcess(
        WorkerCommand(name="test", python=Path(sys.executable), handler=f"{bad}:create")
    )
    with pytest.raises(EngineUnavailable, match="a_module_that_is_not_installed"):
        await process.start(timeout=60)
