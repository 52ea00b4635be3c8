"""The Qwen3-TTS models this plugin knows, for ``voxgate models`` and the engine's ``model``.

They live under ``<models dir>/Qwen/<repo name>``; ``QWEN_TTS_MODELS_DIR`` replaces
``<models dir>/Qwen``. Sizes are approximate (for progress bars and disk checks); the download
records the exact sizes and checksums the hub reports.
"""

from __future__ import annotations

from core.model_store.registry import ModelSpec

DIR_ENV = "QWEN_TTS_MODELS_DIR"

# Every TTS model folder holds the talker, its text tokenizer and the 12 Hz speech tokenizer.
_MODEL_FILES = (
    "config.json",
    "generation_config.json",
    "model.safetensors",
    "tokenizer_config.json",
    "vocab.json",
    "merges.txt",
    "speech_tokenizer/config.json",
    "speech_tokenizer/preprocessor_config.json",
    "speech_tokenizer/model.safetensors",
)


def _tts(key: str, repo_name: str, size_gb: float, description: str) -> ModelSpec:
    return ModelSpec(
        key=key,
        folder=f"Qwen/{repo_name}",
        hf_repo=f"Qwen/{repo_name}",
        modelscope_id=f"Qwen/{repo_name}",
        required_files=_MODEL_FILES,
        size_bytes=int(size_gb * 1e9),
        description=description,
        dir_env=DIR_ENV,
    )


MODELS: tuple[ModelSpec, ...] = (
    ModelSpec(
        key="tokenizer_12hz",
        folder="Qwen/Qwen3-TTS-Tokenizer-12Hz",
        hf_repo="Qwen/Qwen3-TTS-Tokenizer-12Hz",
        modelscope_id="Qwen/Qwen3-TTS-Tokenizer-12Hz",
        required_files=("config.json", "preprocessor_config.json", "model.safetensors"),
        size_bytes=int(0.7e9),
        description="Qwen3-TTS 12 Hz speech tokenizer (codec) on its own",
        dir_env=DIR_ENV,
    ),
    _tts("base_0_6b", "Qwen3-TTS-12Hz-0.6B-Base", 2.5, "Qwen3-TTS 0.6B Base: voice cloning"),
    _tts(
        "custom_0_6b",
        "Qwen3-TTS-12Hz-0.6B-CustomVoice",
        2.5,
        "Qwen3-TTS 0.6B CustomVoice: 9 preset speakers",
    ),
    _tts("base_1_7b", "Qwen3-TTS-12Hz-1.7B-Base", 4.5, "Qwen3-TTS 1.7B Base: voice cloning"),
    _tts(
        "custom_1_7b",
        "Qwen3-TTS-12Hz-1.7B-CustomVoice",
        4.5,
        "Qwen3-TTS 1.7B CustomVoice: preset speakers with style instructions",
    ),
    _tts(
        "design_1_7b",
        "Qwen3-TTS-12Hz-1.7B-VoiceDesign",
        4.5,
        "Qwen3-TTS 1.7B VoiceDesign: a voice described in words",
    ),
)
