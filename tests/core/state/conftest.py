"""A real valkey-server on loopback for the state backend tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.fleet_tools import ValkeyServer


@pytest.fixture
def valkey_server(tmp_path: Path) -> Iterator[ValkeyServer]:
    server = ValkeyServer(tmp_path / "valkey")
    yield server
    server.stop()
