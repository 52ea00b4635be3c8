"""The ``--config`` option that several commands share, and the file it names."""

from __future__ import annotations

import argparse
from pathlib import Path

from core.config.paths import default_config_file


def add_config_argument(parser: argparse.ArgumentParser, help_text: str) -> None:
    """``--config FILE``; left out, the command reads the default file (see config_file)."""
    parser.add_argument("--config", type=Path, default=None, help=help_text)


def config_file(args: argparse.Namespace) -> Path:
    """The file ``--config`` names, else $VOXGATE_CONFIG or the default config file."""
    chosen: Path | None = args.config
    return chosen or default_config_file()
