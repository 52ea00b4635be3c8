"""Runtimes over the fake plugin, for tests of the core's own logic."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterable, Mapping
from pathlib import Path

from core.plugins import PluginCatalog, create_plugin_catalog
from core.runtime.runtime import CatalogFactory, Runtime
from tests.support.fake_plugin import FakePlugin


def fake_catalog_factory(
    *, entry_points: bool = False, plugins: Mapping[str, object] | None = None
) -> CatalogFactory:
    """Catalogs with the fake plugin registered directly, beside ``plugins`` (name -> module,
    as their entry points would register them), and entry points only if asked."""

    def factory(disabled: Iterable[str]) -> PluginCatalog:
        extra = {"fakes": FakePlugin(), **(plugins or {})}
        return create_plugin_catalog(disabled=disabled, use_entry_points=entry_points, extra=extra)

    return factory


@contextlib.asynccontextmanager
async def running_runtime(
    config: Path, *, entry_points: bool = False, plugins: Mapping[str, object] | None = None
) -> AsyncIterator[Runtime]:
    factory = fake_catalog_factory(entry_points=entry_points, plugins=plugins)
    runtime = Runtime(config, catalog_factory=factory)
    await runtime.start()
    try:
        yield runtime
    finally:
        await runtime.shutdown(5)
