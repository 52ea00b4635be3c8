"""Cloud engines: any OpenAI-compatible server (STT, TTS, chat, embeddings) and edge-tts voices.

Registers ``openai_stt``, ``openai_tts``, ``openai_chat``, ``openai_embeddings`` and ``edge_tts``.
Each reports ``location: cloud``, so ``mode: api`` keeps only these and ``mode: hybrid`` tries
them after the local engines. Importing this module stays cheap: edge-tts and PyAV are imported
only when the edge engine loads, and no connection is opened before an engine loads.
"""

from __future__ import annotations

from collections.abc import Mapping

from core.engines import EmbeddingsEngine, LLMEngine, STTEngine, TTSEngine
from core.hookspecs import hookimpl
from plugins.fallback_cloud.chat import OpenAIChatEngine
from plugins.fallback_cloud.edge import EdgeTTSEngine
from plugins.fallback_cloud.embeddings import OpenAIEmbeddingsEngine
from plugins.fallback_cloud.stt import OpenAISTTEngine
from plugins.fallback_cloud.tts import OpenAITTSEngine


@hookimpl
def voxgate_stt_engines() -> Mapping[str, type[STTEngine]]:
    return {"openai_stt": OpenAISTTEngine}


@hookimpl
def voxgate_tts_engines() -> Mapping[str, type[TTSEngine]]:
    return {"openai_tts": OpenAITTSEngine, "edge_tts": EdgeTTSEngine}


@hookimpl
def voxgate_llm_engines() -> Mapping[str, type[LLMEngine]]:
    return {"openai_chat": OpenAIChatEngine}


@hookimpl
def voxgate_embeddings_engines() -> Mapping[str, type[EmbeddingsEngine]]:
    return {"openai_embeddings": OpenAIEmbeddingsEngine}
