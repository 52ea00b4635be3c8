"""The voice store: ``<data dir>/voices/index.json`` and one folder per voice with its clip.

Ids are generated here (``voice_`` + 16 hex digits) and checked against that pattern on every
access, and file names are fixed, so nothing a client sends can name a path outside the store.
Every write goes to a temporary file that is then renamed over the old one, under an exclusive
lock (POSIX ``flock``) shared by every process using the same data directory.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import io
import json
import os
import re
import secrets
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import soundfile

from core.audio.chunk import AudioChunk
from core.engines.tts import Gender, ReferenceVoice, Voice
from core.file_lock import exclusive_lock

_ID = re.compile(r"^voice_[0-9a-f]{16}$")
INDEX = "index.json"
AUDIO_FILE = "reference.wav"
EDITABLE = ("name", "description", "language", "gender", "reference_text")
GENDERS = ("female", "male", "neutral")


class VoiceStoreError(ValueError):
    """A request the store refuses (bad field, store full); ``param`` names the field."""

    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.param = param


@dataclass(frozen=True)
class StoredVoice:
    id: str
    name: str
    description: str = ""
    language: str | None = None
    gender: Gender | None = None
    #: What is said in the clip; enables the better (in-context) cloning mode where supported.
    reference_text: str | None = None
    duration: float = 0.0
    sample_rate: int = 0
    #: sha256 of the stored clip: engines key their prepared clone prompts on it.
    audio_sha256: str = ""
    created_at: float = 0.0
    updated_at: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"object": "voice", "kind": "cloned", **dataclasses.asdict(self)}

    def describe(self) -> Voice:
        """As a voice in an engine's list (so fallback picks a preset close to it)."""
        return Voice(
            id=self.id,
            name=self.name,
            language=self.language,
            gender=self.gender,
            description=self.description,
            kind="cloned",
        )


def valid_id(voice_id: str) -> bool:
    return bool(_ID.match(voice_id))


class VoiceStore:
    def __init__(self, root: Path, *, max_voices: int = 1000) -> None:
        self.root = root
        self.max_voices = max_voices

    @classmethod
    def for_data_dir(cls, data_dir: Path) -> VoiceStore:
        return cls(data_dir / "voices")

    # -- reading -----------------------------------------------------------------------------

    def _read_index(self) -> dict[str, dict[str, Any]]:
        try:
            data = json.loads((self.root / INDEX).read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except ValueError as exc:
            raise VoiceStoreError(f"the voice index {self.root / INDEX} is damaged: {exc}") from exc
        voices = data.get("voices", {}) if isinstance(data, dict) else {}
        # An entry edited by hand into something that is not a voice is passed over, so that
        # it does not take every other voice (and the voice list) down with it.
        return {
            k: v
            for k, v in voices.items()
            if valid_id(k) and isinstance(v, dict) and v.get("id") == k
        }

    def list(self) -> list[StoredVoice]:
        voices = [_voice(v) for v in self._read_index().values()]
        return sorted(voices, key=lambda v: (v.created_at, v.id))

    def get(self, voice_id: str) -> StoredVoice | None:
        if not valid_id(voice_id):
            return None
        entry = self._read_index().get(voice_id)
        return _voice(entry) if entry is not None else None

    def audio_path(self, voice: StoredVoice) -> Path:
        assert valid_id(voice.id)
        return self.root / voice.id / AUDIO_FILE

    def load_audio(self, voice: StoredVoice) -> AudioChunk:
        samples, rate = soundfile.read(str(self.audio_path(voice)), dtype="float32")
        return AudioChunk.from_array(samples, rate)

    def reference(self, voice_id: str) -> ReferenceVoice | None:
        """The voice with its clip loaded, as engines receive it; None if unknown."""
        voice = self.get(voice_id)
        if voice is None:
            return None
        return ReferenceVoice(
            id=voice.id,
            audio=self.load_audio(voice),
            text=voice.reference_text,
            language=voice.language,
            gender=voice.gender,
        )

    # -- writing -----------------------------------------------------------------------------

    def _locked(self) -> contextlib.AbstractContextManager[None]:
        return exclusive_lock(self.root / ".lock")

    def _write_index(self, voices: dict[str, dict[str, Any]]) -> None:
        _atomic_write(
            self.root / INDEX,
            json.dumps({"version": 1, "voices": voices}, indent=2, ensure_ascii=False).encode(),
        )

    def create(
        self,
        audio: AudioChunk,
        *,
        name: str,
        description: str = "",
        language: str | None = None,
        gender: str | None = None,
        reference_text: str | None = None,
    ) -> StoredVoice:
        """Store an (already normalized) clip and its description; returns the new voice."""
        fields = _checked(
            {
                "name": name,
                "description": description,
                "language": language,
                "gender": gender,
                "reference_text": reference_text,
            }
        )
        wav = _wav_bytes(audio)
        now = time.time()
        voice = StoredVoice(
            id=f"voice_{secrets.token_hex(8)}",
            duration=round(audio.duration, 3),
            sample_rate=audio.sample_rate,
            audio_sha256=hashlib.sha256(wav).hexdigest(),
            created_at=now,
            updated_at=now,
            **fields,
        )
        with self._locked():
            voices = self._read_index()
            if len(voices) >= self.max_voices:
                raise VoiceStoreError(f"the voice store is full ({self.max_voices} voices)")
            folder = self.root / voice.id
            folder.mkdir()
            _atomic_write(folder / AUDIO_FILE, wav)
            voices[voice.id] = dataclasses.asdict(voice)
            self._write_index(voices)
        return voice

    def update(self, voice_id: str, changes: dict[str, Any]) -> StoredVoice | None:
        unknown = sorted(set(changes) - set(EDITABLE))
        if unknown:
            raise VoiceStoreError(
                f"cannot change {', '.join(unknown)} (editable: {EDITABLE})", param=unknown[0]
            )
        if not valid_id(voice_id):
            return None
        with self._locked():
            voices = self._read_index()
            entry = voices.get(voice_id)
            if entry is None:
                return None
            merged = {**{k: entry.get(k) for k in EDITABLE}, **changes}
            entry.update(_checked(merged), updated_at=time.time())
            self._write_index(voices)
            return _voice(entry)

    def delete(self, voice_id: str, *, remove_files: bool = True) -> bool:
        if not valid_id(voice_id):
            return False
        with self._locked():
            voices = self._read_index()
            if voices.pop(voice_id, None) is None:
                return False
            self._write_index(voices)
        if remove_files:
            shutil.rmtree(self.root / voice_id, ignore_errors=True)
        return True


def _checked(fields: dict[str, Any]) -> dict[str, Any]:
    name = str(fields.get("name") or "").strip()
    if not name or len(name) > 100:
        raise VoiceStoreError("name is required (at most 100 characters)", param="name")
    description = str(fields.get("description") or "").strip()
    if len(description) > 1000:
        raise VoiceStoreError("description is longer than 1000 characters", param="description")
    text = fields.get("reference_text")
    text = str(text).strip() or None if text is not None else None
    if text is not None and len(text) > 2000:
        raise VoiceStoreError(
            "reference_text is longer than 2000 characters", param="reference_text"
        )
    language = fields.get("language")
    language = str(language).strip() or None if language is not None else None
    if language is not None and not re.fullmatch(
        r"[A-Za-z]{2,20}([-_][A-Za-z0-9]{2,8})*", language
    ):
        raise VoiceStoreError(
            f"language {language!r} is not a language code or name", param="language"
        )
    gender = fields.get("gender") or None
    if gender is not None and gender not in GENDERS:
        raise VoiceStoreError(f"gender must be one of {', '.join(GENDERS)}", param="gender")
    return {
        "name": name,
        "description": description,
        "language": language,
        "gender": gender,
        "reference_text": text,
    }


def _voice(entry: dict[str, Any]) -> StoredVoice:
    known = {f.name for f in dataclasses.fields(StoredVoice)}
    return StoredVoice(**{k: v for k, v in entry.items() if k in known})


def _wav_bytes(audio: AudioChunk) -> bytes:
    buffer = io.BytesIO()
    soundfile.write(
        buffer, np.clip(audio.samples, -1, 1), audio.sample_rate, format="WAV", subtype="PCM_16"
    )
    return buffer.getvalue()


def _atomic_write(path: Path, data: bytes) -> None:
    temp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        with temp.open("wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        temp.replace(path)
    finally:
        temp.unlink(missing_ok=True)
