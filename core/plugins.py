"""Discovering plugins and building the catalog of engine classes they offer.

Every plugin, bundled or third-party, arrives through the ``voxgate`` entry-point group. A plugin
that fails to import, misspells a hook, or returns something that is not an engine class is
recorded as a failure and left out; it never stops the daemon.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pluggy
import structlog

from core import hookspecs
from core.engines import ENGINE_BASES, Capability, Engine

log = structlog.get_logger(__name__)

ENGINE_HOOKS: dict[Capability, str] = {cap: f"voxgate_{cap.value}_engines" for cap in Capability}


@dataclass(frozen=True)
class PluginFailure:
    plugin: str
    error: str
    distribution: str | None = None


@dataclass(frozen=True)
class EngineEntry:
    capability: Capability
    name: str
    cls: type[Engine]
    plugin: str


@dataclass
class PluginCatalog:
    """The result of plugin discovery: the manager, the engines found and what failed."""

    manager: pluggy.PluginManager
    plugins: dict[str, str | None] = field(default_factory=dict)  # name -> distribution
    engines: dict[tuple[Capability, str], EngineEntry] = field(default_factory=dict)
    failures: list[PluginFailure] = field(default_factory=list)
    disabled: frozenset[str] = frozenset()

    def engine(self, capability: Capability, name: str) -> EngineEntry | None:
        return self.engines.get((capability, name))

    def engine_names(self, capability: Capability) -> list[str]:
        return sorted(n for (cap, n) in self.engines if cap == capability)

    def failure_for(self, plugin: str) -> PluginFailure | None:
        return next((f for f in self.failures if f.plugin == plugin), None)

    def collect(self, hook_name: str) -> list[tuple[str, Any]]:
        """Call a hook plugin by plugin, isolating failures; returns (plugin, result) pairs."""
        results: list[tuple[str, Any]] = []
        caller = getattr(self.manager.hook, hook_name)
        for impl in caller.get_hookimpls():  # registration order
            try:
                value = impl.function()
            except Exception as exc:  # a plugin bug must not take the daemon down
                self._fail(impl.plugin_name, f"{hook_name} raised {exc!r}")
                continue
            if value is not None:
                results.append((impl.plugin_name, value))
        return results

    def _fail(self, plugin: str, error: str) -> None:
        log.warning("plugin.failed", plugin=plugin, error=error)
        self.failures.append(PluginFailure(plugin, error, self.plugins.get(plugin)))


def _entry_points() -> list[importlib.metadata.EntryPoint]:
    return sorted(importlib.metadata.entry_points(group=hookspecs.PROJECT), key=lambda e: e.name)


def create_plugin_catalog(
    *,
    disabled: Iterable[str] = (),
    use_entry_points: bool = True,
    extra: Mapping[str, object] | None = None,
    entry_points: Callable[[], list[importlib.metadata.EntryPoint]] = _entry_points,
) -> PluginCatalog:
    """Build a fresh plugin manager and engine catalog.

    ``extra`` registers plugin objects directly (tests, embedding applications); ``disabled``
    names plugins to skip, as the YAML's ``plugins.disabled`` does.
    """
    manager = pluggy.PluginManager(hookspecs.PROJECT)
    manager.add_hookspecs(hookspecs)
    catalog = PluginCatalog(manager=manager, disabled=frozenset(disabled))

    candidates: list[tuple[str, Callable[[], object], str | None]] = []
    if use_entry_points:
        for ep in entry_points():
            dist = ep.dist.name if ep.dist is not None else None
            candidates.append((ep.name, ep.load, dist))
    for name, obj in (extra or {}).items():
        candidates.append((name, _constant(obj), None))

    for name, load, dist in candidates:
        if name in catalog.disabled:
            log.info("plugin.disabled", plugin=name)
            continue
        if manager.has_plugin(name):
            catalog.failures.append(PluginFailure(name, "duplicate plugin name", dist))
            continue
        _register(catalog, name, load, dist)

    _collect_engines(catalog)
    return catalog


def _constant(obj: object) -> Callable[[], object]:
    return lambda: obj


def _register(
    catalog: PluginCatalog, name: str, load: Callable[[], object], dist: str | None
) -> None:
    try:
        plugin = load()
    except Exception as exc:
        log.warning("plugin.import_failed", plugin=name, error=repr(exc))
        catalog.failures.append(PluginFailure(name, f"import failed: {exc!r}", dist))
        return
    try:
        catalog.manager.register(plugin, name=name)
        # Rejects hookimpls whose name matches no hookspec (usually a typo).
        catalog.manager.check_pending()
    except pluggy.PluginValidationError as exc:
        if catalog.manager.is_registered(plugin):
            catalog.manager.unregister(plugin)
        log.warning("plugin.invalid", plugin=name, error=str(exc))
        catalog.failures.append(PluginFailure(name, f"invalid plugin: {exc}", dist))
        return
    catalog.plugins[name] = dist
    log.debug("plugin.registered", plugin=name, distribution=dist)


def _collect_engines(catalog: PluginCatalog) -> None:
    for capability, hook_name in ENGINE_HOOKS.items():
        base = ENGINE_BASES[capability]
        for plugin, mapping in catalog.collect(hook_name):
            if not isinstance(mapping, Mapping):
                catalog._fail(plugin, f"{hook_name} must return a mapping of name to engine class")
                continue
            for engine_name, cls in mapping.items():
                if not (isinstance(cls, type) and issubclass(cls, base)):
                    catalog._fail(
                        plugin, f"{hook_name}[{engine_name!r}] is not a {base.__name__} subclass"
                    )
                    continue
                key = (capability, str(engine_name))
                if key in catalog.engines:
                    other = catalog.engines[key].plugin
                    catalog._fail(
                        plugin, f"{capability.value} engine {engine_name!r} already from {other}"
                    )
                    continue
                catalog.engines[key] = EngineEntry(capability, str(engine_name), cls, plugin)
