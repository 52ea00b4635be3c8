"""Retrieval with citations on chromadb (embedded or a Chroma server) plus BM25 keyword search,
and sentence-transformers embeddings. Heavy libraries are imported only when an engine loads."""

from __future__ import annotations

from collections.abc import Mapping

from core.engines import EmbeddingsEngine, RetrievalEngine
from core.hookspecs import hookimpl
from plugins.rag_chroma.combined_embeddings import CombinedEmbeddingsEngine
from plugins.rag_chroma.e5_embeddings import E5Engine
from plugins.rag_chroma.engine import ChromaRetrievalEngine
from plugins.rag_chroma.sentence_embeddings import SentenceTransformersEngine


@hookimpl
def voxgate_embeddings_engines() -> Mapping[str, type[EmbeddingsEngine]]:
    return {
        "sentence_transformers": SentenceTransformersEngine,
        "e5": E5Engine,
        "combined": CombinedEmbeddingsEngine,
    }


@hookimpl
def voxgate_rag_engines() -> Mapping[str, type[RetrievalEngine]]:
    return {"chroma": ChromaRetrievalEngine}
