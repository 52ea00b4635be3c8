"""``voxgate config check``: validate a file and print each route's resolved chain."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from core.cli.output import emit_json, failure, say
from core.config.errors import ConfigError
from core.config.loader import load_config
from core.config.paths import default_config_file
from core.config.resolve import resolve_config
from core.plugins import create_plugin_catalog


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("config", help="configuration tools")
    sub = parser.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    check = sub.add_parser("check", help="validate a config file and show the resolved chains")
    check.add_argument("file", nargs="?", type=Path, default=None)
    check.add_argument("--json", action="store_true", help="machine-readable output")
    check.set_defaults(handler=check_command)


def check_command(args: argparse.Namespace) -> int:
    path = args.file or default_config_file()
    try:
        loaded = load_config(path)
        catalog = create_plugin_catalog(disabled=loaded.config.plugins.disabled)
        resolved = resolve_config(loaded, catalog)
    except ConfigError as exc:
        return failure(args.json, exc.as_dict(), exc.render())
    chains = {cap.value: chain for cap, chain in resolved.chains.items()}
    if args.json:
        emit_json(
            {
                "ok": True,
                "file": str(path),
                "mode": resolved.mode.value,
                "chains": chains,
                "warnings": resolved.warnings,
            }
        )
        return 0
    say(f"{path}: OK (mode {resolved.mode.value})")
    for capability, chain in resolved.declared_chains.items():
        active = resolved.chains[capability]
        parts = []
        for name in chain:
            engine = resolved.engines[name]
            mark = "" if name in active else "  [dropped by mode]"
            parts.append(f"{name} ({engine.spec.engine}, {engine.location}){mark}")
        say(f"  {capability.value:<11} " + (" -> ".join(parts) if parts else "(empty)"))
    for alias, target in resolved.config.aliases.items():
        say(f"  alias {alias} -> {target}")
    for warning in resolved.warnings:
        say(f"  warning: {warning}")
    return 0
