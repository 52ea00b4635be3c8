"""``voxgate plugins``: every plugin found, its engines, and those that failed to load."""

from __future__ import annotations

import argparse
from typing import Any

from core.cli.output import emit_json, say
from core.plugins import create_plugin_catalog


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("plugins", help="list plugins and their engines")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(handler=list_command)


def list_command(args: argparse.Namespace) -> int:
    catalog = create_plugin_catalog()
    by_plugin: dict[str, list[dict[str, str]]] = {name: [] for name in catalog.plugins}
    for entry in catalog.engines.values():
        by_plugin.setdefault(entry.plugin, []).append(
            {
                "capability": entry.capability.value,
                "engine": entry.name,
                "location": entry.cls.location,
                "description": entry.cls.description,
            }
        )
    if args.json:
        emit_json(
            {
                "plugins": [
                    {"name": n, "distribution": catalog.plugins.get(n), "engines": e}
                    for n, e in sorted(by_plugin.items())
                ],
                "failed": [f.__dict__ for f in catalog.failures],
            }
        )
        return 0
    for name, engines in sorted(by_plugin.items()):
        say(f"{name}  ({catalog.plugins.get(name) or 'registered directly'})")
        for e in sorted(engines, key=lambda e: (e["capability"], e["engine"])):
            say(f"  {e['capability']:<11} {e['engine']:<20} {e['location']:<6} {e['description']}")
    for failure in catalog.failures:
        say(f"FAILED {failure.plugin}: {failure.error}")
    return 1 if catalog.failures else 0
