"""The small model repository both local hubs (Hugging Face and ModelScope) serve in tests."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path

import pytest

from core.model_store.download import DownloadError, download_model
from core.model_store.providers import Provider
from core.model_store.registry import ModelSpec
from core.model_store.validate import validate_model
from tests.core.model_store.file_serving import FileFaults

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


def check_a_corrupt_file_is_refused_then_fetched_again(
    spec: ModelSpec,
    providers: Mapping[str, Provider],
    faults: FileFaults,
    models_dir: Path,
    *,
    file: str,
    error: str,
) -> None:
    """Serve ``file`` corrupt: the download fails with ``error`` naming the target and keeps
    neither the model nor the bad bytes; once the hub serves it right, the next download passes
    validation."""
    faults.corrupt.add(file)
    target = models_dir / spec.folder
    with pytest.raises(DownloadError, match=error) as caught:
        download_model(spec, models_dir, providers=providers)
    assert str(target) in str(caught.value)
    assert not target.exists()
    # the bad bytes were not kept for a resume
    assert not (target.parent / f".{target.name}.download" / file).exists()
    faults.corrupt.clear()
    path = download_model(spec, models_dir, providers=providers)
    assert validate_model(spec, path, checksums=True).ok
