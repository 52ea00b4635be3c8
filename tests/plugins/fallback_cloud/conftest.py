"""The upstream "cloud" daemon, started once for all fallback_cloud tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.plugins.fallback_cloud.support import KEY_ENV, UPSTREAM_CONFIG, UPSTREAM_KEY
from tests.support.daemon import daemon_process
from tests.support.plugin_dist import fake_plugin_env


@pytest.fixture(scope="session")
def upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL (without /v1) of a real voxgate daemon in mode local, with an API key."""
    folder = tmp_path_factory.mktemp("cloud-upstream")
    config = folder / "ai_backend.yaml"
    config.write_text(UPSTREAM_CONFIG, encoding="utf-8")
    env = {
        **fake_plugin_env(folder),
        "VOXGATE_DATA_DIR": str(folder / "data"),
        "VOXGATE_API_KEYS": UPSTREAM_KEY,
    }
    with daemon_process(config, env=env) as url:
        yield url


@pytest.fixture
def cloud_key(monkeypatch: pytest.MonkeyPatch) -> str:
    """The upstream's key in the environment variable the cloud engines read."""
    monkeypatch.setenv(KEY_ENV, UPSTREAM_KEY)
    return UPSTREAM_KEY
