"""Engine contracts: one abstract base per capability, plus shared request/response types."""

from core.engines.base import (
    Capability,
    Engine,
    EngineContext,
    EngineSettings,
    Health,
    Location,
    NoSettings,
)
from core.engines.embeddings import Embeddings, EmbeddingsEngine
from core.engines.errors import (
    EngineError,
    EngineNotLoaded,
    EngineOverloaded,
    EngineRateLimited,
    EngineTimeout,
    EngineUnavailable,
    EngineUpstreamError,
    InvalidRequest,
    Unsupported,
)
from core.engines.llm import ChatDelta, ChatMessage, ChatRequest, LLMEngine, Usage
from core.engines.retrieval import (
    Citation,
    Document,
    DocumentInfo,
    RetrievalEngine,
    RetrievalQuery,
)
from core.engines.search import SearchEngine, SearchQuery, WebResult
from core.engines.stt import Segment, STTEngine, Transcription, TranscriptionRequest, Word
from core.engines.tts import ReferenceVoice, SpeechRequest, TTSEngine, Voice
from core.engines.vad import SpeechDetector, VADEngine

#: The base class each capability's engines must subclass.
ENGINE_BASES: dict[Capability, type[Engine]] = {
    Capability.STT: STTEngine,
    Capability.TTS: TTSEngine,
    Capability.LLM: LLMEngine,
    Capability.EMBEDDINGS: EmbeddingsEngine,
    Capability.RAG: RetrievalEngine,
    Capability.VAD: VADEngine,
    Capability.SEARCH: SearchEngine,
}

__all__ = [
    "ENGINE_BASES",
    "Capability",
    "ChatDelta",
    "ChatMessage",
    "ChatRequest",
    "Citation",
    "Document",
    "DocumentInfo",
    "Embeddings",
    "EmbeddingsEngine",
    "Engine",
    "EngineContext",
    "EngineError",
    "EngineNotLoaded",
    "EngineOverloaded",
    "EngineRateLimited",
    "EngineSettings",
    "EngineTimeout",
    "EngineUnavailable",
    "EngineUpstreamError",
    "Health",
    "InvalidRequest",
    "LLMEngine",
    "Location",
    "NoSettings",
    "ReferenceVoice",
    "RetrievalEngine",
    "RetrievalQuery",
    "STTEngine",
    "SearchEngine",
    "SearchQuery",
    "Segment",
    "SpeechDetector",
    "SpeechRequest",
    "TTSEngine",
    "Transcription",
    "TranscriptionRequest",
    "Unsupported",
    "Usage",
    "VADEngine",
    "Voice",
    "WebResult",
    "Word",
]
