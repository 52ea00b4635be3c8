"""Checking a loaded config against the plugins found, and working out each route's chain."""

from __future__ import annotations

import fnmatch
import hashlib
import ipaddress
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from core.config.errors import ConfigError, ConfigIssue
from core.config.loader import LoadedConfig, issues_from_validation, line_for
from core.config.paths import default_data_dir
from core.config.schema import ROUTE_NAMES, AppConfig, EnginePolicy, EngineSpec, Mode
from core.engines.base import Capability, EngineSettings, Location
from core.plugins import EngineEntry, PluginCatalog


@dataclass(frozen=True)
class ResolvedEngine:
    name: str
    spec: EngineSpec
    entry: EngineEntry
    settings: EngineSettings
    location: Location
    policy: EnginePolicy
    #: Identity of what gets loaded; an engine whose fingerprint is unchanged survives a reload.
    fingerprint: str

    @property
    def capability(self) -> Capability:
        return self.spec.capability


@dataclass(frozen=True)
class ResolvedConfig:
    config: AppConfig
    source: str
    sha256: str
    engines: dict[str, ResolvedEngine]
    #: Each route's chain after ``mode`` filtering, in the order it will be tried.
    chains: dict[Capability, list[str]]
    #: Each route's chain as written.
    declared_chains: dict[Capability, list[str]]
    data_dir: Path
    models_dir: Path
    warnings: list[str] = field(default_factory=list)

    @property
    def mode(self) -> Mode:
        return self.config.mode

    def target_capability(self, target: str) -> Capability | None:
        """The capability a route or engine name serves (None for neither)."""
        if target in self.engines:
            return self.engines[target].capability
        return Capability(target) if target in ROUTE_NAMES else None

    def model_target(self, name: str, capability: Capability) -> str | None:
        """The route or engine a requested model name means for ``capability``, or None when
        the file does not know the name.

        A route or engine name means itself; an alias its target for this capability (an alias
        with no target of this capability gives its first, which the router then refuses as the
        wrong capability); a pattern alias counts only if it has a target of this capability,
        the first such pattern in file order winning.
        """
        if name in self.engines or name in ROUTE_NAMES:
            return name
        exact = self.config.aliases.get(name)
        if exact is not None:
            targets = alias_targets(exact)
            return next((t for t in targets if self.target_capability(t) == capability), targets[0])
        for pattern, value in self.config.aliases.items():
            if not is_pattern(pattern) or not fnmatch.fnmatchcase(name, pattern):
                continue
            for target in alias_targets(value):
                if self.target_capability(target) == capability:
                    return target
        return None

    def model_names(self, capability: Capability) -> list[str]:
        """Every model name that serves ``capability``: its route, its engines, its aliases."""
        names = [capability.value] if capability in self.chains else []
        names += [n for n, e in self.engines.items() if e.capability == capability]
        names += [
            alias
            for alias, value in self.config.aliases.items()
            if any(self.target_capability(t) == capability for t in alias_targets(value))
        ]
        return names


def alias_targets(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def is_pattern(alias: str) -> bool:
    """Whether an alias is a glob pattern (``*``, ``?`` or ``[...]``) rather than one name."""
    return any(ch in alias for ch in "*?[")


def filter_chain(names: list[str], engines: dict[str, ResolvedEngine], mode: Mode) -> list[str]:
    """local keeps local engines, api keeps cloud ones, hybrid keeps both with local first."""
    local = [n for n in names if engines[n].location == "local"]
    cloud = [n for n in names if engines[n].location == "cloud"]
    if mode is Mode.LOCAL:
        return local
    if mode is Mode.API:
        return cloud
    return local + cloud


def _fingerprint(spec: EngineSpec, entry: EngineEntry, settings: EngineSettings) -> str:
    identity: dict[str, Any] = {
        "capability": spec.capability.value,
        "engine": spec.engine,
        "class": f"{entry.cls.__module__}.{entry.cls.__qualname__}",
        "plugin": entry.plugin,
        "settings": settings.model_dump(mode="json"),
        "location": spec.location,
    }
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:16]


def _missing_engine_message(catalog: PluginCatalog, capability: Capability, name: str) -> str:
    available = ", ".join(catalog.engine_names(capability)) or "none"
    message = f"no {capability.value} engine named {name!r} (available: {available})"
    if catalog.failures:
        failed = ", ".join(f.plugin for f in catalog.failures)
        message += f"; plugins that failed to load: {failed} (`voxgate plugins` says why)"
    return message


def _route_problem(config: AppConfig, target: str | None, capability: Capability) -> str | None:
    """Why ``target`` (a route, engine or alias) cannot serve ``capability``, if it cannot."""
    if target is None:
        return None
    alias = config.aliases.get(target)
    if alias is not None:
        # A list alias serves the capability if one of its targets does.
        problems = [_route_problem(config, t, capability) for t in alias_targets(alias)]
        return None if None in problems else problems[0]
    name = target
    if name in ROUTE_NAMES:
        return None if name == capability.value else f"{target!r} is the {name} route"
    spec = config.engines.get(name)
    if spec is None:
        return f"{target!r} is neither a route, an engine nor an alias"
    if spec.capability != capability:
        return f"{target!r} is a {spec.capability.value} engine, not {capability.value}"
    return None


def _unrouted(config: AppConfig, lines: dict[tuple[str, ...], int]) -> list[ConfigIssue]:
    """A file without routes, or with engines no route uses, serves nothing with them: most
    often a file cut short while it was being written. Refused, so a half-saved file never
    replaces a working configuration. Engines reached through an alias count as used."""
    if not config.routes:
        message = "there is no routes: block, so nothing would be served (is the file cut short?)"
        return [ConfigIssue("routes", message, line_for(lines, ("engines",)))]
    aliased = {
        target
        for value in config.aliases.values()
        for target in ([value] if isinstance(value, str) else value)
    }
    unused: dict[Capability, list[str]] = {}
    for name, spec in config.engines.items():
        if spec.capability not in config.routes and name not in aliased:
            unused.setdefault(spec.capability, []).append(name)
    return [
        ConfigIssue(
            f"routes.{capability.value}",
            f"{capability.value} engines {', '.join(names)} are defined but no route uses them "
            f"(add routes.{capability.value}, or remove them)",
            line_for(lines, ("engines", names[0])),
        )
        for capability, names in unused.items()
    ]


def _loopback(host: str) -> bool:
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _exposed_without_keys(config: AppConfig) -> str | None:
    host = config.server.host
    if _loopback(host) or os.environ.get(config.auth.api_keys_env, "").strip():
        return None
    return (
        f"server.host {host} is reachable from other machines and {config.auth.api_keys_env} "
        "holds no API key: anyone who can reach it can use every engine"
    )


def _wyoming_open_to_all(config: AppConfig) -> str | None:
    wyoming = config.wyoming
    everyone = any(
        ipaddress.ip_network(entry, strict=False).prefixlen == 0
        for entry in wyoming.allowed_clients
    )
    if not wyoming.enabled or not everyone or _loopback(wyoming.host):
        return None
    return (
        f"wyoming.host {wyoming.host} with allowed_clients open to every address: Wyoming has no "
        "authentication, so anyone who can reach it can use the speech engines"
    )


def resolve_config(loaded: LoadedConfig, catalog: PluginCatalog) -> ResolvedConfig:
    """Validate engines against the plugin catalog and compute the chains.

    Raises :class:`ConfigError` with every problem found, each naming its YAML path.
    """
    config, lines = loaded.config, loaded.lines
    issues: list[ConfigIssue] = []

    def issue(path: list[str], message: str) -> None:
        issues.append(ConfigIssue(".".join(path), message, line_for(lines, path)))

    engines: dict[str, ResolvedEngine] = {}
    for name, spec in config.engines.items():
        if name in ROUTE_NAMES:
            issue(["engines", name], "an engine may not be named like a route")
            continue
        entry = catalog.engine(spec.capability, spec.engine)
        if entry is None:
            issue(
                ["engines", name, "engine"],
                _missing_engine_message(catalog, spec.capability, spec.engine),
            )
            continue
        try:
            settings = entry.cls.Settings(**spec.settings)
        except ValidationError as exc:
            issues.extend(issues_from_validation(exc, lines, ["engines", name, "settings"]))
            continue
        engines[name] = ResolvedEngine(
            name=name,
            spec=spec,
            entry=entry,
            settings=settings,
            location=spec.location or entry.cls.location_for(settings),
            policy=config.policy.for_engine(name),
            fingerprint=_fingerprint(spec, entry, settings),
        )

    for capability, chain in config.routes.items():
        seen: set[str] = set()
        for index, name in enumerate(chain):
            path = ["routes", capability.value, str(index)]
            listed = config.engines.get(name)
            if listed is None:
                issue(path, f"unknown engine {name!r} (define it under engines:)")
            elif listed.capability != capability:
                issue(
                    path, f"{name!r} is a {listed.capability.value} engine, not {capability.value}"
                )
            elif name in seen:
                issue(path, f"{name!r} is listed twice")
            seen.add(name)
    for alias, value in config.aliases.items():
        targets = alias_targets(value)
        if not targets:
            issue(["aliases", alias], "an alias needs at least one target")
        for target in targets:
            if target not in ROUTE_NAMES and target not in config.engines:
                issue(["aliases", alias], f"{target!r} is neither a route nor an engine")
        capabilities = [
            config.engines[t].capability.value if t in config.engines else t
            for t in targets
            if t in ROUTE_NAMES or t in config.engines
        ]
        if len(set(capabilities)) != len(capabilities):
            issue(["aliases", alias], "an alias may name one target per capability")
        if alias in config.engines or alias in ROUTE_NAMES:
            issue(["aliases", alias], "an alias may not reuse a route or engine name")
    for name in config.policy.engines:
        if name not in config.engines:
            issue(["policy", "engines", name], "unknown engine")
    for profile_name, profile in config.realtime.profiles.items():
        for capability in (Capability.STT, Capability.LLM, Capability.TTS, Capability.VAD):
            target = getattr(profile, capability.value)
            problem = _route_problem(config, target, capability)
            if problem:
                issue(["realtime", "profiles", profile_name, capability.value], problem)

    issues.extend(_unrouted(config, lines))
    if issues:
        raise ConfigError(issues, loaded.source)

    declared = {cap: list(chain) for cap, chain in config.routes.items()}
    chains: dict[Capability, list[str]] = {}
    warnings: list[str] = []
    for capability, chain in declared.items():
        chains[capability] = filter_chain(chain, engines, config.mode)
        if chain and not chains[capability]:
            warnings.append(
                f"routes.{capability.value}: mode {config.mode.value!r} leaves no engine for it"
            )

    for exposed in (_exposed_without_keys(config), _wyoming_open_to_all(config)):
        if exposed:
            warnings.append(exposed)
    data_dir = (config.data_dir or default_data_dir()).expanduser()
    models_dir = (config.models_dir or data_dir / "models").expanduser()
    return ResolvedConfig(
        config=config,
        source=loaded.source,
        sha256=loaded.sha256,
        engines=engines,
        chains=chains,
        declared_chains=declared,
        data_dir=data_dir,
        models_dir=models_dir,
        warnings=warnings,
    )
