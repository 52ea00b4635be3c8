"""The patches over llama-cpp-python's internals apply only where they were verified: on another
release, or where ggml's parameter struct or the private sampler method changed shape, the
engine runs llama-cpp-python's stock path and still answers."""

from __future__ import annotations

import ctypes
import re
import tomllib
from pathlib import Path

import llama_cpp
import pytest
from structlog.testing import capture_logs

from plugins.llm_local import compute_pool, library_check, samplers
from plugins.llm_local.engine import LlamaCppEngine
from tests.plugins.llm_local.support import ask, build_engine, collect, text_of

THREADS = 2


async def loaded_facts(engine: LlamaCppEngine) -> dict[str, object]:
    """The engine's patch facts after a load, and proof that a greedy reply still comes."""
    await engine.load()
    try:
        model = engine._model
        assert model is not None
        reply = text_of(await collect(engine, ask("Hello", temperature=0, max_tokens=8)))
        assert len(reply) == 8
        return {
            "thread_pool": engine.info()["thread_pool"],
            "fast_sampling": engine.info()["fast_sampling"],
            # The replaced sampler lives on the instance; the stock one is the class's method.
            "sampler_replaced": "_init_sampler" in vars(model.llama),
        }
    finally:
        await engine.close()


def test_the_pinned_release_is_the_verified_one() -> None:
    pyproject = tomllib.loads(Path("pyproject.toml").read_text(encoding="utf-8"))
    pins = {
        match.group(1)
        for requirement in pyproject["project"]["optional-dependencies"]["llm_local"]
        if (match := re.fullmatch(r"llama-cpp-python==(.+)", requirement))
    }
    assert pins and pins <= library_check.VERIFIED_VERSIONS


async def test_on_the_verified_release_both_patches_apply(tiny_gguf: Path, tmp_path: Path) -> None:
    engine = build_engine({"model": str(tiny_gguf), "n_threads": THREADS}, tmp_path)
    facts = await loaded_facts(engine)
    assert facts == {"thread_pool": True, "fast_sampling": True, "sampler_replaced": True}


async def test_another_release_gets_the_stock_path(
    tiny_gguf: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(llama_cpp, "__version__", "0.0.1", raising=False)
    engine = build_engine({"model": str(tiny_gguf), "n_threads": THREADS}, tmp_path)
    with capture_logs() as logs:
        facts = await loaded_facts(engine)
    assert facts == {"thread_pool": False, "fast_sampling": False, "sampler_replaced": False}
    skipped = [entry for entry in logs if entry["event"] == "llm.library_patch_skipped"]
    assert {entry["patch"] for entry in skipped} == {"compute_pool", "samplers"}
    assert all(entry["version"] == "0.0.1" for entry in skipped)


class _ShorterParams(ctypes.Structure):
    # As if this copy of the struct had fallen behind ggml's: two fields short.
    _fields_ = [
        ("cpumask", ctypes.c_bool * compute_pool._MAX_THREADS),
        ("n_threads", ctypes.c_int),
        ("prio", ctypes.c_int),
        ("poll", ctypes.c_uint32),
    ]


async def test_a_struct_shorter_than_ggml_s_is_caught_before_use(
    tiny_gguf: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # ggml writes its last fields past the shorter struct, into the spare room checked after.
    monkeypatch.setattr(compute_pool, "_PoolParams", _ShorterParams)
    engine = build_engine({"model": str(tiny_gguf), "n_threads": THREADS}, tmp_path)
    with capture_logs() as logs:
        facts = await loaded_facts(engine)
    assert facts["thread_pool"] is False
    assert facts["fast_sampling"] is True  # the other patch does not depend on the struct
    reasons = [entry["reason"] for entry in logs if entry["event"] == "llm.compute_pool_skipped"]
    assert reasons == ["ggml wrote past the declared struct"]


async def test_defaults_at_other_offsets_are_caught_before_use(
    tiny_gguf: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(compute_pool, "_DEFAULT_POLL", 7)
    engine = build_engine({"model": str(tiny_gguf), "n_threads": THREADS}, tmp_path)
    with capture_logs() as logs:
        facts = await loaded_facts(engine)
    assert facts["thread_pool"] is False
    reasons = [entry["reason"] for entry in logs if entry["event"] == "llm.compute_pool_skipped"]
    assert reasons == ["ggml's defaults are not where the declared struct has them"]


async def test_a_sampler_method_without_the_expected_options_is_left_alone(
    tiny_gguf: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(samplers, "_OPTIONS", samplers._OPTIONS | {"option_it_lost"})
    engine = build_engine({"model": str(tiny_gguf), "n_threads": THREADS}, tmp_path)
    with capture_logs() as logs:
        facts = await loaded_facts(engine)
    assert facts == {"thread_pool": True, "fast_sampling": False, "sampler_replaced": False}
    skipped = [entry for entry in logs if entry["event"] == "llm.library_patch_skipped"]
    assert [entry["missing"] for entry in skipped] == [["option_it_lost"]]
