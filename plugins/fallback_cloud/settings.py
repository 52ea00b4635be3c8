"""The ``settings:`` blocks of the cloud engines in ``config/ai_backend.yaml``.

Secrets never appear here: ``api_key_env`` names the environment variable that holds the key.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from core.config.types import Duration
from core.engines.base import EngineSettings
from core.engines.tts import Gender

OPENAI_BASE_URL = "https://api.openai.com/v1"
#: An edge voice's short name: language, region, optional variant, name ending in "Neural".
EDGE_VOICE_PATTERN = r"^[a-z]{2,3}-[A-Za-z]{2,4}(-[A-Za-z]+)?-\w+Neural$"


class CloudSettings(EngineSettings):
    """What every OpenAI-compatible engine needs to reach its server."""

    #: The API root, ending before ``/chat/completions`` etc. (OpenAI, a gateway, vLLM,
    #: a llama.cpp server, LocalAI or another voxgate: ``http://host:8765/v1``).
    base_url: str = OPENAI_BASE_URL
    #: Environment variable holding the API key; ``null`` for servers that need no key.
    api_key_env: str | None = "OPENAI_API_KEY"
    #: Header that carries the key (Azure-style gateways use ``api-key`` with no prefix).
    api_key_header: str = "Authorization"
    api_key_prefix: str = "Bearer "
    #: The model name the server knows (for another voxgate: a route, engine or alias name).
    model: str
    #: Time allowed to open a connection; an unreachable server fails over this fast.
    connect_timeout: Duration = Field(5.0, gt=0)
    #: Time allowed between two reads of the response (not the whole response).
    read_timeout: Duration = Field(60.0, gt=0)
    #: Extra headers sent with every request (organisation, project, gateway routing).
    headers: dict[str, str] = Field(default_factory=dict)
    #: Extra query parameters on every request (e.g. Azure's ``api-version``).
    params: dict[str, str] = Field(default_factory=dict)
    #: Connections kept open to the server (requests beyond it wait for a free one).
    max_connections: int = Field(32, ge=1, le=1024)

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("base_url must start with http:// or https://")
        return value.rstrip("/")


class ChatSettings(CloudSettings):
    model: str = "gpt-4o-mini"
    #: Ask for token counts at the end of the stream (``stream_options.include_usage``); turn
    #: off for servers that reject the field.
    stream_usage: bool = True
    #: Where the reply length limit goes: newer OpenAI models only take ``max_completion_tokens``.
    max_tokens_field: Literal["max_tokens", "max_completion_tokens"] = "max_tokens"


class TranscriptionSettings(CloudSettings):
    model: str = "whisper-1"
    #: ``verbose_json`` gives segments with times; ``json`` (gpt-4o-transcribe) only the text.
    response_format: Literal["verbose_json", "json"] = "verbose_json"


class VoiceSpec(EngineSettings):
    """A voice the server offers, described so a fallback can pick the closest one."""

    id: str
    language: str | None = None
    gender: Gender | None = None
    description: str = ""


class SpeechSettings(CloudSettings):
    model: str = "gpt-4o-mini-tts"
    #: Voice used when a request names none.
    voice: str = "alloy"
    #: The voices the server offers; unset means OpenAI's built-in voices.
    voices: list[VoiceSpec] | None = None
    #: ``pcm`` (raw 16-bit, OpenAI sends 24 kHz) streams with the least overhead; ``wav``
    #: carries its own rate, for servers whose PCM rate is unknown.
    response_format: Literal["pcm", "wav"] = "pcm"
    #: Rate of ``pcm`` audio when the server does not say (an ``x-sample-rate`` header wins).
    sample_rate: int = Field(24_000, ge=8000, le=192_000)
    #: Send ``instructions`` (style prompts); off for servers that reject the field.
    send_instructions: bool = True
    #: Send the request's ``language`` (voxgate servers use it; OpenAI rejects it).
    send_language: bool = False


class EmbeddingSettings(CloudSettings):
    model: str = "text-embedding-3-small"
    #: Ask the server for shorter vectors (models that support it).
    dimensions: int | None = Field(None, ge=1)
    #: Texts per request; longer inputs are sent in several requests.
    batch_size: int = Field(256, ge=1, le=2048)


class EdgeSettings(EngineSettings):
    """Microsoft Edge's online voices through edge-tts (no key, needs the internet)."""

    #: Voice used when a request names none and no language is asked for.
    voice: str = Field("en-US-AriaNeural", pattern=EDGE_VOICE_PATTERN)
    #: Speaking rate, volume and pitch offsets as edge-tts writes them.
    rate: str = Field("+0%", pattern=r"^[+-]\d+%$")
    volume: str = Field("+0%", pattern=r"^[+-]\d+%$")
    pitch: str = Field("+0Hz", pattern=r"^[+-]\d+Hz$")
    #: Time allowed to look the service's address up: without internet some resolvers only
    #: give up after seconds, and this keeps the fall-through to the next engine fast.
    resolve_timeout: Duration = Field(1.0, gt=0)
    #: Time allowed to open the connection (whole seconds: edge-tts takes integers).
    connect_timeout: int = Field(5, ge=1, le=120)
    #: Time allowed between two messages from the service.
    receive_timeout: int = Field(30, ge=1, le=600)
    #: HTTP proxy for the connection, if the machine needs one.
    proxy: str | None = None
    #: Fetch the full voice list in the background at load; the built-in list covers offline use.
    fetch_voice_list: bool = True
