"""``voxgate serve``."""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import Any

from core.cli.output import fail
from core.config.errors import ConfigError
from core.config.paths import default_config_file
from core.observability.logging import configure_logging


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("serve", help="run the gateway daemon")
    parser.add_argument(
        "--config",
        type=Path,
        default=None,
        help="YAML file (default: $VOXGATE_CONFIG or config/ai_backend.yaml)",
    )
    parser.add_argument("--host", default=None, help="bind address (overrides server.host)")
    parser.add_argument("--port", type=int, default=None, help="port (overrides server.port)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from core.server import serve

    configure_logging()
    config = args.config or default_config_file()
    try:
        asyncio.run(serve(config, args.host, args.port))
    except ConfigError as exc:
        return fail(exc.render())
    except KeyboardInterrupt:
        pass
    return 0
