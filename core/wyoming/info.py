"""``describe`` -> ``info``: what the daemon offers, read from the configuration in force.

One speech-to-text program whose models are the route Wyoming uses (fallback included) and each
engine of it (that engine alone); one text-to-speech program listing every voice of the engines
in its chain. Home Assistant offers the languages and voices it finds here.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import importlib.metadata

from wyoming.info import AsrModel, AsrProgram, Attribution, Info, TtsProgram, TtsVoice

from core.config.schema import WyomingConfig
from core.engines.base import Capability
from core.engines.stt import STTEngine
from core.engines.tts import TTSEngine, Voice
from core.routing.errors import RoutingError
from core.runtime.generation import Generation
from core.runtime.slot import EngineSlot

PROGRAM = "voxgate"
#: A voice list that takes longer than this is left out rather than delaying ``info``.
_VOICES_TIMEOUT = 2.0


@functools.cache
def _version() -> str | None:
    try:
        return importlib.metadata.version("voxgate")
    except importlib.metadata.PackageNotFoundError:
        return None


def _attribution(slot: EngineSlot | None = None) -> Attribution:
    return Attribution(name=slot.resolved.spec.engine if slot else PROGRAM, url="")


def _chain(generation: Generation, capability: Capability, model: str | None) -> list[EngineSlot]:
    try:
        return list(generation.router.chain(capability, model).slots)
    except RoutingError:
        return []  # nothing serves it under this mode: the program is not offered


def _stt_languages(slot: EngineSlot, fallback: list[str]) -> list[str]:
    engine = slot.engine
    known = engine.languages() if isinstance(engine, STTEngine) else ()
    return list(known) or list(fallback)


def _asr(generation: Generation, settings: WyomingConfig) -> list[AsrProgram]:
    slots = _chain(generation, Capability.STT, settings.stt_model)
    if not slots:
        return []
    per_engine = [
        AsrModel(
            name=slot.name,
            attribution=_attribution(slot),
            installed=True,
            description=slot.resolved.spec.description or slot.engine.description or None,
            version=None,
            languages=_stt_languages(slot, settings.languages),
        )
        for slot in slots
    ]
    models = per_engine
    route = settings.stt_model or Capability.STT.value
    if route not in {slot.name for slot in slots}:
        languages = sorted({language for model in per_engine for language in model.languages})
        chain = ", then ".join(slot.name for slot in slots)
        route_model = AsrModel(
            name=route,
            attribution=_attribution(),
            installed=True,
            description=f"voxgate speech-to-text: {chain}",
            version=_version(),
            languages=languages,
        )
        models = [route_model, *per_engine]
    return [
        AsrProgram(
            name=PROGRAM,
            attribution=_attribution(),
            installed=True,
            description="voxgate speech-to-text",
            version=_version(),
            models=models,
            supports_transcript_streaming=settings.stream_transcripts,
            requires_external_vad=settings.end_of_speech_silence is None,
        )
    ]


async def offered_voices(slot: EngineSlot) -> list[Voice]:
    """The voices a TTS engine offers; none when it cannot say in time."""
    engine = slot.engine
    if not isinstance(engine, TTSEngine):
        return []
    with contextlib.suppress(Exception):
        return await asyncio.wait_for(engine.voices(), _VOICES_TIMEOUT)
    return []


async def _tts(generation: Generation, settings: WyomingConfig) -> list[TtsProgram]:
    slots = _chain(generation, Capability.TTS, settings.tts_model)
    if not slots:
        return []
    offered = await asyncio.gather(*(offered_voices(slot) for slot in slots))
    voices: dict[str, TtsVoice] = {}
    for slot, engine_voices in zip(slots, offered, strict=True):
        for voice in engine_voices:
            if voice.id in voices:
                continue
            voices[voice.id] = TtsVoice(
                name=voice.id,
                attribution=_attribution(slot),
                installed=True,
                description=f"{voice.name or voice.id} ({slot.name})",
                version=None,
                languages=[voice.language] if voice.language else list(settings.languages),
            )
    return [
        TtsProgram(
            name=PROGRAM,
            attribution=_attribution(),
            installed=True,
            description="voxgate text-to-speech",
            version=_version(),
            voices=list(voices.values()),
            supports_synthesize_streaming=True,
        )
    ]


async def describe(generation: Generation, settings: WyomingConfig) -> Info:
    return Info(asr=_asr(generation, settings), tts=await _tts(generation, settings))
