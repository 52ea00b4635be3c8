"""The small model repository both local hubs (Hugging Face and ModelScope) serve in tests."""

from __future__ import annotations

import hashlib

from core.model_store.registry import ModelSpec

#: The tiny model's repository on both hubs, and its folder under a models directory.
TINY_REPO = "TinyOrg/tiny-model"
#: The tiny model as a plugin declares it; each test adds the hub it comes from.
TINY_SPEC = ModelSpec(
    key="tiny", folder=TINY_REPO, required_files=("config.json", "model.safetensors")
)


def tiny_repo_files(weight_bytes: int) -> dict[str, bytes]:
    """A config, weights of ``weight_bytes`` (pseudo-random, so checksums tell copies apart), a
    file in a sub-folder, and a ``.gitattributes`` that downloads leave out."""
    weights = hashlib.sha256(b"seed").digest() * (weight_bytes // 32)
    return {
        "config.json": b'{"hidden_size": 32}',
        "model.safetensors": weights,
        "speech_tokenizer/model.safetensors": weights[:50_000],
        ".gitattributes": b"*.safetensors filter=lfs\n",
    }
