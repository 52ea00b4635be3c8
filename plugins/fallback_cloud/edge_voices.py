"""Common Microsoft Edge neural voices, known without asking the service.

Used while the full list has not been fetched (offline, or before the background fetch ends), so
voice listing and closest-voice fallback work without the internet.
"""

from __future__ import annotations

from typing import Any

from core.engines.tts import Gender, Voice

_BUILT_IN: tuple[tuple[str, Gender], ...] = (
    ("en-US-AriaNeural", "female"),
    ("en-US-JennyNeural", "female"),
    ("en-US-EmmaNeural", "female"),
    ("en-US-AvaNeural", "female"),
    ("en-US-GuyNeural", "male"),
    ("en-US-AndrewNeural", "male"),
    ("en-US-BrianNeural", "male"),
    ("en-US-ChristopherNeural", "male"),
    ("en-GB-SoniaNeural", "female"),
    ("en-GB-LibbyNeural", "female"),
    ("en-GB-RyanNeural", "male"),
    ("en-AU-NatashaNeural", "female"),
    ("en-AU-WilliamNeural", "male"),
    ("en-IN-NeerjaNeural", "female"),
    ("en-IN-PrabhatNeural", "male"),
    ("de-DE-KatjaNeural", "female"),
    ("de-DE-ConradNeural", "male"),
    ("fr-FR-DeniseNeural", "female"),
    ("fr-FR-HenriNeural", "male"),
    ("es-ES-ElviraNeural", "female"),
    ("es-ES-AlvaroNeural", "male"),
    ("es-MX-DaliaNeural", "female"),
    ("es-MX-JorgeNeural", "male"),
    ("it-IT-ElsaNeural", "female"),
    ("it-IT-DiegoNeural", "male"),
    ("pt-BR-FranciscaNeural", "female"),
    ("pt-BR-AntonioNeural", "male"),
    ("nl-NL-ColetteNeural", "female"),
    ("nl-NL-MaartenNeural", "male"),
    ("ru-RU-SvetlanaNeural", "female"),
    ("ru-RU-DmitryNeural", "male"),
    ("ja-JP-NanamiNeural", "female"),
    ("ja-JP-KeitaNeural", "male"),
    ("ko-KR-SunHiNeural", "female"),
    ("ko-KR-InJoonNeural", "male"),
    ("zh-CN-XiaoxiaoNeural", "female"),
    ("zh-CN-YunxiNeural", "male"),
    ("zh-TW-HsiaoChenNeural", "female"),
    ("hi-IN-SwaraNeural", "female"),
    ("hi-IN-MadhurNeural", "male"),
    ("ar-SA-ZariyahNeural", "female"),
    ("ar-SA-HamedNeural", "male"),
)


def _language(voice_id: str) -> str:
    return "-".join(voice_id.split("-")[:2])


BUILT_IN_VOICES: tuple[Voice, ...] = tuple(
    Voice(id=v, name=v, language=_language(v), gender=g) for v, g in _BUILT_IN
)


def from_service(entries: list[dict[str, Any]]) -> list[Voice]:
    """The service's voice list (``edge_tts.list_voices()``) in voxgate's terms."""
    voices = []
    for entry in entries:
        short = entry.get("ShortName")
        if not isinstance(short, str):
            continue
        gender = str(entry.get("Gender", "")).lower()
        voices.append(
            Voice(
                id=short,
                name=short,
                language=entry.get("Locale") or _language(short),
                gender="female" if gender == "female" else "male" if gender == "male" else None,
                description=str(entry.get("FriendlyName", "")),
            )
        )
    return voices
