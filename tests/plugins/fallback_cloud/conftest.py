"""The upstream "cloud" daemon, started once for all fallback_cloud tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.plugins.fallback_cloud.support import KEY_ENV, UPSTREAM_CONFIG, UPSTREAM_KEY
from tests.support.daemon import serving
from tests.support.plugin_dist import fake_plugin_env


@pytest.fixture(scope="session")
def upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL (without /v1) of a real voxgate daemon in mode local, with an API key."""
    folder = tmp_path_factory.mktemp("cloud-upstream")
    env = {**fake_plugin_env(folder), "VOXGATE_API_KEYS": UPSTREAM_KEY}
    with serving(folder, UPSTREAM_CONFIG, env=env) as url:
        yield url


@pytest.fixture
def cloud_key(monkeypatch: pytest.MonkeyPatch) -> str:
    """The upstream's key in the environment variable the cloud engines read."""
    monkeypatch.setenv(KEY_ENV, UPSTREAM_KEY)
    return UPSTREAM_KEY
