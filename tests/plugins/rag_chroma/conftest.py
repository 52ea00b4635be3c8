"""Retrieval fixtures: the real embedder and a real Chroma store, embedded or a server process."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest

from core.engines import RetrievalEngine
from core.runtime.runtime import Runtime
from tests.support.configs import daemon_config, engine_entry
from tests.support.daemon import free_port
from tests.support.runtime import running_runtime

#: MiniLM (English) and multilingual e5-small, both 384-d, and the two combined; a retrieval
#: engine for each on one store: ``docs`` embeds with MiniLM, ``docs_e5`` with e5, ``docs_both``
#: with both.
TWO_EMBEDDERS = """\
reload: {{watch: false}}
policy: {{timeout: 300s}}
engines:
  minilm:
    capability: embeddings
    engine: sentence_transformers
    settings: {{cache_dir: "{cache}"}}
  e5: {{capability: embeddings, engine: e5}}
  both: {{capability: embeddings, engine: combined, settings: {{members: [minilm, e5]}}}}
  docs: {{capability: rag, engine: chroma, settings: {{path: "{path}", embeddings: minilm}}}}
  docs_e5: {{capability: rag, engine: chroma, settings: {{path: "{path}", embeddings: e5}}}}
  docs_both: {{capability: rag, engine: chroma, settings: {{path: "{path}", embeddings: both}}}}
routes: {{embeddings: [minilm], rag: [docs]}}
"""


@pytest.fixture(scope="session")
def onnx_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One ONNX export of the embedding model for the whole session (it takes seconds)."""
    return tmp_path_factory.mktemp("onnx-cache")


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real `chroma run` server on a free loopback port; yields ``host:port``."""
    port = free_port()
    path = tmp_path_factory.mktemp("chroma-server")
    chroma = Path(sys.executable).parent / "chroma"
    process = subprocess.Popen(
        [str(chroma), "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "ANONYMIZED_TELEMETRY": "False"},
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/api/v2/heartbeat", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.2)
    else:
        process.kill()
        raise RuntimeError("chroma server did not start")
    try:
        yield f"127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(30)


def minilm(onnx_cache: Path, *, preload: bool = False, **settings: object) -> dict[str, Any]:
    """The MiniLM embedder (English, 384-d), its ONNX export in the session's cache."""
    settings = {"cache_dir": str(onnx_cache), **settings}
    return engine_entry("embeddings", "sentence_transformers", settings, preload=preload)


def chroma(
    store: Mapping[str, object], *, preload: bool = False, **settings: object
) -> dict[str, Any]:
    """A retrieval engine on the Chroma store that ``store`` points at (see ``store_settings``)."""
    return engine_entry("rag", "chroma", {**store, **settings}, preload=preload)


def answering_engines() -> dict[str, dict[str, Any]]:
    """The shipped SmolLM2 (preloaded), Whisper and hibari: what answers, hears and speaks."""
    return {
        "smollm2": engine_entry("llm", "llama_cpp"),
        "whisper": engine_entry(
            "stt", "faster_whisper", {"vad_runtime": "onnxruntime"}, preload=False
        ),
        "hibari": engine_entry("tts", "hibari", preload=False),
    }


#: Chunks small enough that a test document makes several.
SMALL_CHUNKS = {"chunk_chars": 300, "chunk_overlap": 60}


def retrieval_config(
    onnx_cache: Path,
    docs_settings: Mapping[str, object],
    *,
    sections: Mapping[str, Any] | None = None,
) -> str:
    """MiniLM and one retrieval engine, ``docs``, with ``docs_settings`` (its store and more)."""
    engines = {"minilm": minilm(onnx_cache), "docs": chroma(docs_settings)}
    return daemon_config(engines, sections=sections)


def store_settings(kind: str, tmp_path: Path, server: str | None) -> dict[str, object]:
    """The settings that point the chroma engine at a store."""
    if kind == "embedded":
        return {"path": str(tmp_path / "chroma")}
    assert server is not None
    host, port = server.split(":")
    # Server mode checks for other daemons' writes on every request in tests.
    return {"host": host, "port": int(port), "sync_seconds": 0}


@pytest.fixture(params=["embedded", "server"])
def store_setting(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, object]:
    server = request.getfixturevalue("chroma_server") if request.param == "server" else None
    return store_settings(request.param, tmp_path, server)


@pytest.fixture
def rag_config(store_setting: dict[str, object], onnx_cache: Path, tmp_path: Path) -> Path:
    path = tmp_path / "rag.yaml"
    path.write_text(retrieval_config(onnx_cache, {**store_setting, **SMALL_CHUNKS}))
    return path


@pytest.fixture
async def runtime(rag_config: Path) -> AsyncIterator[Runtime]:
    async with running_runtime(rag_config, entry_points=True) as running:
        yield running


@pytest.fixture
async def two_embedders(onnx_cache: Path, tmp_path: Path) -> AsyncIterator[Runtime]:
    """A runtime of :data:`TWO_EMBEDDERS`, its store in ``tmp_path / "chroma"``."""
    config = tmp_path / "two-embedders.yaml"
    config.write_text(TWO_EMBEDDERS.format(cache=onnx_cache, path=tmp_path / "chroma"))
    async with running_runtime(config, entry_points=True) as running:
        yield running


async def loaded_engine(runtime: Runtime, name: str = "docs") -> RetrievalEngine:
    slot = runtime.current.slots[name]
    await slot.ensure_loaded()
    assert isinstance(slot.engine, RetrievalEngine)
    return slot.engine


@pytest.fixture
async def engine(runtime: Runtime) -> RetrievalEngine:
    return await loaded_engine(runtime)


@pytest.fixture
def http(daemon: str) -> Iterator[httpx.Client]:
    """A client of the test module's own ``daemon`` fixture (each module serves its config)."""
    with httpx.Client(base_url=daemon, timeout=120) as client:
        yield client


def rag_query(http: httpx.Client, body: dict[str, Any]) -> dict[str, Any]:
    """A successful ``/v1/rag/query`` answer."""
    answer = http.post("/v1/rag/query", json=body)
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result
