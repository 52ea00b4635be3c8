"""The engine's llama.cpp thread pool: persistent compute threads per loaded model, gone with it.

Threads are counted from the kernel's view of this process (/proc/self/task) minus the threads
Python knows about, which leaves llama.cpp's native workers (and those of other native
libraries, hence the counts are compared before and after).
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from plugins.llm_local.engine import LlamaCppEngine
from tests.plugins.llm_local.support import ask, build_engine, collect, text_of

pytestmark = pytest.mark.skipif(
    not Path("/proc/self/task").is_dir(), reason="counts threads through Linux's /proc"
)

THREADS = 3


def native_threads() -> int:
    """Threads of this process that Python did not start, once the count holds still: a Python
    thread leaves ``threading.enumerate()`` a moment before the OS thread ends, and would be
    counted as native in that moment."""
    counts: list[int] = []
    for _ in range(100):
        python_threads = {thread.native_id for thread in threading.enumerate()}
        tasks = Path("/proc/self/task").iterdir()
        counts.append(sum(1 for task in tasks if int(task.name) not in python_threads))
        if len(counts) >= 3 and counts[-1] == counts[-2] == counts[-3]:
            break
        time.sleep(0.02)
    return counts[-1]


async def greedy_reply(engine: LlamaCppEngine) -> str:
    return text_of(await collect(engine, ask("Hello there", temperature=0, max_tokens=16)))


async def test_the_pool_keeps_its_workers_for_the_model_life_and_frees_them_on_close(
    tiny_gguf: Path, tmp_path: Path
) -> None:
    before = native_threads()
    engine = build_engine({"model": str(tiny_gguf), "n_threads": THREADS}, tmp_path)
    await engine.load()
    try:
        assert engine.info()["thread_pool"] is True
        # The generating thread computes too, so the pool adds one worker fewer than n_threads.
        assert native_threads() - before == THREADS - 1
        assert len(await greedy_reply(engine)) == 16
        assert native_threads() - before == THREADS - 1, "workers should outlive a reply"
    finally:
        await engine.close()
    assert native_threads() == before


async def test_without_the_pool_no_worker_outlives_a_reply_and_replies_are_the_same(
    tiny_gguf: Path, tmp_path: Path
) -> None:
    pooled = build_engine({"model": str(tiny_gguf), "n_threads": THREADS}, tmp_path / "a")
    await pooled.load()
    try:
        expected = await greedy_reply(pooled)
    finally:
        await pooled.close()

    before = native_threads()
    settings = {"model": str(tiny_gguf), "n_threads": THREADS, "thread_pool": False}
    engine = build_engine(settings, tmp_path / "b")
    await engine.load()
    try:
        assert engine.info()["thread_pool"] is False
        assert await greedy_reply(engine) == expected
        assert native_threads() == before
    finally:
        await engine.close()


async def test_spin_wait_reaches_the_pool(tiny_gguf: Path, tmp_path: Path) -> None:
    settings = {"model": str(tiny_gguf), "n_threads": THREADS, "spin_wait": 30}
    engine = build_engine(settings, tmp_path)
    await engine.load()
    try:
        model = engine._model
        assert model is not None and model.pool is not None
        assert (model.pool.n_threads, model.pool.spin) == (THREADS, 30)
        assert len(await greedy_reply(engine)) == 16
    finally:
        await engine.close()


def test_spin_wait_is_a_polling_level() -> None:
    with pytest.raises(ValueError, match="spin_wait"):
        LlamaCppEngine.Settings.model_validate({"spin_wait": 101})
