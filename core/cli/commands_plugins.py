"""``voxgate plugins``: every plugin found, its engines, and those that failed to load.

``voxgate plugins install NAME`` builds the isolated Python environment a plugin's worker runs in
(for engines whose libraries conflict with the daemon's, such as Qwen3-TTS).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from core.cli.output import emit_json, fail, result, say
from core.plugins import create_plugin_catalog
from core.workers.environment import WorkerEnvironment
from core.workers.install import InstallError, env_dir, install_environment


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("plugins", help="list plugins; install their environments")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(handler=list_command)
    sub = parser.add_subparsers(dest="plugins_command", metavar="ACTION")
    install = sub.add_parser(
        "install", help="create the isolated environment a plugin's worker runs in"
    )
    install.add_argument("name", help="environment name (e.g. tts_qwen3)")
    install.add_argument(
        "--path", type=Path, default=None, help="where to create it (default: <data dir>/envs/NAME)"
    )
    install.add_argument(
        "--python", type=Path, default=None, help="base interpreter (default: this one)"
    )
    install.add_argument(
        "--torch-index-url",
        default=os.environ.get("VOXGATE_TORCH_INDEX_URL") or None,
        help="index for the first, pinned packages (e.g. https://download.pytorch.org/whl/cpu "
        "or a CUDA index; default $VOXGATE_TORCH_INDEX_URL, else pip's own configuration)",
    )
    install.add_argument("--force", action="store_true", help="rebuild from scratch")
    install.set_defaults(handler=install_command)


def _environments() -> dict[str, WorkerEnvironment]:
    catalog = create_plugin_catalog()
    found: dict[str, WorkerEnvironment] = {}
    for _plugin, envs in catalog.collect("voxgate_worker_environments"):
        for env in envs:
            if isinstance(env, WorkerEnvironment):
                found.setdefault(env.name, env)
    return found


def install_command(args: argparse.Namespace) -> int:
    environments = _environments()
    env = environments.get(args.name)
    if env is None:
        known = ", ".join(sorted(environments)) or "none"
        return fail(f"no plugin declares an environment {args.name!r} (known: {known})")
    folder = args.path or env_dir(env.name)
    try:
        python = install_environment(
            env,
            folder,
            base_python=args.python,
            first_index_url=args.torch_index_url,
            force=args.force,
            say=say,
        )
    except InstallError as exc:
        return fail(str(exc))
    data = {"ok": True, "name": env.name, "python": str(python)}
    return result(args.json, data, f"worker interpreter: {python}")


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
