"""faster-whisper's model names and the Hugging Face repositories they come from.

voxgate never fetches these on its own: a name resolves to ``<models dir>/<repo>`` (the model
manager's layout, ``<org>/<name>``), where a model that was pulled on purpose lives.
"""

from __future__ import annotations

from core.model_store.registry import ModelSpec

#: Files a faster-whisper conversion needs (tokenizer.json too: without it, faster-whisper
#: would ask the Hub for a tokenizer).
REQUIRED_FILES = ("model.bin", "config.json", "tokenizer.json")

HUB_MODELS: dict[str, str] = {
    "tiny.en": "Systran/faster-whisper-tiny.en",
    "tiny": "Systran/faster-whisper-tiny",
    "base.en": "Systran/faster-whisper-base.en",
    "base": "Systran/faster-whisper-base",
    "small.en": "Systran/faster-whisper-small.en",
    "small": "Systran/faster-whisper-small",
    "medium.en": "Systran/faster-whisper-medium.en",
    "medium": "Systran/faster-whisper-medium",
    "large-v1": "Systran/faster-whisper-large-v1",
    "large-v2": "Systran/faster-whisper-large-v2",
    "large-v3": "Systran/faster-whisper-large-v3",
    "large": "Systran/faster-whisper-large-v3",
    "distil-small.en": "Systran/faster-distil-whisper-small.en",
    "distil-medium.en": "Systran/faster-distil-whisper-medium.en",
    "distil-large-v2": "Systran/faster-distil-whisper-large-v2",
    "distil-large-v3": "Systran/faster-distil-whisper-large-v3",
    "large-v3-turbo": "mobiuslabsgmbh/faster-whisper-large-v3-turbo",
    "turbo": "mobiuslabsgmbh/faster-whisper-large-v3-turbo",
}

_MB = 1_000_000
#: Rough download sizes (float16 weights plus tokenizer), for progress and disk checks.
_APPROXIMATE_BYTES: dict[str, int] = {
    "tiny": 76 * _MB,
    "base": 146 * _MB,
    "small": 486 * _MB,
    "medium": 1530 * _MB,
    "large": 3090 * _MB,
    "distil-small": 335 * _MB,
    "distil-medium": 790 * _MB,
    "distil-large": 1510 * _MB,
    "turbo": 1620 * _MB,
}


def _approximate_size(name: str) -> int | None:
    family = name.removesuffix(".en")
    if family.startswith("large-v3-turbo"):
        return _APPROXIMATE_BYTES["turbo"]
    for prefix in ("distil-small", "distil-medium", "distil-large", "large"):
        if family.startswith(prefix):
            return _APPROXIMATE_BYTES[prefix]
    return _APPROXIMATE_BYTES.get(family)


#: Whisper model names that are aliases of another entry (listed once in the model manager).
_ALIASES = frozenset({"large", "turbo"})


def download_key(name: str) -> str:
    """The model manager's key for a model name (``voxgate models download <key>``)."""
    repo = HUB_MODELS[name]
    canonical = next(n for n, r in HUB_MODELS.items() if r == repo and n not in _ALIASES)
    return f"whisper-{canonical}"


def model_specs() -> list[ModelSpec]:
    """What the model manager may offer to download, one entry per repository."""
    return [
        ModelSpec(
            key=download_key(name),
            folder=repo,
            hf_repo=repo,
            required_files=REQUIRED_FILES,
            size_bytes=_approximate_size(name),
            description=f"Whisper {name} (faster-whisper / CTranslate2 conversion)",
        )
        for name, repo in HUB_MODELS.items()
        if name not in _ALIASES
    ]
