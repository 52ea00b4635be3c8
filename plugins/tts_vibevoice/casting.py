"""Which voice each speaker of a request speaks with.

The voices come from the request: ``speakers`` (a list of voice ids, or one comma-separated
string, sent as an extra body field) or else ``voice`` (one id, or ``"a,b"``: plain OpenAI
clients can send that, and the daemon's voice chooser passes it on when this engine offers
every voice named). Speaker ``i`` of the script takes voice ``i``. Speakers left
without one take the engine's default voice and then the voices directory's files in order,
skipping voices already cast; with no voices anywhere, the model speaks in a voice of its own.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.engines.errors import InvalidRequest
from core.engines.tts import SpeechRequest


@dataclass(frozen=True)
class Cast:
    #: One voice id per speaker; None where the model speaks without a reference.
    voices: list[str | None]
    #: The request field the voices came from, for error messages.
    param: str


def requested(request: SpeechRequest) -> tuple[list[str], str]:
    raw = request.options.get("speakers")
    if raw is None:
        names = request.voice.split(",") if request.voice else []
        return [n.strip() for n in names if n.strip()], "voice"
    if isinstance(raw, str):
        names = raw.split(",")
    elif isinstance(raw, list) and all(isinstance(name, str) for name in raw):
        names = raw
    else:
        raise InvalidRequest(
            "speakers must be a list of voice ids or one comma-separated string",
            param="speakers",
        )
    cleaned = [n.strip() for n in names if n.strip()]
    if not cleaned:
        raise InvalidRequest("speakers names no voice", param="speakers")
    return cleaned, "speakers"


def cast(request: SpeechRequest, speakers: int, pool: list[str]) -> Cast:
    """Voices for ``speakers`` speakers; ``pool`` holds the fill-in voices, preferred first."""
    names, param = requested(request)
    chosen: list[str | None] = list(names[:speakers])
    spare = [voice for voice in pool if voice not in chosen]
    while len(chosen) < speakers:
        if spare:
            chosen.append(spare.pop(0))
        elif not names and not pool:
            chosen.append(None)
        else:
            raise InvalidRequest(
                f"the input has {speakers} speakers but only {len(chosen)} voices are "
                "available; name one voice per speaker in `speakers`",
                param="speakers",
            )
    return Cast(chosen, param)
