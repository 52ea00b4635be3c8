"""hibari's voice registry, and where each voice's model file is on this machine.

Only "heart" ships inside the hibari-tts wheel. The others are separate model files that hibari
itself would download on first use; here they are used when already present (in the models
directory or hibari's own cache) and fetched only when the engine's settings allow it.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

from core.engines.tts import Gender, Voice


@dataclass(frozen=True)
class HibariVoice:
    id: str
    language: str
    gender: Gender | None
    accent: str
    file: str
    bundled: bool
    british: bool
    sha256: str

    def describe(self) -> Voice:
        where = "in the package" if self.bundled else "downloaded"
        return Voice(
            id=self.id,
            name=self.id.capitalize(),
            language=self.language,
            gender=self.gender,
            description=f"hibari, {self.accent} English ({where})",
        )


def _gender(value: object) -> Gender | None:
    return value if value in ("female", "male", "neutral") else None


@functools.cache
def registry() -> dict[str, HibariVoice]:
    """Every voice hibari knows, bundled or not. Raises ImportError without hibari-tts."""
    from hibari.voices import VOICES

    return {
        name: HibariVoice(
            id=name,
            language=str(entry["language"]),
            gender=_gender(entry.get("gender")),
            accent=str(entry.get("accent", "")),
            file=str(entry["file"]),
            bundled=bool(entry.get("bundled", False)),
            british=bool(entry.get("british", False)),
            sha256=str(entry["sha256"]),
        )
        for name, entry in VOICES.items()
    }


def local_path(voice: HibariVoice, models_dir: Path) -> Path | None:
    """The voice's model file if it is on this machine, else ``None``."""
    from hibari import voices as hibari_voices

    if voice.bundled:
        return Path(hibari_voices.voice_path(voice.id, download_missing=False))
    for folder in (models_dir / "hibari", Path(hibari_voices.cache_dir())):
        candidate = folder / voice.file
        if candidate.is_file():
            return candidate
    return None


def download(voice: HibariVoice, models_dir: Path) -> Path:
    """Fetch a voice into the models directory (checked against the registry's sha256)."""
    from hibari import voices as hibari_voices

    dest = models_dir / "hibari" / voice.file
    hibari_voices.download(hibari_voices.BASE_URL + voice.file, str(dest), voice.sha256)
    return dest


def offered(voice: HibariVoice, models_dir: Path, allow_download: bool) -> bool:
    """Whether the engine can speak with this voice without an unrequested download."""
    return allow_download or voice.bundled or local_path(voice, models_dir) is not None
