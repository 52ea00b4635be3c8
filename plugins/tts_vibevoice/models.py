"""The VibeVoice models this plugin knows, for ``voxgate models`` and the engine's ``model``.

transformers loads VibeVoice from checkpoints in its own layout: ``vibevoice/VibeVoice-1.5B-hf``
holds the weights of ``microsoft/VibeVoice-1.5B`` converted to it (Microsoft's own repository
keeps the layout of its research code, which transformers refuses). The realtime 0.5B model is
listed so it can be fetched and checked, but loading it needs a transformers release with
VibeVoice-Realtime support; the engine says so when asked to. Sizes are approximate (for
progress bars and disk checks); a download records the exact sizes the hub reports.
"""

from __future__ import annotations

from core.model_store.registry import ModelSpec

DEFAULT_MODEL = "vibevoice_1_5b"

# What every transformers-layout checkpoint has besides its weights (one file or shards).
_HF_LAYOUT = ("config.json", "tokenizer.json", "tokenizer_config.json")

MODELS: tuple[ModelSpec, ...] = (
    ModelSpec(
        key=DEFAULT_MODEL,
        folder="vibevoice/VibeVoice-1.5B-hf",
        hf_repo="vibevoice/VibeVoice-1.5B-hf",
        required_files=_HF_LAYOUT,
        size_bytes=int(5.4e9),
        description=(
            "VibeVoice 1.5B (microsoft/VibeVoice-1.5B for transformers): long-form "
            "multi-speaker speech cloned from reference clips"
        ),
    ),
    ModelSpec(
        key="vibevoice_7b",
        folder="vibevoice/VibeVoice-7B-hf",
        hf_repo="vibevoice/VibeVoice-7B-hf",
        required_files=_HF_LAYOUT,
        size_bytes=int(18.7e9),
        description="VibeVoice 7B for transformers: the larger long-form multi-speaker model",
    ),
    ModelSpec(
        key="vibevoice_realtime_0_5b",
        folder="microsoft/VibeVoice-Realtime-0.5B",
        hf_repo="microsoft/VibeVoice-Realtime-0.5B",
        required_files=("config.json",),
        size_bytes=int(2.0e9),
        description=(
            "VibeVoice-Realtime 0.5B streaming TTS (needs a transformers release that "
            "supports it; the installed one may not)"
        ),
    ),
)

#: Hub names people already use for these models (the seed backend's TTS_MODEL_NAME is
#: ``microsoft/VibeVoice-1.5B``): they resolve to the same weights in transformers' layout.
ALIASES: dict[str, str] = {
    "microsoft/VibeVoice-1.5B": DEFAULT_MODEL,
    **{spec.hf_repo: spec.key for spec in MODELS if spec.hf_repo},
}
