"""The ``hibari`` TTS engine: small, fast, offline English speech (24 kHz).

Text is cut into sentences by the shared segmenter; each sentence is turned into phonemes and
synthesized in a worker thread, and its audio is handed on as soon as it exists, so the first
sentence plays while the rest are still being made.
"""

from __future__ import annotations

import asyncio
import re
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any, ClassVar

import numpy as np
import structlog
from pydantic import Field

from core.audio.chunk import AudioChunk, FloatArray
from core.engines.base import EngineContext, EngineSettings
from core.engines.errors import EngineUnavailable, InvalidRequest, Unsupported
from core.engines.threaded import ThreadedIterator
from core.engines.tts import (
    SegmentedSpeechSettings,
    SpeechRequest,
    TTSEngine,
    Voice,
    sentences_to_speak,
)
from core.text.script import is_cjk
from core.voice_match import language_family
from plugins.tts_hibari import voices as catalog

log = structlog.get_logger(__name__)

SAMPLE_RATE = 24_000
# The model's own pace control; beyond 2x its phoneme durations stop shrinking.
MIN_SPEED, MAX_SPEED = 0.25, 2.0
INSTALL_HINT = "install it with: pip install 'voxgate[tts_hibari]'"
#: hibari reads whole numbers up to 36 digits (decillions) and fails on longer ones; those are
#: read digit by digit, as a person reads out a serial number.
_LONG_NUMBER = re.compile(r"[0-9](?:,?[0-9]){36,}")


class HibariSettings(SegmentedSpeechSettings):
    #: Voice used when a request names none. Only "heart" ships with the package.
    voice: str = "heart"
    #: onnxruntime threads per synthesis (one core runs the model ~100x faster than real time).
    threads: int = Field(1, ge=1, le=64)
    #: Fetch other hibari voices (emma, fenrir, fable, kore) into the models directory on first
    #: use. Off by default: nothing is downloaded unless asked for.
    download_voices: bool = False
    #: Fixes the noise component so the same text always gives the same audio.
    seed: int | None = None


class HibariEngine(TTSEngine):
    Settings: ClassVar[type[EngineSettings]] = HibariSettings
    description: ClassVar[str] = "hibari-tts: fast offline English speech, 24 kHz (voice: heart)"
    # Model runs are thread-safe and use one core each; two requests fill two cores.
    default_max_concurrency: ClassVar[int] = 2

    settings: HibariSettings

    def __init__(self, settings: EngineSettings, context: EngineContext) -> None:
        super().__init__(settings, context)
        self._speakers: dict[str, Any] = {}  # voice id -> loaded hibari.Hibari
        self._load_lock = threading.Lock()
        # The grapheme-to-phoneme front end is shared between voices of one accent and is not
        # known to be thread-safe, so each one is used under its own lock.
        self._g2p_locks = {False: threading.Lock(), True: threading.Lock()}

    # -- lifecycle -----------------------------------------------------------------------------

    async def load(self) -> None:
        await asyncio.to_thread(self._load_default)
        log.info(
            "tts.voice_loaded",
            engine=self.name,
            voice=self.settings.voice,
        )

    def _load_default(self) -> None:
        try:
            voices = catalog.registry()
        except ImportError as exc:
            raise EngineUnavailable(f"hibari-tts is not installed ({exc}); {INSTALL_HINT}") from exc
        voice = voices.get(self.settings.voice)
        if voice is None or not self._offered(voice):
            raise EngineUnavailable(
                f"hibari voice {self.settings.voice!r} is not available offline "
                f"(bundled: heart; others need download_voices: true or the model file in "
                f"{self.context.models_dir / 'hibari'})"
            )
        speaker = self._speaker(voice)
        # The first call loads the lexicons and tagger; pay for it now, not on a request.
        with self._g2p_locks[voice.british]:
            phonemes = speaker.phonemize("Warm up.")
        speaker.from_ids(speaker.ids(phonemes[0]), 1.0, np.random.default_rng(0))

    async def close(self) -> None:
        with self._load_lock:
            self._speakers.clear()

    def info(self) -> dict[str, Any]:
        return {
            "voice": self.settings.voice,
            "sample_rate": SAMPLE_RATE,
            "threads": self.settings.threads,
            "loaded_voices": sorted(self._speakers),
        }

    # -- voices --------------------------------------------------------------------------------

    def _offered(self, voice: catalog.HibariVoice) -> bool:
        return catalog.offered(voice, self.context.models_dir, self.settings.download_voices)

    async def voices(self) -> list[Voice]:
        try:
            voices = catalog.registry()
        except ImportError:
            return []
        return [v.describe() for v in voices.values() if self._offered(v)]

    def default_voice(self) -> str | None:
        return self.settings.voice

    def _resolve(self, requested: str | None) -> catalog.HibariVoice:
        name = requested or self.settings.voice
        voice = catalog.registry().get(name)
        if voice is None:
            known = ", ".join(v.id for v in catalog.registry().values() if self._offered(v))
            raise InvalidRequest(f"invalid voice {name!r}: hibari offers {known}", param="voice")
        if not self._offered(voice):
            raise InvalidRequest(
                f"hibari voice {name!r} is not installed: set download_voices: true in the "
                "engine settings to fetch it, or use the bundled voice 'heart'",
                param="voice",
            )
        return voice

    def _speaker(self, voice: catalog.HibariVoice) -> Any:
        """The loaded model for a voice (loading, or downloading if allowed, on first use)."""
        with self._load_lock:
            speaker = self._speakers.get(voice.id)
            if speaker is not None:
                return speaker
            from hibari import Hibari

            path = catalog.local_path(voice, self.context.models_dir)
            if path is None:
                log.info("hibari.voice_download", engine=self.name, voice=voice.id)
                try:
                    path = catalog.download(voice, self.context.models_dir)
                except RuntimeError as exc:  # hibari's wording for network and checksum failures
                    raise EngineUnavailable(str(exc)) from exc
            # Voices of the same accent share one G2P front end (lexicons are the big part).
            g2p = next(
                (
                    s.g2p
                    for vid, s in self._speakers.items()
                    if catalog.registry()[vid].british == voice.british
                ),
                None,
            )
            try:
                speaker = Hibari(
                    voice=voice.id, model=str(path), threads=self.settings.threads, g2p=g2p
                )
            except Exception as exc:  # onnxruntime reports a bad or truncated file this way
                raise EngineUnavailable(f"hibari could not load {path}: {exc}") from exc
            self._speakers[voice.id] = speaker
            return speaker

    # -- synthesis -----------------------------------------------------------------------------

    async def synthesize(self, request: SpeechRequest) -> AsyncIterator[AudioChunk]:
        if request.reference is not None:
            raise Unsupported("hibari cannot speak with cloned voices")
        family = language_family(request.language)
        if family not in (None, "en"):
            raise Unsupported(f"hibari speaks English only, not {request.language!r}")
        if any(is_cjk(ch) for ch in request.text if ch.isalpha()):
            # Its front end would skip those words in silence; another engine may read them.
            raise Unsupported("hibari speaks English only: it cannot read Chinese or Japanese text")
        voice = self._resolve(request.voice)
        pieces = sentences_to_speak(readable_numbers(request.text), self.settings)
        speed = min(MAX_SPEED, max(MIN_SPEED, request.speed))
        # hibari's phonemizer is Python: the next sentence waits until the first has left.
        audio = ThreadedIterator(
            lambda: self._generate(voice, pieces, speed), name="hibari-tts", first_item_waits=True
        )
        try:
            async for samples in audio:
                yield AudioChunk(samples, SAMPLE_RATE)
        finally:
            await audio.aclose()

    def _generate(
        self, voice: catalog.HibariVoice, pieces: list[str], speed: float
    ) -> Iterator[FloatArray]:
        """Runs in a worker thread: one array per sentence, as each is synthesized."""
        speaker = self._speaker(voice)
        rng = np.random.default_rng(self.settings.seed)
        spoken = False
        for piece in pieces:
            with self._g2p_locks[voice.british]:
                phonemes = speaker.phonemize(piece)
            for part in phonemes:
                samples = speaker.from_ids(speaker.ids(part), speed, rng)
                if len(samples):
                    spoken = True
                    samples = np.ascontiguousarray(samples, dtype=np.float32)
                    yield np.clip(samples, -1.0, 1.0, out=samples)
        if not spoken:
            # e.g. Chinese text: hibari's front end finds nothing it can pronounce.
            raise Unsupported("hibari found nothing it can pronounce (it speaks English only)")


def readable_numbers(text: str) -> str:
    """``text`` with each number too long for hibari's number reader spelled as digits."""
    return _LONG_NUMBER.sub(lambda found: " ".join(found.group().replace(",", "")), text)
