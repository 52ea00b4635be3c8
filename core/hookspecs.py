"""The hooks a voxgate plugin may implement.

A plugin is any module or object with functions marked ``@hookimpl``, registered through the
``voxgate`` entry-point group (bundled plugins use the same group). Hooks only *describe* what a
plugin offers: they must not do I/O or import heavy libraries; that happens in ``Engine.load``.

Each engine hook returns a mapping from the name used in ``config/ai_backend.yaml``
(``engine: <name>``) to an engine class of that capability.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from core.engines import (
        EmbeddingsEngine,
        LLMEngine,
        RetrievalEngine,
        SearchEngine,
        STTEngine,
        TTSEngine,
        VADEngine,
    )
    from core.model_store.registry import ModelSpec
    from core.workers.environment import WorkerEnvironment

PROJECT = "voxgate"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def voxgate_stt_engines() -> Mapping[str, type[STTEngine]]:
    """Speech-to-text engines this plugin provides, keyed by their YAML name.

    Called once when the plugin set is built (at start and on every reload).
    """
    raise NotImplementedError


@hookspec
def voxgate_tts_engines() -> Mapping[str, type[TTSEngine]]:
    """Text-to-speech engines this plugin provides, keyed by their YAML name."""
    raise NotImplementedError


@hookspec
def voxgate_llm_engines() -> Mapping[str, type[LLMEngine]]:
    """Chat LLM engines this plugin provides, keyed by their YAML name."""
    raise NotImplementedError


@hookspec
def voxgate_embeddings_engines() -> Mapping[str, type[EmbeddingsEngine]]:
    """Text embedding engines this plugin provides, keyed by their YAML name."""
    raise NotImplementedError


@hookspec
def voxgate_rag_engines() -> Mapping[str, type[RetrievalEngine]]:
    """Retrieval (RAG) engines this plugin provides, keyed by their YAML name."""
    raise NotImplementedError


@hookspec
def voxgate_vad_engines() -> Mapping[str, type[VADEngine]]:
    """Voice activity detection engines this plugin provides, keyed by their YAML name."""
    raise NotImplementedError


@hookspec
def voxgate_search_engines() -> Mapping[str, type[SearchEngine]]:
    """Web search engines this plugin provides, keyed by their YAML name."""
    raise NotImplementedError


@hookspec
def voxgate_models() -> Sequence[ModelSpec]:
    """Downloadable models this plugin knows (for ``voxgate models`` and the model manager).

    Keys must be unique across plugins; return static data only.
    """
    raise NotImplementedError


@hookspec
def voxgate_worker_environments() -> Sequence[WorkerEnvironment]:
    """Isolated Python environments this plugin's engines run in (``voxgate plugins install``)."""
    raise NotImplementedError
