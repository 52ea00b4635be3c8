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
