"""``voxgate models`` and ``voxgate plugins install`` as a user runs them (real processes).

The models are the ones the bundled Qwen3-TTS plugin declares; the download comes from a local
server speaking the Hugging Face hub API (``--endpoint``).
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest

from plugins.tts_qwen3.models import MODELS
from tests.core.model_store.hub_server import HubRepo, HubState, serve_hub
from tests.support.commands import voxgate
from tests.support.daemon import free_port

REPO = "Qwen/Qwen3-TTS-12Hz-0.6B-CustomVoice"
#: What the plugin declares the model folder must hold.
FILES = next(spec for spec in MODELS if spec.hf_repo == REPO).required_files


def fake_model(folder: Path) -> Path:
    for name in FILES:
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"{}" if name.endswith(".json") else b"\x01" * 1000)
    return folder


def models_command(
    models_dir: Path, *args: str, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``voxgate models`` with ``args``, on the models in ``models_dir``."""
    return voxgate("models", "--models-dir", str(models_dir), *args, env=env)


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[str]:
    source = fake_model(tmp_path / "source")
    files = {name: (source / name).read_bytes() for name in FILES}
    state = HubState(repos={REPO: HubRepo(files=files, lfs={"model.safetensors"})})
    with serve_hub(state) as url:
        yield url


def test_list_shows_the_qwen_models_and_where_they_go(tmp_path: Path) -> None:
    result = models_command(tmp_path, "--json", "list")
    assert result.returncode == 0, result.stderr
    models = {m["key"]: m for m in json.loads(result.stdout)["models"]}
    assert {"tokenizer_12hz", "base_0_6b", "custom_0_6b", "design_1_7b"} <= set(models)
    assert models["custom_0_6b"]["status"] == "missing"
    assert models["custom_0_6b"]["path"] == str(
        tmp_path / "Qwen" / "Qwen3-TTS-12Hz-0.6B-CustomVoice"
    )


def test_path_honours_qwen_tts_models_dir(tmp_path: Path) -> None:
    result = models_command(
        tmp_path, "path", "base_0_6b", env={"QWEN_TTS_MODELS_DIR": str(tmp_path / "qwen")}
    )
    assert result.stdout.strip() == str(tmp_path / "qwen" / "Qwen3-TTS-12Hz-0.6B-Base")


def test_download_shows_progress_and_validates(hub: str, tmp_path: Path) -> None:
    models = tmp_path / "models"
    result = models_command(
        models, "download", "custom_0_6b", "--endpoint", hub, "--provider", "hf"
    )
    assert result.returncode == 0, result.stderr
    target = models / "Qwen" / "Qwen3-TTS-12Hz-0.6B-CustomVoice"
    assert result.stdout.strip().endswith(f"custom_0_6b: {target}")
    assert "9/9 files" in result.stderr  # the tqdm bar
    check = models_command(models, "validate", "custom_0_6b", "--checksums")
    assert check.returncode == 0
    assert check.stdout.strip() == f"custom_0_6b: ok: {target}, 1 checksums verified"


def test_download_offline_names_the_folder_for_a_manual_copy(tmp_path: Path) -> None:
    result = models_command(
        tmp_path, "download", "base_0_6b", "--endpoint", f"http://127.0.0.1:{free_port()}"
    )
    assert result.returncode == 1
    target = tmp_path / "Qwen" / "Qwen3-TTS-12Hz-0.6B-Base"
    assert f"copy the folder to {target}" in result.stderr
    assert "voxgate models import base_0_6b FOLDER" in result.stderr


def test_import_then_validate(tmp_path: Path) -> None:
    source = fake_model(tmp_path / "copied-by-hand")
    models = tmp_path / "models"
    result = models_command(models, "import", "custom_0_6b", str(source))
    assert result.returncode == 0, result.stderr
    assert (models / "Qwen" / "Qwen3-TTS-12Hz-0.6B-CustomVoice" / "vocab.json").exists()
    assert models_command(models, "validate", "custom_0_6b").returncode == 0
    (source / "vocab.json").unlink()
    result = models_command(models, "import", "base_0_6b", str(source))
    assert result.returncode == 1
    assert "missing vocab.json" in result.stderr


def test_validate_of_a_missing_model_fails(tmp_path: Path) -> None:
    result = models_command(tmp_path, "--json", "validate", "custom_1_7b")
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert report["exists"] is False and "model.safetensors" in report["missing"]


def test_unknown_keys_and_environments_are_named(tmp_path: Path) -> None:
    result = models_command(tmp_path, "path", "gpt-5")
    assert result.returncode == 1
    assert "unknown model 'gpt-5'" in result.stderr and "custom_0_6b" in result.stderr
    result = voxgate("plugins", "install", "nothing_here")
    assert result.returncode == 1
    assert "known: tts_qwen3" in result.stderr
