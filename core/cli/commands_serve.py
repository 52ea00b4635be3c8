"""``voxgate serve``."""

from __future__ import annotations

import argparse
from typing import Any

from core import event_loop
from core.cli.config_option import add_config_argument, config_file
from core.cli.output import fail
from core.config.errors import EXIT_CONFIG, ConfigError
from core.observability.logging import configure_logging


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("serve", help="run the gateway daemon")
    add_config_argument(parser, "YAML file (default: $VOXGATE_CONFIG or config/ai_backend.yaml)")
    parser.add_argument("--host", default=None, help="bind address (overrides server.host)")
    parser.add_argument("--port", type=int, default=None, help="port (overrides server.port)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from core.server import FrontDoorError, serve
    from core.service.activation import ActivationError, inherited_sockets

    configure_logging()
    config = config_file(args)
    try:
        # Started by a .socket unit (or systemd-socket-activate): serve on its sockets.
        sockets = inherited_sockets()
        event_loop.run(serve(config, args.host, args.port, sockets=sockets))
    except (ConfigError, ActivationError) as exc:
        # A distinct status, so a service manager does not restart into the same error.
        fail(exc.render() if isinstance(exc, ConfigError) else str(exc))
        return EXIT_CONFIG
    except FrontDoorError as exc:
        fail(str(exc))
        return 1
    except KeyboardInterrupt:
        pass
    return 0
