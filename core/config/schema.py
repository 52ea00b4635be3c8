"""The schema of ``config/ai_backend.yaml``.

Every block rejects unknown keys so a typo is an error, not a silently ignored setting. Secrets are
never written here: the YAML names the environment variables that hold them.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from core.config.types import ByteSize, Duration
from core.engines.base import Capability, Location
from core.state.rate import RateLimit


class Mode(StrEnum):
    LOCAL = "local"
    API = "api"
    HYBRID = "hybrid"


class Block(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _ip_network(entry: str) -> str:
    ipaddress.ip_network(entry, strict=False)  # ValueError names the bad entry
    return entry


#: An IP address or CIDR network (``10.0.0.0/8``, ``::1``), kept as written.
IpNetwork = Annotated[str, AfterValidator(_ip_network)]


class EngineSpec(Block):
    """One named engine instance: which plugin engine, and its settings."""

    capability: Capability
    #: The engine's registered name (``voxgate plugins`` lists them).
    engine: str
    #: The engine's own settings, validated by its ``Settings`` model.
    settings: dict[str, Any] = Field(default_factory=dict)
    #: Override where the engine counts as running (e.g. a cloud engine pointed at a LAN server).
    location: Location | None = None
    #: Load at start (and warm on reload) instead of on first use.
    preload: bool = False
    #: Unload after this long without requests; unset keeps the engine loaded.
    keep_alive: Duration | None = None
    #: Maps requested voice ids to this engine's voices, used when a TTS request falls back here.
    voice_map: dict[str, str] = Field(default_factory=dict)
    description: str = ""


class BreakerPolicy(Block):
    #: Consecutive failures that open the breaker.
    failures: int = Field(3, ge=1)
    #: How long an open breaker skips the engine before a half-open probe.
    cooldown: Duration = Field(30.0, gt=0)
    #: Cooldown doubles after each failed probe, up to this. Also the longest a provider's
    #: ``Retry-After`` (on a 429 or 503) keeps the engine out of its chain.
    max_cooldown: Duration = Field(300.0, gt=0)


class CapabilityPolicy(Block):
    """Overrides for one capability; unset fields fall back to the policy's defaults."""

    timeout: Duration | None = Field(None, gt=0)
    total_timeout: Duration | None = Field(None, gt=0)
    retries: int | None = Field(None, ge=0, le=5)
    queue_timeout: Duration | None = Field(None, gt=0)


@dataclass(frozen=True)
class RoutePolicy:
    """The effective timeouts and retries for one capability (defaults merged with overrides)."""

    timeout: float
    total_timeout: float | None
    retries: int
    #: How long a request may wait for a busy engine's permit before the chain moves on.
    queue_timeout: float | None = None


class EnginePolicy(Block):
    #: Requests the engine runs at once; default is the engine's own (1 for llama.cpp).
    max_concurrency: int | None = Field(None, ge=1)
    #: Requests allowed to wait for a slot; beyond it the engine refuses (and the chain moves on).
    max_queue: int = Field(16, ge=0)
    timeout: Duration | None = Field(None, gt=0)
    #: Requests per period the engine takes, e.g. ``10/s`` or ``600/min`` (a burst of up to
    #: that many at once). Over it the chain moves on, as for a busy engine. With the Valkey
    #: state backend the limit holds for the whole fleet.
    rate_limit: RateLimit | None = None
    #: Requests the engine runs at once across the whole fleet (with the Valkey state backend;
    #: on the in-process one it limits this daemon, like ``max_concurrency``). A request that
    #: finds every place taken moves on along the chain, or gets a 429, at once.
    fleet_concurrency: int | None = Field(None, ge=1)
    #: When every slot is still held by work that requests gave up on (a reply cancelled by a
    #: barge-in or a client gone), a request waits this long after the latest such give-up for
    #: the work to stop at its next step, instead of moving on along the chain at once. Work
    #: left behind by a request that timed out is taken as hung: no wait.
    abandoned_grace: Duration = Field(10.0, ge=0)


class Policy(Block):
    #: Time allowed for an engine's first result (first chunk when streaming).
    timeout: Duration = Field(30.0, gt=0)
    #: Time allowed for a whole request on one engine; unset means no limit after the first chunk.
    total_timeout: Duration | None = Field(None, gt=0)
    #: Extra attempts on the same engine for retryable failures before falling back.
    retries: int = Field(0, ge=0, le=5)
    retry_backoff: Duration = Field(0.05, ge=0)
    #: Time a request may wait for a busy engine (queued behind others) before the chain moves
    #: on; running out of it is "busy" (429 when no other engine serves), never an engine
    #: timeout, and never counts against the breaker.
    queue_timeout: Duration = Field(30.0, gt=0)
    #: Speech-to-text engines read a whole file before their first segment: each second of
    #: uploaded audio adds this much to the stt timeout (a 10-minute file: +150 s).
    stt_timeout_per_audio_second: float = Field(0.25, ge=0)
    breaker: BreakerPolicy = BreakerPolicy()
    stt: CapabilityPolicy = CapabilityPolicy()
    tts: CapabilityPolicy = CapabilityPolicy()
    llm: CapabilityPolicy = CapabilityPolicy()
    embeddings: CapabilityPolicy = CapabilityPolicy()
    rag: CapabilityPolicy = CapabilityPolicy()
    vad: CapabilityPolicy = CapabilityPolicy()
    search: CapabilityPolicy = CapabilityPolicy()
    engines: dict[str, EnginePolicy] = Field(default_factory=dict)

    def for_capability(self, capability: Capability) -> RoutePolicy:
        override: CapabilityPolicy = getattr(self, capability.value)
        return RoutePolicy(
            timeout=override.timeout or self.timeout,
            total_timeout=override.total_timeout or self.total_timeout,
            retries=self.retries if override.retries is None else override.retries,
            queue_timeout=override.queue_timeout or self.queue_timeout,
        )

    def for_engine(self, name: str) -> EnginePolicy:
        return self.engines.get(name, EnginePolicy())


class ServerConfig(Block):
    host: str = "127.0.0.1"
    port: int = Field(8765, ge=0, le=65535)
    #: On SIGTERM/SIGINT, how long in-flight requests may take to finish.
    drain_timeout: Duration = Field(30.0, ge=0)
    #: Web pages (origins such as ``https://app.example.com``) allowed to call the data plane
    #: from a browser (CORS). Pages served from this machine (localhost, 127.0.0.1, [::1], any
    #: port) always are; ``"*"`` allows every page. The control plane never answers other origins.
    cors_origins: list[str] = Field(default_factory=list)
    #: Host names clients may use to reach the daemon besides IP addresses and ``localhost``
    #: (DNS-rebinding protection); ``.example.com`` allows its subdomains, ``"*"`` any name.
    allowed_hosts: list[str] = Field(default_factory=list)
    #: Reverse proxies (addresses or CIDR networks) whose X-Forwarded-For is believed.
    trusted_proxies: list[IpNetwork] = Field(default_factory=list)
    #: Connections open at once. When full, the connection that has waited longest without
    #: sending a whole request head is closed to make room; with none such, new ones are refused.
    max_connections: int = Field(1000, ge=8)
    #: Time a client has to send a request's head (line and headers) once it starts one.
    header_timeout: Duration = Field(10.0, gt=0)
    #: Longest pause allowed while a request body is arriving.
    body_timeout: Duration = Field(30.0, gt=0)
    #: Longest a response may wait for a client that reads none of it; then the connection is
    #: dropped, so a client that stops reading does not hold an engine (or a socket) for good.
    send_timeout: Duration = Field(30.0, gt=0)
    #: Largest request head (request line and headers together).
    max_header_bytes: ByteSize = Field(64 * 1024, ge=1024)
    #: An idle keep-alive connection is closed after this.
    keep_alive_timeout: Duration = Field(5.0, gt=0)


class LimitsConfig(Block):
    """Sizes checked before a request takes an engine, so an oversized request costs nothing."""

    max_upload_bytes: ByteSize = Field(25_000_000, gt=0)
    max_speech_chars: int = Field(4096, gt=0)
    max_request_bytes: ByteSize = Field(2_000_000, gt=0)
    #: Uploaded audio is refused past this length, counted from its header before decoding.
    max_audio_seconds: Duration = Field(3600.0, gt=0)
    #: Messages in one chat request (an agent's whole history still fits).
    max_chat_messages: int = Field(1024, ge=1)
    #: Inputs in one embeddings request (OpenAI's limit) ...
    max_embedding_inputs: int = Field(2048, ge=1)
    #: ... and their characters together: more would run far past any timeout on a CPU.
    max_embedding_chars: int = Field(500_000, ge=1)
    #: Live transcription WebSockets open at once; one more is refused (close code 1013).
    max_live_sessions: int = Field(16, ge=1)
    #: A live session that sends nothing for this long is ended (close code 1008) after its last
    #: utterance is transcribed, so abandoned sockets do not hold a session slot. Live sessions
    #: also end after ``max_audio_seconds`` of audio.
    live_idle_timeout: Duration = Field(60.0, gt=0)


class AuthConfig(Block):
    #: Environment variable holding comma-separated API keys; unset or empty means no auth.
    api_keys_env: str = "VOXGATE_API_KEYS"
    #: Environment variable holding the control token that lets non-loopback clients use /control.
    control_token_env: str = "VOXGATE_CONTROL_TOKEN"
    #: Requests per period each API key may make, e.g. ``20/s`` (all clients together when no
    #: keys are set). Over it: 429 with Retry-After, before any engine is taken.
    rate_limit: RateLimit | None = None


class PluginsConfig(Block):
    disabled: list[str] = Field(default_factory=list)


class ReloadConfig(Block):
    #: Reload when the YAML file changes on disk.
    watch: bool = True
    debounce: Duration = Field(0.3, ge=0)
    #: After a reload, requests still on the old configuration may finish within this; then
    #: engines only the old configuration used are closed anyway (live sockets follow reloads
    #: between utterances, so they do not keep an old model alive).
    drain_timeout: Duration = Field(60.0, ge=0)


class LoggingConfig(Block):
    level: Literal["debug", "info", "warning", "error"] = "info"
    #: ``auto`` writes JSON lines unless stderr is a terminal.
    format: Literal["auto", "json", "console"] = "auto"


class VoicesConfig(Block):
    #: Voice names clients ask for (OpenAI's alloy, echo, ...) mapped to voice ids.
    aliases: dict[str, str] = Field(default_factory=dict)


class ConversationConfig(Block):
    """The voice round trip (``POST /v1/conversation``)."""

    #: System prompt for every turn unless the request brings its own.
    system_prompt: str = (
        "You are a helpful voice assistant. Answer briefly, in plain spoken sentences, "
        "without lists or markdown."
    )
    #: Messages (user and assistant) kept per conversation id; older ones are dropped.
    max_history_messages: int = Field(20, ge=0)
    #: Conversation ids remembered at once; the least recently used is forgotten first.
    max_conversations: int = Field(1000, ge=1)
    #: A conversation unused for this long is forgotten.
    idle_ttl: Duration = Field(1800.0, gt=0)
    #: Reply length cap, so a spoken answer stays short.
    max_reply_tokens: int = Field(256, ge=1)


class StateConfig(Block):
    """Where breakers, rate limits, conversation history and fleet reloads are kept.

    ``memory`` (the default) keeps them in this process. ``valkey`` shares them between every
    daemon using the same server and key prefix; read once at start (changing it needs a
    restart).
    """

    backend: Literal["memory", "valkey"] = "memory"
    #: ``valkey://host:port/db``, ``valkeys://`` for TLS, or ``unix:///path/to.sock``.
    url: str = "valkey://127.0.0.1:6379/0"
    #: Environment variable holding the server's password, if it has one.
    password_env: str = "VOXGATE_STATE_PASSWORD"
    #: Daemons share state only under the same prefix (one prefix per fleet).
    key_prefix: str = Field("voxgate", min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    #: The longest any request waits for the state store before going on with local state.
    timeout: Duration = Field(0.05, gt=0, le=5)
    #: How often the connection is checked (and, while it is down, retried).
    check_interval: Duration = Field(1.0, gt=0, le=60)
    #: This daemon's name in fleet replies; default: host name and process id.
    daemon_id: str | None = None

    @field_validator("url")
    @classmethod
    def _scheme(cls, url: str) -> str:
        scheme = url.partition("://")[0].lower()
        if scheme not in ("valkey", "valkeys", "redis", "rediss", "unix"):
            raise ValueError("expected valkey://host:port/db, valkeys://... or unix:///path")
        return url


class WyomingConfig(Block):
    """The Wyoming listener: Home Assistant's voice protocol on the same engines as HTTP.

    Wyoming carries no credentials, so who may connect is decided by the bind address and
    ``allowed_clients``. ``enabled``, ``host``, ``port`` and ``zeroconf`` take effect when the
    daemon starts; the other settings follow reloads (each connection reads them when it opens).
    """

    #: Off unless asked for: it opens a second port that no API key protects.
    enabled: bool = False
    host: str = "127.0.0.1"
    #: The port Home Assistant's Wyoming integration suggests; 0 picks a free one.
    port: int = Field(10300, ge=0, le=65535)
    #: Client addresses or networks (CIDR) that are served; any other client is disconnected at
    #: once. ``0.0.0.0/0`` and ``::/0`` let everyone who can reach ``host`` in.
    allowed_clients: list[IpNetwork] = Field(default_factory=lambda: ["127.0.0.0/8", "::1"])
    #: Connections open at once; one more gets an error event and is closed.
    max_connections: int = Field(32, ge=1)
    #: Announce the listener on the local network (mDNS ``_wyoming._tcp``) for discovery.
    zeroconf: bool = False
    #: The announced name; unset: ``voxgate-<host name>``.
    zeroconf_name: str | None = Field(None, min_length=1, max_length=63)
    #: A connection the server is waiting on that sends nothing for this long is closed, as is
    #: one that leaves an answer unread this long.
    idle_timeout: Duration = Field(60.0, gt=0)
    #: Largest event (header line, data and payload together); a larger one ends the connection.
    max_event_bytes: ByteSize = Field(1_048_576, ge=4096)
    #: Audio one transcription may take; more ends the request with an error event.
    max_audio_seconds: Duration = Field(120.0, gt=0)
    #: What transcribes: a route, alias or engine name (an engine name means no fallback);
    #: unset: the ``stt`` route.
    stt_model: str | None = None
    #: What speaks, likewise; unset: the ``tts`` route.
    tts_model: str | None = None
    #: Send transcript-start/-chunk/-stop around the transcript as segments are decoded.
    stream_transcripts: bool = True
    #: Set to detect the end of a command on the server (the ``vad`` route) after this much
    #: silence: voice-started/voice-stopped events are sent while audio arrives and the
    #: transcript comes without waiting for audio-stop. Unset: the client decides, as Home
    #: Assistant does with its own voice activity detection.
    end_of_speech_silence: Duration | None = Field(None, ge=0.1, le=10)
    #: Languages listed for speech-to-text engines that do not say which they understand.
    languages: list[str] = Field(default_factory=lambda: ["en"], min_length=1)


class ServerVadSettings(Block):
    """Turns end after a fixed stretch of silence (OpenAI's ``server_vad``)."""

    type: Literal["server_vad"] = "server_vad"
    #: Speech probability (0-1) from the ``vad`` route at which a frame counts as speech.
    threshold: float = Field(0.5, gt=0, lt=1)
    #: Audio kept before the detected start of speech.
    prefix_padding_ms: int = Field(300, ge=0, le=5000)
    #: Silence that ends the user's turn.
    silence_duration_ms: int = Field(500, ge=0, le=10_000)
    #: Answer automatically when a turn ends.
    create_response: bool = True
    #: The user speaking cancels the reply being spoken (barge-in).
    interrupt_response: bool = True
    #: After the reply has been heard, this much silence from the user asks for a new reply.
    idle_timeout_ms: int | None = Field(None, ge=1000, le=3_600_000)


class SemanticVadSettings(Block):
    """Turns end sooner when what was said sounds finished, later when it trails off
    (OpenAI's ``semantic_vad``; the waits per eagerness are documented in the README)."""

    type: Literal["semantic_vad"] = "semantic_vad"
    eagerness: Literal["low", "medium", "high", "auto"] = "auto"
    create_response: bool = True
    interrupt_response: bool = True


class EchoGuardConfig(Block):
    """For clients without echo cancellation: speech that starts while the assistant's audio is
    playing (or within ``tail`` after it) and resembles that audio does not barge in."""

    enabled: bool = False
    #: How long after the assistant's audio has finished playing (real-time estimate) the guard
    #: stays on.
    tail: Duration = Field(0.6, ge=0, le=10)
    #: Speech heard while the guard is on is compared over this much audio before it may barge in.
    probe: Duration = Field(0.5, ge=0.1, le=2)
    #: Similarity (0-1) of input and output sound envelopes above which speech counts as echo.
    similarity: float = Field(0.6, gt=0, lt=1)
    #: The longest delay between sending audio and hearing it back that the guard looks for.
    max_delay: Duration = Field(0.8, ge=0, le=5)


class RealtimeProfile(Block):
    """What a realtime session runs on: engines, voice, instructions, turn-taking."""

    #: Route, engine or alias for each step; unset uses the capability's route.
    stt: str | None = None
    llm: str | None = None
    tts: str | None = None
    vad: str | None = None
    instructions: str = (
        "You are a helpful voice assistant. Answer briefly, in plain spoken sentences, "
        "without lists or markdown."
    )
    voice: str = "alloy"
    #: Language of the user's speech (unset: the engine detects it).
    language: str | None = None
    speed: float = Field(1.0, ge=0.25, le=4.0)
    temperature: float | None = Field(None, ge=0, le=2)
    #: Reply length cap unless the client asks for less.
    max_output_tokens: int = Field(256, ge=1, le=8192)
    #: Turn detection a new session starts with; null means the client commits audio itself.
    turn_detection: ServerVadSettings | SemanticVadSettings | None = Field(
        default_factory=ServerVadSettings, discriminator="type"
    )
    #: Speech must last this long before it counts (and can barge in): a click does not.
    speech_confirm: Duration = Field(0.064, ge=0, le=1)
    #: Reply audio is sent at most this far ahead of real time, so a barge-in stops it quickly
    #: and "what was heard" is known; null sends audio as fast as it is made.
    output_lead: Duration | None = Field(0.5, ge=0, le=60)
    echo_guard: EchoGuardConfig = EchoGuardConfig()


class RealtimeLimits(Block):
    #: Realtime sessions open at once; one more is refused (close code 1013).
    max_sessions: int = Field(8, ge=1)
    #: A session whose client sends nothing for this long is ended.
    idle_timeout: Duration = Field(300.0, gt=0)
    #: Longest session (OpenAI caps theirs at 60 minutes).
    max_session: Duration = Field(3600.0, gt=0)
    #: Largest client event (a WebSocket text frame); bigger ones get an error event.
    max_event_bytes: ByteSize = Field(15 * 1024 * 1024, ge=1024)
    #: Uncommitted input audio kept at most; beyond it appends are refused (manual commit) or the
    #: turn is cut (voice activity detection).
    max_buffer: Duration = Field(120.0, gt=0, le=3600)
    #: Conversation items a session keeps; past it the oldest are dropped, each announced with
    #: ``conversation.item.deleted``, so a long or hostile session cannot grow without bound
    #: (replies only ever read the last ``conversation.max_history_messages`` anyway).
    max_items: int = Field(2048, ge=16)


class RealtimeConfig(Block):
    """Realtime voice sessions (``/v1/realtime``)."""

    #: The profile for model names that are neither a profile nor listed in ``models``.
    default_profile: str = "default"
    profiles: dict[str, RealtimeProfile] = Field(
        default_factory=lambda: {"default": RealtimeProfile()}
    )
    #: Model names clients send (OpenAI's gpt-realtime, ...) mapped to profiles.
    models: dict[str, str] = Field(default_factory=dict)
    limits: RealtimeLimits = RealtimeLimits()

    @model_validator(mode="after")
    def _profiles_exist(self) -> RealtimeConfig:
        if self.default_profile not in self.profiles:
            raise ValueError(f"default_profile {self.default_profile!r} is not under profiles")
        for model, profile in self.models.items():
            if profile not in self.profiles:
                raise ValueError(f"models.{model}: no profile named {profile!r}")
        return self

    def profile_for(self, model: str | None) -> tuple[str, RealtimeProfile]:
        """The profile a requested model name selects (a profile name, a mapped name, or the
        default for names never heard of, as OpenAI clients send their own)."""
        name = self.default_profile
        if model and model in self.profiles:
            name = model
        elif model and model in self.models:
            name = self.models[model]
        return name, self.profiles[name]


class ConsoleConfig(Block):
    """The web console at ``/console`` (status, configuration, a voice playground)."""

    #: Serve the console (and redirect ``/`` to it). Its control actions still need a loopback
    #: client or the control token; its playground uses the API keys like any client.
    enabled: bool = True


class WebSearchConfig(Block):
    """Web results as retrieval sources, served by the ``search`` route. Off unless a request
    asks (``web_search: true`` on /v1/rag/query and in the chat and conversation ``rag``
    block); these are the limits every such request gets."""

    #: Results a request gets when it asks for web search without ``web_top_k``.
    top_k: int = Field(3, ge=1, le=50)
    #: The most results one request may ask for; a larger ``web_top_k`` is a 400.
    max_top_k: int = Field(8, ge=1, le=50)
    #: Also read each result's page and hand the model its text instead of the snippet alone
    #: (robots.txt obeyed, public addresses only, size and time capped).
    fetch_pages: bool = False
    #: A page is read this far and no further.
    max_page_bytes: ByteSize = Field(512 * 1024, ge=1024)
    #: Time to fetch one page, its robots.txt and redirects included; a slower page is skipped.
    page_timeout: Duration = Field(5.0, gt=0, le=60)
    #: Characters of a page's text given to the model.
    max_page_chars: int = Field(2000, ge=100, le=100_000)
    #: Redirects followed per page, each target checked like the first.
    max_redirects: int = Field(3, ge=0, le=10)
    #: Sent with every page and robots.txt request; robots.txt rules for its first word apply.
    user_agent: str = Field("voxgate-websearch/0.1 (+robots.txt obeyed)", min_length=1)
    #: Networks (CIDR) pages may come from although they are not public (an intranet wiki).
    #: Every other private, loopback, link-local or reserved address is refused.
    allowed_networks: list[IpNetwork] = Field(default_factory=list)
    #: Search answers and robots.txt rules are reused for this long; 0 turns the cache off.
    cache_ttl: Duration = Field(300.0, ge=0)
    #: Cached answers kept at most (the least recently used go first).
    cache_entries: int = Field(256, ge=1)

    @model_validator(mode="after")
    def _top_k_within_max(self) -> WebSearchConfig:
        if self.top_k > self.max_top_k:
            raise ValueError(f"top_k {self.top_k} is above max_top_k {self.max_top_k}")
        return self


class IngestConfig(Block):
    """Document ingestion (``POST /v1/rag/documents``) runs as jobs outside request timeouts."""

    #: Ingestion jobs run at once; more wait their turn (embedding already uses every core).
    max_running: int = Field(1, ge=1, le=16)
    #: Jobs allowed to wait; one more is refused with 429 until the queue shrinks.
    max_queued: int = Field(64, ge=0)
    #: Finished jobs kept for ``GET /v1/rag/jobs`` (the oldest are forgotten first).
    keep_finished: int = Field(256, ge=0)
    #: A document this long (characters) or longer is answered 202 with its job at once, as if
    #: the request had asked ``?async=true``; shorter ones are answered when stored (201).
    sync_max_chars: int = Field(1_000_000, ge=1)
    #: Time one batch of chunks may take to embed (the route's timeout is for requests; a job
    #: has none over the whole document). A slower batch fails the job.
    batch_timeout: Duration = Field(300.0, gt=0)


ROUTE_NAMES = tuple(c.value for c in Capability)


class AppConfig(BaseSettings):
    """The whole file. Environment variables override it: ``VOXGATE_MODE=api``,
    ``VOXGATE_SERVER__PORT=9000``, ``VOXGATE_ENGINES__WHISPER__PRELOAD=true``."""

    model_config = SettingsConfigDict(
        env_prefix="VOXGATE_",
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
        case_sensitive=False,
    )

    mode: Mode = Mode.HYBRID
    data_dir: Path | None = None
    models_dir: Path | None = None
    server: ServerConfig = ServerConfig()
    limits: LimitsConfig = LimitsConfig()
    auth: AuthConfig = AuthConfig()
    plugins: PluginsConfig = PluginsConfig()
    reload: ReloadConfig = ReloadConfig()
    logging: LoggingConfig = LoggingConfig()
    policy: Policy = Policy()
    engines: dict[str, EngineSpec] = Field(default_factory=dict)
    routes: dict[Capability, list[str]] = Field(default_factory=dict)
    #: Model names clients may send, each mapped to a route or engine (or a list of them, one
    #: per capability). A name with ``*`` or ``?`` is a pattern: ``"*": llm`` serves any chat
    #: model name the file does not know. Names matching nothing are answered 404.
    aliases: dict[str, str | list[str]] = Field(default_factory=dict)
    voices: VoicesConfig = VoicesConfig()
    conversation: ConversationConfig = ConversationConfig()
    state: StateConfig = StateConfig()
    wyoming: WyomingConfig = WyomingConfig()
    realtime: RealtimeConfig = RealtimeConfig()
    console: ConsoleConfig = ConsoleConfig()
    web_search: WebSearchConfig = WebSearchConfig()
    ingest: IngestConfig = IngestConfig()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The YAML arrives as init kwargs; the environment must win over it.
        return env_settings, init_settings

    @field_validator("engines")
    @classmethod
    def _engine_names(cls, engines: dict[str, EngineSpec]) -> dict[str, EngineSpec]:
        for name in engines:
            if not name or name in ROUTE_NAMES:
                raise ValueError(f"engine name {name!r} is empty or clashes with a route name")
        return engines
