"""Daemon configs built from engine entries, for tests and benches whose engines and settings
are only known at run time (chosen on the command line, or pointing into a temp folder)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml


def engine_entry(
    capability: str, engine: str, settings: Mapping[str, Any] | None = None, *, preload: bool = True
) -> dict[str, Any]:
    """One engine of the config's ``engines``; preloaded by default, so the first timed or
    tested request does not pay for the model load."""
    entry: dict[str, Any] = {"capability": capability, "engine": engine, "preload": preload}
    if settings:
        entry["settings"] = dict(settings)
    return entry


def daemon_config(
    engines: Mapping[str, Mapping[str, Any]],
    *,
    log_level: str = "warning",
    log_format: str | None = None,
    models_dir: Path | None = None,
    routes: Mapping[str, Sequence[str]] | None = None,
    sections: Mapping[str, Any] | None = None,
) -> str:
    """YAML text serving ``engines``, each capability routed to its engines in the order given
    unless ``routes`` says otherwise; ``sections`` are further top-level blocks (``aliases``,
    ``policy``, ...). The file is not watched: a test or bench rewrites it only to start another
    daemon."""
    logging = {"level": log_level}
    if log_format is not None:
        logging["format"] = log_format
    config: dict[str, Any] = {"reload": {"watch": False}, "logging": logging}
    if models_dir is not None:
        config["models_dir"] = str(models_dir)
    config["engines"] = {name: dict(entry) for name, entry in engines.items()}
    chosen = _routes_in_order(engines) if routes is None else routes
    config["routes"] = {capability: list(names) for capability, names in chosen.items()}
    config.update(sections or {})
    return yaml.safe_dump(config, sort_keys=False)


def _routes_in_order(engines: Mapping[str, Mapping[str, Any]]) -> dict[str, list[str]]:
    """Each capability routed to its engines in the order ``engines`` gives them."""
    routes: dict[str, list[str]] = {}
    for name, entry in engines.items():
        routes.setdefault(entry["capability"], []).append(name)
    return routes
