"""The ``qwen3`` TTS engine: Qwen3-TTS served by a worker process in its own environment.

This side is a thin proxy. It resolves the model folders, starts the worker (which loads the
models), turns each speech request into a plan (preset speaker, cloned voice or designed voice;
language; style instruction), cuts the text into sentences with the shared segmenter and streams
back each sentence's audio as the worker produces it. If the worker dies or hangs, the request
fails over to the next engine in the chain and the worker is restarted with backoff.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
import structlog
from pydantic import Field

from core.audio.chunk import AudioChunk
from core.cloned_voices.normalize import ReferenceAudioError, normalize_reference
from core.cloned_voices.store import VoiceStore, valid_id
from core.engines.base import EngineContext, EngineSettings, Health
from core.engines.errors import EngineUnavailable, InvalidRequest, Unsupported
from core.engines.tts import ReferenceVoice, SpeechRequest, TTSEngine, Voice
from core.model_store.paths import model_dir
from core.model_store.registry import ModelSpec
from core.model_store.validate import validate_model
from core.text.segment import DEFAULT_MIN_CHARS, split_sentences
from core.workers.install import env_dir, env_python
from core.workers.process import WorkerCommand, WorkerProcess
from core.workers.supervisor import RestartPolicy, WorkerState, WorkerSupervisor
from core.workers.torch_settings import TorchSettings
from plugins.tts_qwen3 import controls
from plugins.tts_qwen3.environment import NAME as ENV_NAME
from plugins.tts_qwen3.models import MODELS

log = structlog.get_logger(__name__)

WORKER_HANDLER = f"{Path(__file__).resolve().with_name('worker_side.py')}:create"
_MODELS_BY_KEY: dict[str, ModelSpec] = {spec.key: spec for spec in MODELS}
_OPTION_KEYS = ("max_new_tokens", "temperature", "top_k", "top_p", "repetition_penalty")


class Qwen3Settings(TorchSettings):
    """``dtype: auto`` is float16 on MPS; ``attention: auto`` is flash_attention_2 on CUDA in
    half precision where flash-attn is installed. ``threads`` applies in the worker."""

    #: A model key (``custom_0_6b``, ``base_0_6b``, ``custom_1_7b``, ``design_1_7b``, ...) or a
    #: model folder.
    model: str = "custom_0_6b"
    #: A Base model loaded beside ``model`` for cloned voices (key or folder).
    clone_model: str | None = None
    #: The worker's interpreter; default ``<data dir>/envs/tts_qwen3`` from
    #: ``voxgate plugins install tts_qwen3``.
    python: str | None = None
    #: Preset speaker when a request names none (default: the model's first).
    voice: str | None = None
    #: ``auto`` or a language (``zh``, ``english``, ...) when a request names none.
    language: str = "auto"
    max_new_tokens: int | None = Field(None, ge=1, le=8192)
    temperature: float | None = Field(None, gt=0, le=2)
    top_k: int | None = Field(None, ge=1)
    top_p: float | None = Field(None, gt=0, le=1)
    repetition_penalty: float | None = Field(None, gt=0)
    seed: int | None = None
    #: ``icl`` uses the reference transcript (better), ``x_vector`` only the speaker embedding;
    #: ``auto`` picks icl when the voice has a transcript.
    clone_mode: Literal["auto", "icl", "x_vector"] = "auto"
    #: Refuse speed/instructions/emotion the model cannot follow (the chain moves on); false
    #: ignores them instead.
    strict_controls: bool = True
    #: Audio is sent while a piece is still being generated, in chunks of at most this many
    #: codec frames (12.5 frames = 1 s of speech); 0 sends each piece whole once it is done.
    stream_frames: int = Field(24, ge=0, le=1000)
    #: Frames in a request's first chunk; later chunks double up to ``stream_frames``.
    first_stream_frames: int = Field(3, ge=1, le=1000)
    #: Frames already sent that are decoded again in front of each chunk, so chunks join without
    #: clicks (the codec decoder looks back up to 72 frames; more context costs more decoding).
    stream_context_frames: int = Field(25, ge=0, le=1000)
    max_segment_chars: int = Field(200, ge=20, le=2000)
    #: The first piece is cut shorter, so the first audio arrives sooner.
    first_segment_chars: int = Field(80, ge=10, le=2000)
    min_segment_chars: int = Field(DEFAULT_MIN_CHARS, ge=0, le=200)
    max_reference_seconds: float = Field(15.0, ge=3, le=60)
    prompt_cache_size: int = Field(32, ge=1, le=1024)
    #: Run one tiny generation at load so the first request does not pay for lazy setup.
    warmup: bool = True
    start_timeout: float = Field(120.0, gt=0)
    load_timeout: float = Field(900.0, gt=0)
    ping_interval: float = Field(5.0, gt=0)
    ping_timeout: float = Field(20.0, gt=0)
    #: Longest wait for the next sentence's audio before the worker counts as stuck.
    stall_timeout: float = Field(300.0, gt=0)
    restart_backoff: float = Field(1.0, gt=0)
    max_restart_backoff: float = Field(60.0, gt=0)


class Qwen3Engine(TTSEngine):
    Settings: ClassVar[type[EngineSettings]] = Qwen3Settings
    description: ClassVar[str] = (
        "Qwen3-TTS in an isolated worker: preset speakers, style instructions, voice cloning"
    )
    supports_instructions: ClassVar[bool] = True
    supports_cloning: ClassVar[bool] = True
    # One model run at a time per worker; more requests queue in the slot.
    default_max_concurrency: ClassVar[int] = 1

    settings: Qwen3Settings

    def __init__(self, settings: EngineSettings, context: EngineContext) -> None:
        super().__init__(settings, context)
        self._supervisor: WorkerSupervisor | None = None
        self._facts: dict[str, dict[str, Any]] | None = None

    # -- paths -------------------------------------------------------------------------------

    def _model_folder(self, value: str) -> Path:
        spec = _MODELS_BY_KEY.get(value)
        if spec is None:
            return Path(value).expanduser()
        return model_dir(spec, self.context.models_dir)

    def _check_model(self, value: str) -> Path:
        folder = self._model_folder(value)
        spec = _MODELS_BY_KEY.get(value) or _MODELS_BY_KEY["custom_0_6b"]
        report = validate_model(spec, folder)
        if report.ok:
            return folder
        how = (
            f"run `voxgate models download {value}` or copy the model folder there"
            if value in _MODELS_BY_KEY
            else "point `model` at a Qwen3-TTS model folder or use a model key"
        )
        raise EngineUnavailable(f"Qwen3-TTS model {value!r}: {report.summary()}; {how}")

    def _python(self) -> Path:
        if self.settings.python:
            python = Path(self.settings.python).expanduser()
        else:
            python = env_python(env_dir(ENV_NAME, self.context.data_dir))
        if not python.exists():
            raise EngineUnavailable(
                f"the Qwen3-TTS worker environment is missing ({python}); "
                f"run `voxgate plugins install {ENV_NAME}` or set `python:` in the engine settings"
            )
        return python

    # -- lifecycle ---------------------------------------------------------------------------

    async def load(self) -> None:
        python = self._python()
        main = await asyncio.to_thread(self._check_model, self.settings.model)
        clone = (
            await asyncio.to_thread(self._check_model, self.settings.clone_model)
            if self.settings.clone_model
            else None
        )
        params = {
            "main": str(main),
            "clone": str(clone) if clone else None,
            "device": self.settings.device,
            "dtype": self.settings.dtype,
            "attention": self.settings.attention,
            "threads": self.settings.threads,
            "prompt_cache_size": self.settings.prompt_cache_size,
            "warmup": self.settings.warmup,
        }

        async def setup(process: WorkerProcess) -> dict[str, Any]:
            reply = await process.call("load", params)
            return dict(reply.header["value"])

        s = self.settings
        policy = RestartPolicy(
            initial_backoff=s.restart_backoff,
            max_backoff=s.max_restart_backoff,
            ping_interval=s.ping_interval,
            ping_timeout=s.ping_timeout,
            stall_timeout=s.stall_timeout,
            start_timeout=s.start_timeout,
            setup_timeout=s.load_timeout,
        )
        command = WorkerCommand(
            name=self.name,
            python=python,
            handler=WORKER_HANDLER,
            # Nothing may be fetched at run time: the models are local folders.
            env={
                "HF_HUB_OFFLINE": "1",
                "TRANSFORMERS_OFFLINE": "1",
                "TOKENIZERS_PARALLELISM": "false",
            },
        )
        supervisor = WorkerSupervisor(command, setup, policy, on_event=self.context.on_event)
        await supervisor.start()
        self._supervisor = supervisor
        self._facts = supervisor.info.get("models", {})
        log.info(
            "qwen3.loaded",
            engine=self.name,
            device=supervisor.info.get("device"),
            dtype=supervisor.info.get("dtype"),
            kinds={role: m["kind"] for role, m in (self._facts or {}).items()},
            seconds=supervisor.info.get("load_seconds"),
        )

    async def close(self) -> None:
        supervisor, self._supervisor = self._supervisor, None
        if supervisor is not None:
            await supervisor.stop()

    async def health(self) -> Health:
        supervisor = self._supervisor
        if supervisor is None:
            return Health(ok=False, detail="worker not started")
        state = supervisor.state
        return Health(ok=state is WorkerState.READY, detail=f"worker {state.value}")

    def info(self) -> dict[str, Any]:
        supervisor = self._supervisor
        facts = {
            role: {k: v for k, v in model.items() if k != "languages"}
            for role, model in (self._facts or {}).items()
        }
        return {
            "model": self.settings.model,
            "clone_model": self.settings.clone_model,
            "device": supervisor.info.get("device") if supervisor else None,
            "dtype": supervisor.info.get("dtype") if supervisor else None,
            "models": facts,
            "worker": supervisor.status() if supervisor else {"state": "stopped"},
        }

    # -- what the models can do --------------------------------------------------------------

    def _static_facts(self) -> dict[str, dict[str, Any]]:
        """Kinds and speakers from the models' config.json (no worker needed)."""
        if self._facts is not None:
            return self._facts
        facts: dict[str, dict[str, Any]] = {}
        for role, value in (("main", self.settings.model), ("clone", self.settings.clone_model)):
            if not value:
                continue
            try:
                config = json.loads((self._model_folder(value) / "config.json").read_text("utf-8"))
            except (OSError, ValueError):
                continue
            talker = config.get("talker_config") or {}
            facts[role] = {
                "kind": config.get("tts_model_type"),
                "size": config.get("tts_model_size"),
                "speakers": sorted(talker.get("spk_id") or {}),
                "languages": ["auto", *sorted(talker.get("codec_language_id") or {})],
            }
        return facts

    def _role_of_kind(self, facts: dict[str, dict[str, Any]], kind: str) -> str | None:
        return next((role for role, f in facts.items() if f.get("kind") == kind), None)

    async def voices(self) -> list[Voice]:
        facts = await asyncio.to_thread(self._static_facts)
        main = facts.get("main", {})
        voices = [controls.describe_speaker(s) for s in main.get("speakers", [])]
        if self._role_of_kind(facts, "base") is not None:
            store = VoiceStore.for_data_dir(self.context.data_dir)
            voices += [v.describe() for v in await asyncio.to_thread(store.list)]
        return voices

    def default_voice(self) -> str | None:
        if self.settings.voice:
            return self.settings.voice.lower()
        speakers = (self._facts or {}).get("main", {}).get("speakers") or []
        return str(speakers[0]) if speakers else None

    # -- synthesis ---------------------------------------------------------------------------

    async def synthesize(self, request: SpeechRequest) -> AsyncIterator[AudioChunk]:
        supervisor = self._supervisor
        if supervisor is None:
            raise EngineUnavailable(f"engine {self.name!r} is not loaded")
        params, payload = await self._plan(request)
        async for message in supervisor.stream("synthesize", params, payload):
            samples = np.frombuffer(message.payload, dtype="<f4").astype(np.float32)
            yield AudioChunk(samples, int(message.header["value"]["sample_rate"]))

    def _pieces(self, text: str) -> list[str]:
        s = self.settings
        pieces = split_sentences(text, max_chars=s.max_segment_chars, min_chars=s.min_segment_chars)
        if pieces and len(pieces[0]) > s.first_segment_chars:
            head = split_sentences(pieces[0], max_chars=s.first_segment_chars, min_chars=0)
            pieces = [*head, *pieces[1:]]
        if not pieces:
            raise InvalidRequest("input has nothing to speak", param="input")
        return pieces

    def _refuse(self, what: str, why: str) -> None:
        if self.settings.strict_controls:
            raise Unsupported(f"{self.name}: {what} is not supported by this model ({why})")
        log.info("qwen3.control_ignored", engine=self.name, control=what, why=why)

    async def _plan(self, request: SpeechRequest) -> tuple[dict[str, Any], bytes]:
        facts = self._static_facts()
        main = facts.get("main", {})
        reference = request.reference
        if reference is None and request.voice and valid_id(request.voice):
            store = VoiceStore.for_data_dir(self.context.data_dir)
            reference = await asyncio.to_thread(store.reference, request.voice)
            if reference is None:
                raise InvalidRequest(
                    f"invalid voice {request.voice!r}: no stored voice has that id",
                    param="voice",
                )
        s = self.settings
        params: dict[str, Any] = {
            "pieces": self._pieces(request.text),
            "stream": {
                "first": s.first_stream_frames,
                "every": s.stream_frames,
                "context": s.stream_context_frames,
            },
        }
        payload = b""
        if reference is not None:
            role = self._role_of_kind(facts, "base")
            if role is None:
                raise Unsupported(
                    f"{self.name}: cloned voices need a Qwen3-TTS Base model "
                    "(set clone_model: base_0_6b, or model: base_0_6b)"
                )
            params.update(role=role, mode="clone")
            payload = await self._reference_params(reference, params)
            style_ok = False
        elif main.get("kind") == "custom_voice":
            speaker = (request.voice or self.default_voice() or "").lower()
            if speaker not in main.get("speakers", []):
                raise InvalidRequest(
                    f"invalid voice {request.voice!r}: Qwen3-TTS offers the speakers "
                    f"{', '.join(main.get('speakers', []))}",
                    param="voice",
                )
            params.update(role="main", mode="custom", speaker=speaker)
            style_ok = main.get("size") != "0b6"  # the 0.6B CustomVoice model ignores them
        elif main.get("kind") == "voice_design":
            params.update(role="main", mode="design")
            style_ok = True
        else:
            raise Unsupported(
                f"{self.name}: a Base model speaks only cloned voices; name a stored voice id"
            )
        role_facts = facts.get(params["role"], main)
        language = controls.model_language(
            request.language or self.settings.language, role_facts.get("languages", ["auto"])
        )
        if language is None:
            supported = ", ".join(role_facts.get("languages", []))
            raise InvalidRequest(
                f"Qwen3-TTS does not speak {request.language!r} (supported: {supported})",
                param="language",
            )
        params["language"] = language
        instruct = self._instruction(request, style_ok)
        if params["mode"] == "design" and not instruct:
            raise InvalidRequest(
                "a VoiceDesign model needs `instructions` describing the voice",
                param="instructions",
            )
        params["instruct"] = instruct
        params["generation"] = self._generation(request)
        seed = request.options.get("seed", self.settings.seed)
        params["seed"] = int(seed) if isinstance(seed, int | float) else None
        return params, payload

    def _instruction(self, request: SpeechRequest, style_ok: bool) -> str | None:
        try:
            emotion = controls.emotion_phrase(request.options.get("emotion"))
        except ValueError as exc:
            raise InvalidRequest(str(exc), param="emotion") from None
        speed = controls.speed_phrase(request.speed)
        parts = [p for p in (request.instructions, emotion, speed) if p]
        if not parts:
            return None
        if not style_ok:
            named = [
                name
                for name, value in (
                    ("instructions", request.instructions),
                    ("emotion", emotion),
                    ("speed", speed),
                )
                if value
            ]
            self._refuse(
                " and ".join(named),
                "only the 1.7B CustomVoice and VoiceDesign models follow style instructions",
            )
            return None
        return " ".join(parts)

    def _generation(self, request: SpeechRequest) -> dict[str, Any]:
        generation = {
            key: getattr(self.settings, key)
            for key in _OPTION_KEYS
            if getattr(self.settings, key) is not None
        }
        for key in _OPTION_KEYS:
            value = request.options.get(key)
            if value is None:
                continue
            if not isinstance(value, int | float) or isinstance(value, bool):
                raise InvalidRequest(f"{key} must be a number", param=key)
            generation[key] = value
        return generation

    async def _reference_params(self, reference: ReferenceVoice, params: dict[str, Any]) -> bytes:
        try:
            clip = await asyncio.to_thread(
                normalize_reference,
                reference.audio,
                max_seconds=self.settings.max_reference_seconds,
            )
        except ReferenceAudioError as exc:
            raise InvalidRequest(f"voice {reference.id!r}: {exc}", param="voice") from None
        mode = self.settings.clone_mode
        if mode == "icl" and not reference.text:
            raise InvalidRequest(
                f"voice {reference.id!r} has no reference_text, which clone_mode icl needs",
                param="voice",
            )
        x_vector_only = mode == "x_vector" or (mode == "auto" and not reference.text)
        payload = clip.samples.astype("<f4").tobytes()
        digest = hashlib.sha256(payload)
        digest.update((reference.text or "").encode())
        params.update(
            voice_key=f"{reference.id}:{'x' if x_vector_only else 'icl'}:{digest.hexdigest()[:20]}",
            reference_rate=clip.sample_rate,
            reference_text=None if x_vector_only else reference.text,
            x_vector_only=x_vector_only,
        )
        return payload
