"""The web console's server side: its static files, and the views of the daemon it shows."""

from __future__ import annotations

from pathlib import Path


def static_dir() -> Path:
    """The folder of the console's HTML, JS and CSS (shipped as package data)."""
    return Path(__file__).parent / "static"
