"""Suite-wide fixtures. Each test builds what it needs in its own temporary directory."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import fake_plugin


@pytest.fixture(autouse=True)
def _isolated_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test writes to the real user data directory or reads the user's API keys."""
    monkeypatch.setenv("VOXGATE_DATA_DIR", str(tmp_path / "data"))
    for name in ("VOXGATE_API_KEYS", "VOXGATE_CONTROL_TOKEN", "VOXGATE_CONFIG", "VOXGATE_MODE"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(autouse=True)
def _reset_fakes() -> Iterator[None]:
    fake_plugin.SWITCHES.clear()
    fake_plugin.CALLS.clear()
    fake_plugin.CHAT_REQUESTS.clear()
    fake_plugin.EMBED_TYPES.clear()
    fake_plugin.NATIVE_RELEASE.clear()
    yield
    fake_plugin.NATIVE_RELEASE.set()  # no test leaves a thread blocked behind it
    fake_plugin.SWITCHES.clear()
    fake_plugin.CALLS.clear()
    fake_plugin.CHAT_REQUESTS.clear()
    fake_plugin.EMBED_TYPES.clear()


@pytest.fixture
def write_config(tmp_path: Path):  # type: ignore[no-untyped-def]
    """Write YAML text to a config file in the test's temp dir and return its path."""

    def write(text: str, name: str = "ai_backend.yaml") -> Path:
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return write
