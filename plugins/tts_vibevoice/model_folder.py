"""Finding the model folder and telling, before any weights load, whether transformers can use it.

``model`` is a key of :mod:`plugins.tts_vibevoice.models` (its folder under the models
directory), a hub name of one of them, or a folder. Three kinds of folder are refused with a
reason: Microsoft's original layout (``decoder_config`` instead of ``text_config``), the realtime
model (``vibevoice_streaming``, which the installed transformers has no class for), and anything
without ``config.json`` or weights.
"""

from __future__ import annotations

import json
from importlib import metadata
from pathlib import Path
from typing import Any

from core.engines.errors import EngineUnavailable
from core.model_store.paths import model_dir
from core.model_store.registry import ModelSpec
from core.model_store.validate import validate_model
from plugins.tts_vibevoice.models import ALIASES, DEFAULT_MODEL, MODELS

BY_KEY: dict[str, ModelSpec] = {spec.key: spec for spec in MODELS}
_WEIGHTS = ("*.safetensors", "*.bin")


def spec_for(value: str) -> ModelSpec | None:
    return BY_KEY.get(ALIASES.get(value, value))


def resolve(value: str, models_root: Path) -> Path:
    """The checked folder for ``value``; EngineUnavailable says what is missing and the fix."""
    spec = spec_for(value)
    if spec is not None:
        folder = model_dir(spec, models_root)
        report = validate_model(spec, folder)
        if not report.ok:
            raise EngineUnavailable(
                f"VibeVoice model {value!r}: {report.summary()}; run "
                f"`voxgate models download {spec.key}` or copy the model folder there"
            )
    else:
        folder = Path(value).expanduser()
        if not (folder / "config.json").is_file():
            keys = ", ".join(BY_KEY)
            raise EngineUnavailable(
                f"no VibeVoice model at {folder} (config.json not found); set `model` to a "
                f"model key ({keys}) or to a model folder"
            )
    check_layout(folder)
    return folder


def _config(folder: Path) -> dict[str, Any]:
    try:
        data = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise EngineUnavailable(f"cannot read {folder / 'config.json'}: {exc}") from None
    if not isinstance(data, dict):
        raise EngineUnavailable(f"{folder / 'config.json'} is not a model config")
    return data


def _transformers_version() -> str:
    try:
        return metadata.version("transformers")
    except metadata.PackageNotFoundError:
        return "(not installed)"


def check_layout(folder: Path) -> None:
    config = _config(folder)
    model_type = config.get("model_type")
    if model_type == "vibevoice_streaming" or "VibeVoiceStreaming" in str(
        config.get("architectures")
    ):
        raise EngineUnavailable(
            f"{folder} is VibeVoice-Realtime, which transformers {_transformers_version()} "
            f"cannot run yet; use `model: {DEFAULT_MODEL}` (`voxgate models download "
            f"{DEFAULT_MODEL}`)"
        )
    if model_type != "vibevoice":
        raise EngineUnavailable(
            f"{folder} is not a VibeVoice model (model_type {model_type!r} in config.json)"
        )
    if "text_config" not in config and "decoder_config" in config:
        raise EngineUnavailable(
            f"{folder} holds VibeVoice in the layout of Microsoft's research code, which "
            f"transformers cannot load; use the converted weights: `voxgate models download "
            f"{DEFAULT_MODEL}` (vibevoice/VibeVoice-1.5B-hf)"
        )
    if not any(any(folder.glob(pattern)) for pattern in _WEIGHTS):
        raise EngineUnavailable(f"{folder} has no model weights (*.safetensors)")
