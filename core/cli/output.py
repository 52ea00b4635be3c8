"""Printing for the CLI: plain text for people, JSON with --json for scripts."""

from __future__ import annotations

import json
import sys
from typing import Any


def emit_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")


def say(text: str = "") -> None:
    sys.stdout.write(text + "\n")


def fail(text: str) -> int:
    sys.stderr.write(f"voxgate: {text}\n")
    return 1


def usage_error(text: str) -> int:
    """A command line that cannot work as given: exit status 2, as for argparse's own errors."""
    sys.stderr.write(f"voxgate: {text}\n")
    return 2


def result(as_json: bool, data: Any, line: str, status: int = 0) -> int:
    """A command's outcome: ``data`` as JSON for scripts (--json), else ``line`` for people.
    Returns the exit status, so a command can end with ``return result(...)``."""
    if as_json:
        emit_json(data)
    else:
        say(line)
    return status


def failure(as_json: bool, data: dict[str, Any], text: str) -> int:
    """A failed command: ``{"ok": false, ...}`` on stdout for scripts, else ``text`` on stderr."""
    if as_json:
        emit_json({"ok": False, **data})
        return 1
    return fail(text)
