"""Plugin discovery: failures are isolated and reported, never fatal."""

from __future__ import annotations

import importlib.metadata
import sys
import types
from collections.abc import Mapping
from pathlib import Path

import pytest

from core.engines import LLMEngine
from core.engines.base import Capability
from core.hookspecs import hookimpl
from core.plugins import create_plugin_catalog
from tests.support.fake_plugin import FakeLLM, FakePlugin


class Misspelt:
    @hookimpl
    def voxgate_llm_engine(self) -> Mapping[str, type[LLMEngine]]:  # missing trailing "s"
        return {"typo": FakeLLM}


class Raising:
    @hookimpl
    def voxgate_llm_engines(self) -> Mapping[str, type[LLMEngine]]:
        raise RuntimeError("plugin bug")


class NotAnEngine:
    @hookimpl
    def voxgate_llm_engines(self) -> Mapping[str, object]:
        return {"str": str, "good": FakeLLM}


class Duplicate:
    @hookimpl
    def voxgate_llm_engines(self) -> Mapping[str, type[LLMEngine]]:
        return {"fake": FakeLLM}


def test_misspelt_hookimpl_is_rejected_and_others_survive() -> None:
    catalog = create_plugin_catalog(
        use_entry_points=False, extra={"fakes": FakePlugin(), "typo": Misspelt()}
    )
    assert "typo" not in catalog.plugins
    failure = catalog.failure_for("typo")
    assert failure is not None and "voxgate_llm_engine" in failure.error
    assert catalog.engine(Capability.LLM, "fake") is not None


def test_hook_that_raises_is_isolated() -> None:
    catalog = create_plugin_catalog(
        use_entry_points=False, extra={"fakes": FakePlugin(), "bad": Raising()}
    )
    assert catalog.failure_for("bad") is not None
    assert catalog.engine(Capability.LLM, "fake") is not None


def test_non_engine_values_are_rejected_individually() -> None:
    catalog = create_plugin_catalog(use_entry_points=False, extra={"odd": NotAnEngine()})
    assert catalog.engine(Capability.LLM, "good") is not None
    assert catalog.engine(Capability.LLM, "str") is None
    assert "not a LLMEngine subclass" in catalog.failures[0].error


def test_duplicate_engine_name_keeps_the_first() -> None:
    catalog = create_plugin_catalog(
        use_entry_points=False, extra={"fakes": FakePlugin(), "dupe": Duplicate()}
    )
    entry = catalog.engine(Capability.LLM, "fake")
    assert entry is not None and entry.plugin == "fakes"
    assert "already from fakes" in catalog.failures[0].error


def test_disabled_plugins_are_skipped() -> None:
    catalog = create_plugin_catalog(
        use_entry_points=False, extra={"fakes": FakePlugin()}, disabled=["fakes"]
    )
    assert catalog.engines == {}
    assert catalog.failures == []


def _entry_point(name: str, value: str) -> importlib.metadata.EntryPoint:
    return importlib.metadata.EntryPoint(name=name, value=value, group="voxgate")


def test_entry_point_import_failure_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    module = types.ModuleType("voxgate_ok_plugin")
    module.PLUGIN = FakePlugin()  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "voxgate_ok_plugin", module)
    points = [
        _entry_point("ok", "voxgate_ok_plugin:PLUGIN"),
        _entry_point("missing", "voxgate_no_such_module_xyz"),
    ]
    catalog = create_plugin_catalog(entry_points=lambda: points)
    assert "ok" in catalog.plugins
    failure = catalog.failure_for("missing")
    assert failure is not None and "import failed" in failure.error
    assert catalog.engine(Capability.TTS, "fake") is not None


def test_bundled_plugins_are_entry_points() -> None:
    """The bundled plugins are found through the same entry-point group as third-party ones."""
    names = {ep.name for ep in importlib.metadata.entry_points(group="voxgate")}
    bundled = {
        p.name
        for p in (Path(__file__).parents[2] / "plugins").iterdir()
        if (p / "__init__.py").exists()
    }
    assert bundled <= names
