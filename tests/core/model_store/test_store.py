"""Model registry, folder layout, validation and import (no network involved)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import pytest

from core.hookspecs import hookimpl
from core.model_store.importer import ImportFailed, import_model
from core.model_store.paths import model_dir, models_root
from core.model_store.registry import ModelFile, ModelRegistry, ModelSpec, UnknownModelKey
from core.model_store.validate import MANIFEST, sha256_file, validate_model
from core.plugins import create_plugin_catalog
from tests.core.model_store.repo_files import TINY_REPO, TINY_SPEC

SPEC = replace(
    TINY_SPEC,
    hf_repo=TINY_REPO,
    required_files=("config.json", "weights.bin"),
    dir_env="TINY_MODELS_DIR",
)


def make_model(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text('{"a": 1}', encoding="utf-8")
    (folder / "weights.bin").write_bytes(b"\x01" * 4096)
    (folder / "sub").mkdir(exist_ok=True)
    (folder / "sub" / "more.bin").write_bytes(b"\x02" * 100)
    return folder


def test_models_root_prefers_config_then_env_then_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VOXGATE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("VOXGATE_MODELS_DIR", raising=False)
    assert models_root() == tmp_path / "data" / "models"
    monkeypatch.setenv("VOXGATE_MODELS_DIR", str(tmp_path / "env-models"))
    assert models_root() == tmp_path / "env-models"
    assert models_root(tmp_path / "configured") == tmp_path / "configured"


def test_a_model_env_variable_replaces_the_org_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TINY_MODELS_DIR", raising=False)
    assert model_dir(SPEC, tmp_path) == tmp_path / "TinyOrg" / "tiny-model"
    monkeypatch.setenv("TINY_MODELS_DIR", str(tmp_path / "mine"))
    assert model_dir(SPEC, tmp_path) == tmp_path / "mine" / "tiny-model"


@pytest.mark.parametrize(
    ("key", "folder", "files"),
    [
        ("ok", "../escape", ()),
        ("ok", "Org/..", ()),
        ("ok", "Org/name/deeper", ()),
        ("Bad Key", "Org/name", ()),
        ("ok", "Org/name", ("../../etc/passwd",)),
        ("ok", "Org/name", ("/abs/file",)),
    ],
)
def test_specs_that_could_escape_the_models_dir_are_refused(
    key: str, folder: str, files: tuple[str, ...]
) -> None:
    registry = ModelRegistry([ModelSpec(key=key, folder=folder, required_files=files)])
    assert len(registry.problems) == 1
    assert registry.all() == []


class _Plugin:
    def __init__(self, specs: Sequence[ModelSpec]) -> None:
        self.specs = specs

    @hookimpl
    def voxgate_models(self) -> Sequence[ModelSpec]:
        return self.specs


def test_the_registry_collects_plugins_models_and_refuses_duplicates() -> None:
    catalog = create_plugin_catalog(
        use_entry_points=False,
        extra={"one": _Plugin([SPEC]), "two": _Plugin([SPEC, ModelSpec("other", "Org/other")])},
    )
    registry = ModelRegistry.from_catalog(catalog)
    assert [s.key for s in registry.all()] == ["tiny", "other"]
    assert registry.get("tiny").plugin == "one"
    assert registry.problems == ["two: model key 'tiny' already declared by one"]
    with pytest.raises(UnknownModelKey, match="known models: other, tiny"):
        registry.get("nope")


def test_validation_lists_what_is_missing_or_damaged(tmp_path: Path) -> None:
    folder = tmp_path / "m"
    report = validate_model(SPEC, folder)
    assert not report.exists and report.missing == ["config.json", "weights.bin"]
    assert report.summary() == f"not found: {folder}"

    make_model(folder)
    digest = sha256_file(folder / "weights.bin")
    spec = replace(SPEC, files=(ModelFile("weights.bin", size=4096, sha256=digest),))
    assert validate_model(spec, folder, checksums=True).ok

    (folder / "weights.bin").write_bytes(b"\x01" * 4095 + b"\x09")  # same size, other bytes
    assert validate_model(spec, folder).ok  # sizes only by default: checksums cost a full read
    damaged = validate_model(spec, folder, checksums=True)
    assert damaged.bad_checksum == ["weights.bin"]

    (folder / "weights.bin").write_bytes(b"\x01" * 10)
    assert validate_model(spec, folder).wrong_size == [
        {"path": "weights.bin", "expected": 4096, "actual": 10}
    ]
    (folder / "config.json").unlink()
    report = validate_model(spec, folder)
    assert report.missing == ["config.json"]
    assert "missing config.json" in report.summary()


def test_import_copies_the_folder_into_place_with_a_manifest(tmp_path: Path) -> None:
    source = make_model(tmp_path / "downloaded")
    (source / ".git").mkdir()
    (source / ".git" / "HEAD").write_text("ref", encoding="utf-8")
    path = import_model(SPEC, source, tmp_path / "models")
    assert path == tmp_path / "models" / "TinyOrg" / "tiny-model"
    assert (path / "sub" / "more.bin").read_bytes() == b"\x02" * 100
    assert not (path / ".git").exists()
    assert (path / MANIFEST).exists()
    report = validate_model(SPEC, path)
    assert report.ok and report.source is not None
    assert report.source["provider"] == "import"
    # The manifest records sizes: a later truncation is noticed.
    (path / "sub" / "more.bin").write_bytes(b"\x02")
    assert validate_model(SPEC, path).wrong_size[0]["path"] == "sub/more.bin"
    assert source.exists()  # the original is left alone


def test_import_refuses_an_incomplete_folder(tmp_path: Path) -> None:
    source = make_model(tmp_path / "downloaded")
    (source / "weights.bin").unlink()
    with pytest.raises(ImportFailed, match=r"missing weights\.bin"):
        import_model(SPEC, source, tmp_path / "models")
    assert not (tmp_path / "models" / "TinyOrg" / "tiny-model").exists()
    with pytest.raises(ImportFailed, match="not a folder"):
        import_model(SPEC, tmp_path / "nothing", tmp_path / "models")


def test_import_refuses_links_out_of_the_folder(tmp_path: Path) -> None:
    secret = tmp_path / "secret.key"
    secret.write_text("private", encoding="utf-8")
    source = make_model(tmp_path / "downloaded")
    (source / "sub" / "tokenizer.json").symlink_to(secret)
    with pytest.raises(ImportFailed, match="outside"):
        import_model(SPEC, source, tmp_path / "models")
    assert not (tmp_path / "models" / "TinyOrg" / "tiny-model").exists()
    # A link that stays inside the folder is an ordinary file of the model.
    (source / "sub" / "tokenizer.json").unlink()
    (source / "sub" / "tokenizer.json").symlink_to(source / "config.json")
    path = import_model(SPEC, source, tmp_path / "models")
    assert (path / "sub" / "tokenizer.json").read_bytes() == (source / "config.json").read_bytes()
