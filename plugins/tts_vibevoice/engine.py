"""The ``vibevoice`` TTS engine: Microsoft's VibeVoice through transformers, in this process.

Long-form and multi-speaker: a request is one speaker's text or a ``Speaker N:`` script, each
speaker cloned from a reference clip (a file in the voices directory or a stored voice). The
text is cut into segments of about ``segment_chars`` at sentence ends; each is generated in a
worker thread and streamed as soon as it is done, with ``pause_ms`` of silence before the next.
``segment_chars: 0`` generates the whole script in one pass instead (the model sees every turn,
but nothing is heard until all of it is done).
"""

from __future__ import annotations

import asyncio
import importlib.util
import math
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, replace
from functools import partial
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import structlog

from core.audio.chunk import AudioChunk, FloatArray
from core.audio.errors import AudioError
from core.cloned_voices.normalize import ReferenceAudioError
from core.cloned_voices.store import VoiceStore, valid_id
from core.engines.base import EngineContext, EngineSettings, Health
from core.engines.errors import EngineUnavailable, InvalidRequest, Unsupported
from core.engines.threaded import ThreadedIterator
from core.engines.tts import SpeechRequest, TTSEngine, Voice
from plugins.tts_vibevoice import model_folder, voice_files
from plugins.tts_vibevoice.casting import cast
from plugins.tts_vibevoice.lookahead import Lookahead
from plugins.tts_vibevoice.reference_cache import ReferenceCache, file_key, read_file
from plugins.tts_vibevoice.script import Turn, pack_sentences, parse_turns, speaker_count
from plugins.tts_vibevoice.settings import VibeVoiceSettings

if TYPE_CHECKING:
    from plugins.tts_vibevoice.runtime import GenerationOptions, PromptTurn, VibeVoiceRuntime

log = structlog.get_logger(__name__)

INSTALL_HINT = "pip install 'voxgate[tts_vibevoice]'"


@dataclass(frozen=True)
class _Plan:
    """One request, resolved: prompts in order and how to generate each."""

    prompts: list[list[PromptTurn]]
    options: GenerationOptions
    pause_ms: int
    voices: list[str | None]

    def options_for(self, index: int, chars: int, settings: VibeVoiceSettings) -> GenerationOptions:
        seed = None if self.options.seed is None else self.options.seed + index
        budget = settings.max_new_tokens or max(24, math.ceil(settings.max_frames_per_char * chars))
        return replace(self.options, seed=seed, max_new_tokens=budget)


def _number(options: dict[str, object], key: str, low: float, high: float) -> float | None:
    value = options.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise InvalidRequest(f"{key} must be a number from {low:g} to {high:g}", param=key)
    return float(value)


class VibeVoiceEngine(TTSEngine):
    Settings: ClassVar[type[EngineSettings]] = VibeVoiceSettings
    description: ClassVar[str] = (
        "VibeVoice (transformers): long-form multi-speaker speech cloned from reference clips"
    )
    supports_cloning: ClassVar[bool] = True
    # One generation at a time per model; more requests queue in the slot.
    default_max_concurrency: ClassVar[int] = 1

    settings: VibeVoiceSettings

    def __init__(self, settings: EngineSettings, context: EngineContext) -> None:
        super().__init__(settings, context)
        self._runtime: VibeVoiceRuntime | None = None
        self._module: Any = None  # plugins.tts_vibevoice.runtime, once loaded
        self._cache: ReferenceCache | None = None
        self._segments_done = 0
        self._first_file: str | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    async def load(self) -> None:
        s = self.settings
        folder = await asyncio.to_thread(model_folder.resolve, s.model, self.context.models_dir)
        if s.voices_dir is not None and not s.voices_dir.expanduser().is_dir():
            raise EngineUnavailable(f"the voices directory {s.voices_dir} does not exist")
        self._module = _import_runtime()
        runtime = await asyncio.to_thread(
            self._module.VibeVoiceRuntime.load,
            folder,
            device=s.device,
            dtype=s.dtype,
            attention=s.attention,
            threads=s.threads,
        )
        self._cache = ReferenceCache(
            s.speaker_cache_size,
            sample_rate=runtime.sample_rate,
            max_seconds=s.max_reference_seconds,
        )
        self._runtime = runtime
        await self.voices()  # notes the default voice
        warmup = await asyncio.to_thread(runtime.warm_up) if s.warmup else None
        preloaded = await asyncio.to_thread(self._preload) if s.preload_voices else 0
        log.info(
            "vibevoice.loaded",
            engine=self.name,
            model=str(folder),
            device=runtime.device,
            dtype=runtime.facts()["dtype"],
            seconds=round(runtime.load_seconds, 3),
            warmup_seconds=None if warmup is None else round(warmup, 3),
            voices_preloaded=preloaded,
        )

    async def close(self) -> None:
        runtime, self._runtime = self._runtime, None
        if self._cache is not None:
            self._cache.clear()
        if runtime is not None:
            await asyncio.to_thread(runtime.close)
            log.info("vibevoice.closed", engine=self.name)

    async def health(self) -> Health:
        if self._runtime is None:
            return Health(ok=False, detail="model not loaded")
        return Health(ok=True, detail=f"{self._runtime.device}")

    def info(self) -> dict[str, Any]:
        runtime = self._runtime
        return {
            "model": self.settings.model,
            "voices_dir": str(self.settings.voices_dir) if self.settings.voices_dir else None,
            **(runtime.facts() if runtime else {"loaded": False}),
            "speaker_cache": self._cache.stats() if self._cache else None,
            "segments_synthesized": self._segments_done,
        }

    def _preload(self) -> int:
        cache, folder = self._cache, self.settings.voices_dir
        assert cache is not None
        if folder is None:
            return 0
        count = 0
        for voice in voice_files.scan(folder.expanduser())[: cache.capacity]:
            try:
                cache.get(file_key(voice.path), partial(read_file, voice.path))
                count += 1
            except (OSError, AudioError, ReferenceAudioError) as exc:
                log.warning(
                    "vibevoice.voice_unusable",
                    engine=self.name,
                    file=voice.path.name,
                    error=str(exc),
                )
        return count

    # -- voices ------------------------------------------------------------------------------

    def _files(self) -> list[voice_files.VoiceFile]:
        folder = self.settings.voices_dir
        if folder is None:
            return []
        try:
            return voice_files.scan(folder.expanduser())
        except OSError:
            return []

    def _store(self) -> VoiceStore:
        return VoiceStore.for_data_dir(self.context.data_dir)

    def _list_voices(self) -> list[Voice]:
        files = self._files()
        self._first_file = files[0].id if files else None
        voices = [f.describe() for f in files]
        voices += [stored.describe() for stored in self._store().list()]
        return voices

    async def voices(self) -> list[Voice]:
        return await asyncio.to_thread(self._list_voices)

    def default_voice(self) -> str | None:
        # The directory's first file as of the last listing (no disk access on the event loop).
        return self.settings.voice or self._first_file

    def _clip(self, name: str, param: str) -> FloatArray:
        """The prepared reference clip of voice ``name`` (blocking: may decode a file)."""
        cache = self._cache
        assert cache is not None
        try:
            found = voice_files.find(self._files(), name)
            if found is not None:
                return cache.get(file_key(found.path), lambda: read_file(found.path))
            if valid_id(name):
                store = self._store()
                stored = store.get(name)
                if stored is not None:
                    key = ("store", stored.id, stored.audio_sha256)
                    return cache.get(key, lambda: store.load_audio(stored))
        except (OSError, AudioError, ReferenceAudioError) as exc:
            raise InvalidRequest(f"voice {name!r} cannot be used: {exc}", param=param) from None
        offered = ", ".join(v.id for v in self._files()[:20]) or "none"
        raise InvalidRequest(
            f"invalid voice {name!r}: VibeVoice offers the voice files {offered}, or a stored "
            "voice id",
            param=param,
        )

    # -- synthesis ---------------------------------------------------------------------------

    def _check_controls(self, request: SpeechRequest) -> None:
        unsupported = [
            name
            for name, used in (
                ("speed", request.speed != 1.0),
                ("instructions", bool(request.instructions)),
            )
            if used
        ]
        if not unsupported:
            return
        what = " and ".join(unsupported)
        if self.settings.strict_controls:
            raise Unsupported(f"{self.name}: {what} is not supported by VibeVoice")
        log.info("vibevoice.control_ignored", engine=self.name, control=what)

    def _plan(self, request: SpeechRequest) -> _Plan:
        """Turns, voices and generation options of ``request`` (blocking: may decode clips)."""
        s = self.settings
        turns = parse_turns(request.text)
        if not turns or not turns[0].text:
            raise InvalidRequest("input has nothing to speak", param="input")
        pool = [v for v in (s.voice, *(f.id for f in self._files())) if v]
        chosen = cast(request, speaker_count(turns), pool)
        clips = [self._clip(v, chosen.param) if v else None for v in chosen.voices]
        options = request.options
        cfg = _number(options, "cfg_scale", 0.5, 2.0)
        steps = _number(options, "diffusion_steps", 1, 100)
        seed = options.get("seed", s.seed)
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
            raise InvalidRequest("seed must be a whole number, 0 or more", param="seed")
        pause = _number(options, "pause_ms", 0, 5000)
        generation = self._module.GenerationOptions(
            max_new_tokens=s.max_new_tokens or 0,
            cfg_scale=cfg if cfg is not None else s.cfg_scale,
            diffusion_steps=int(steps) if steps is not None else s.diffusion_steps,
            seed=seed,
            min_new_tokens=s.min_new_tokens,
            suppress_tokens=s.suppress_tokens,
        )
        return _Plan(
            prompts=self._prompts(turns, clips),
            options=generation,
            pause_ms=int(pause) if pause is not None else s.pause_ms,
            voices=chosen.voices,
        )

    def _prompts(self, turns: list[Turn], clips: list[FloatArray | None]) -> list[list[PromptTurn]]:
        prompt_turn = self._module.PromptTurn
        limit = self.settings.segment_chars
        if limit == 0:
            # One pass: each speaker's clip rides on that speaker's first turn.
            seen: set[int] = set()
            whole = []
            for turn in turns:
                first = turn.speaker not in seen
                seen.add(turn.speaker)
                clip = clips[turn.speaker] if first else None
                whole.append(prompt_turn(turn.speaker, turn.text, clip))
            return [whole]
        return [
            [prompt_turn(0, piece, clips[turn.speaker])]
            for turn in turns
            for piece in pack_sentences(turn.text, limit)
        ]

    async def synthesize(self, request: SpeechRequest) -> AsyncIterator[AudioChunk]:
        runtime = self._runtime
        if runtime is None:
            raise EngineUnavailable(f"engine {self.name!r} is not loaded")
        self._check_controls(request)
        plan = await asyncio.to_thread(self._plan, request)
        log.info(
            "vibevoice.request",
            engine=self.name,
            segments=len(plan.prompts),
            speakers=len(plan.voices),
            chars=len(request.text),
        )
        gate = Lookahead(self.settings.lookahead_segments)
        chunks = ThreadedIterator(
            lambda: self._produce(runtime, plan, gate), name=f"vibevoice-{self.name}"
        )
        try:
            async for chunk in chunks:
                gate.delivered()
                yield chunk
        finally:
            gate.cancel()
            await chunks.aclose()

    def _produce(
        self, runtime: VibeVoiceRuntime, plan: _Plan, gate: Lookahead
    ) -> Iterator[AudioChunk]:
        """Runs in the generation thread: one chunk per segment, in order."""
        rate = runtime.sample_rate
        pause = np.zeros(rate * plan.pause_ms // 1000, dtype=np.float32)
        started = time.perf_counter()
        delivered = 0
        for index, prompt in enumerate(plan.prompts):
            if not gate.reserve():
                return
            chars = sum(len(turn.text) for turn in prompt)
            options = plan.options_for(index, chars, self.settings)
            segment_started = time.perf_counter()
            samples = runtime.generate(prompt, options, gate.cancelled)
            if gate.cancelled.is_set():
                return
            self._segments_done += 1
            log.debug(
                "vibevoice.segment",
                engine=self.name,
                index=index,
                chars=chars,
                seconds=round(time.perf_counter() - segment_started, 3),
                audio_seconds=round(len(samples) / rate, 3),
            )
            if len(samples) == 0:
                gate.unreserve()
                log.warning("vibevoice.segment_without_audio", engine=self.name, index=index)
                continue
            if delivered and len(pause):
                samples = np.concatenate([pause, samples])
            if delivered == 0:
                log.info(
                    "vibevoice.first_audio",
                    engine=self.name,
                    seconds=round(time.perf_counter() - started, 3),
                )
            delivered += 1
            yield AudioChunk(samples, rate)
        if delivered == 0:
            raise EngineUnavailable(
                f"{self.name}: the model ended every segment without audio "
                f"({len(plan.prompts)} segments)"
            )


def _import_runtime() -> Any:
    """The heavy module (torch, transformers); a clear error when they cannot run VibeVoice."""
    if importlib.util.find_spec("diffusers") is None:
        raise EngineUnavailable(
            f"VibeVoice needs diffusers for its noise scheduler: {INSTALL_HINT}"
        )
    try:
        from plugins.tts_vibevoice import runtime
    except ImportError as exc:
        raise EngineUnavailable(
            f"VibeVoice needs torch and transformers>=5.23 ({exc}): {INSTALL_HINT}"
        ) from None
    return runtime
