"""Which voice each TTS engine in a chain is asked for.

Order of preference on an engine: its ``voice_map`` from the YAML; the voice itself if the engine
offers it; otherwise the engine's voice closest in language and gender to the requested one (so a
fallback keeps the speaker as similar as it can). OpenAI names (alloy, echo, ...) go through
``voices.aliases`` first.
"""

from __future__ import annotations

import dataclasses

from core.engines.errors import InvalidRequest
from core.engines.tts import SpeechRequest, TTSEngine, Voice
from core.runtime.generation import Generation
from core.voice_match import closest_voice


class VoiceChooser:
    def __init__(self, generation: Generation, requested: str | None) -> None:
        self.generation = generation
        self.requested = requested
        aliases = generation.config.config.voices.aliases
        self.voice = aliases.get(requested, requested) if requested else None
        #: engine name -> voice id it was given (None: the engine's default)
        self.used: dict[str, str | None] = {}

    async def _describe(self, voice: str) -> Voice | None:
        """Find a voice's description on any TTS engine of this generation."""
        for slot in self.generation.slots.values():
            engine = slot.engine
            if not isinstance(engine, TTSEngine):
                continue
            for offered in await engine.voices():
                if offered.id == voice:
                    return offered
        return None

    async def choose(self, engine: TTSEngine) -> str | None:
        if self.voice is None:
            return None
        mapped = self.generation.config.engines[engine.name].spec.voice_map.get(self.voice)
        if mapped is not None:
            return mapped
        offered = await engine.voices()
        ids = {v.id for v in offered}
        if not offered or self.voice in ids:
            return self.voice  # engines that list nothing take the name as given
        voice = self.voice
        if "," in voice:
            # "a,b": one voice per speaker of a multi-speaker script, passed on when the engine
            # offers them all; otherwise the engine is asked for the first speaker's voice.
            parts = [part.strip() for part in voice.split(",") if part.strip()]
            if len(parts) > 1 and all(part in ids for part in parts):
                return ",".join(parts)
            voice = parts[0] if parts else voice
            if voice in ids:
                return voice
        target = await self._describe(voice)
        if target is None:
            names = ", ".join(v.id for v in offered[:20])
            aliases = ", ".join(self.generation.config.config.voices.aliases)
            raise InvalidRequest(
                f"invalid voice {self.requested!r}: {engine.name!r} offers {names}"
                + (f"; names that map to them: {aliases}" if aliases else "")
                + " (see GET /v1/voices)",
                param="voice",
            )
        closest = closest_voice(target, offered)
        return closest.id if closest else None

    async def request_for(self, engine: TTSEngine, request: SpeechRequest) -> SpeechRequest:
        voice = await self.choose(engine)
        self.used[engine.name] = voice
        return dataclasses.replace(request, voice=voice)

    def headers(self, engine: str) -> dict[str, str]:
        voice = self.used.get(engine)
        return {"x-voxgate-voice": voice} if voice else {}
