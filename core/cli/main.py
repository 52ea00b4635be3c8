"""``voxgate``: serve the daemon, check configs, list plugins, talk to a running daemon."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from core import __version__
from core.cli import (
    commands_config,
    commands_ctl,
    commands_models,
    commands_plugins,
    commands_rag,
    commands_serve,
    commands_service,
    commands_try,
)
from core.observability.logging import configure_logging

#: Each module adds its sub-commands with ``register(subparsers)``.
COMMAND_MODULES = (
    commands_serve,
    commands_config,
    commands_plugins,
    commands_models,
    commands_ctl,
    commands_try,
    commands_rag,
    commands_service,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="voxgate",
        description="Local-first voice AI gateway with an OpenAI-compatible API.",
    )
    parser.add_argument("--version", action="version", version=f"voxgate {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in COMMAND_MODULES:
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    # Client commands log errors only (their own output says what went wrong), and to stderr
    # so that --json output stays parseable; `serve` reconfigures from the YAML.
    configure_logging(os.environ.get("VOXGATE_LOG_LEVEL", "error"), "console")
    try:
        code: int = handler(args)
    except KeyboardInterrupt:
        # Ctrl-C ends the command, as it does other Unix tools: no traceback, status 128 + SIGINT.
        sys.stderr.write("\n")
        return 130
    except BrokenPipeError:
        # Output piped into `head` and the like: stop quietly, as Unix tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    return code


if __name__ == "__main__":
    sys.exit(main())
