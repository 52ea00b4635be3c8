"""Small JSON objects kept in a file beside what they describe (a model's manifest, a worker
environment's marker)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def read_json_object(path: Path) -> dict[str, Any] | None:
    """The object stored at ``path``; ``None`` when the file is missing, unreadable or not one."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def write_json_object(path: Path, data: dict[str, Any]) -> None:
    """Written beside and renamed into place, so a reader never sees half a file."""
    temp = path.with_name(path.name + ".tmp")
    temp.write_text(json.dumps(data, indent=2, ensure_ascii=False), encoding="utf-8")
    temp.replace(path)
