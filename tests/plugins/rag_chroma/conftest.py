"""Retrieval fixtures: the real embedder and a real Chroma store, embedded or a server process."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from core.engines import RetrievalEngine
from core.runtime.runtime import Runtime
from tests.support.daemon import free_port
from tests.support.runtime import running_runtime

CONFIG = """\
reload: {{watch: false}}
engines:
  minilm:
    capability: embeddings
    engine: sentence_transformers
    settings: {{cache_dir: "{onnx_cache}"}}
  docs:
    capability: rag
    engine: chroma
    settings: {{{store}, chunk_chars: 300, chunk_overlap: 60}}
routes: {{embeddings: [minilm], rag: [docs]}}
"""


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


def store_settings(kind: str, tmp_path: Path, server: str | None) -> str:
    """The YAML settings (inside braces) that point the chroma engine at a store."""
    if kind == "embedded":
        return f"path: {tmp_path / 'chroma'}"
    assert server is not None
    host, port = server.split(":")
    # Server mode checks for other daemons' writes on every request in tests.
    return f"host: {host}, port: {port}, sync_seconds: 0"


@pytest.fixture(params=["embedded", "server"])
def store_setting(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    server = request.getfixturevalue("chroma_server") if request.param == "server" else None
    return store_settings(request.param, tmp_path, server)


@pytest.fixture
def rag_config(store_setting: str, onnx_cache: Path, tmp_path: Path) -> Path:
    path = tmp_path / "rag.yaml"
    path.write_text(CONFIG.format(store=store_setting, onnx_cache=onnx_cache))
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
