"""Merging one request's fields with the engine's settings, refusing what the model cannot do."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Literal

from core.engines.errors import InvalidRequest, Unsupported
from core.engines.stt import TranscriptionRequest
from plugins.stt_whisper.settings import WhisperSettings


@dataclass(frozen=True, slots=True)
class DecodeOptions:
    language: str | None
    task: Literal["transcribe", "translate"]
    initial_prompt: str | None
    temperatures: tuple[float, ...]
    word_timestamps: bool
    vad_filter: bool
    #: The window short clips are encoded in (30: Whisper's own, for every clip).
    window_seconds: float = 30.0


def language_code(value: str) -> str:
    """``en``, ``EN``, ``en-US`` and ``en_GB`` all mean ``en`` to Whisper."""
    return value.replace("_", "-").split("-")[0].strip().lower()


def decode_options(
    request: TranscriptionRequest,
    settings: WhisperSettings,
    *,
    multilingual: bool,
    languages: Collection[str],
) -> DecodeOptions:
    model = settings.model
    if request.task == "translate" and not multilingual:
        raise Unsupported(
            f"Whisper model {model!r} is English-only and cannot translate: use a "
            "multilingual model (e.g. base)"
        )
    requested = request.language or settings.language
    language = language_code(requested) if requested else None
    if language is not None and language not in languages:
        raise InvalidRequest(
            f"unknown language {requested!r}: use an ISO 639-1 code such as en, de or zh",
            param="language",
        )
    if language not in (None, "en") and not multilingual:
        raise Unsupported(
            f"Whisper model {model!r} understands English only, not {requested!r}: use a "
            "multilingual model (e.g. base)"
        )
    temperatures = settings.temperatures
    if request.temperature:  # 0 keeps Whisper's fallback schedule, as OpenAI's API does
        temperatures = (request.temperature,)
    elif request.options.get("temperature_fallback") is False:
        # A quick pass (a live partial transcript): never decode the same audio again.
        temperatures = temperatures[:1]
    # A caller that already cut the audio with a VAD (a live session) may turn trimming off.
    vad_filter = request.options.get("vad_filter")
    live = request.options.get("live") is True
    short = settings.short_window == "all" or (settings.short_window == "live" and live)
    return DecodeOptions(
        language=language,
        task=request.task,
        initial_prompt=request.prompt or settings.initial_prompt,
        temperatures=temperatures,
        word_timestamps=request.word_timestamps or settings.word_timestamps,
        vad_filter=vad_filter if isinstance(vad_filter, bool) else settings.vad_filter,
        window_seconds=settings.window_seconds if short else 30.0,
    )
