"""compose.yaml against the config it changes: the environment it gives the daemon must turn the
shipped config into a valid one that reaches the Chroma and Valkey services it defines, and its
volumes and stop grace must fit the image. (The image itself: test_image.py.)"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from core.config import load_config, resolve_config
from core.plugins import create_plugin_catalog
from tests.support.plugin_dist import REPO_ROOT

COMPOSE = REPO_ROOT / "compose.yaml"
SHIPPED = REPO_ROOT / "config" / "ai_backend.yaml"


@pytest.fixture(scope="module")
def services() -> dict[str, Any]:
    loaded = yaml.safe_load(COMPOSE.read_text())
    return dict(loaded["services"])


def option(argv: list[str], name: str) -> str:
    return argv[argv.index(name) + 1]


def seconds(duration: str) -> float:
    match = re.fullmatch(r"(\d+)s", duration)
    assert match, duration
    return float(match[1])


def test_the_daemon_environment_points_the_shipped_config_at_the_services(
    services: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in services["voxgate"]["environment"].items():
        monkeypatch.setenv(name, str(value))
    config = load_config(SHIPPED).config
    resolve_config(load_config(SHIPPED), create_plugin_catalog())  # every engine still valid

    documents = config.engines["documents"].settings
    chroma = services["chroma"]["entrypoint"]
    assert documents["host"] in services
    assert documents["host"] == "chroma"
    assert int(documents["port"]) == int(option(chroma, "--port"))
    assert option(chroma, "--host") == "0.0.0.0"

    assert config.state.backend == "valkey"
    url = urlsplit(config.state.url)
    assert url.hostname in services
    assert services[url.hostname]["image"].startswith("docker.io/valkey/valkey:")
    assert "voxgate" in config.server.allowed_hosts


def test_volumes_and_stop_grace_fit_the_image(services: dict[str, Any]) -> None:
    containerfile = (REPO_ROOT / "Containerfile").read_text()
    volume = re.search(r"^VOLUME (\S+)$", containerfile, re.MULTILINE)
    assert volume
    for name in ("voxgate", "chroma"):
        mounts = [m.split(":")[1] for m in services[name]["volumes"]]
        assert mounts == [volume[1]], name
    # Chroma keeps its store inside the volume, which the image's user owns.
    assert option(services["chroma"]["entrypoint"], "--path").startswith(volume[1] + "/")
    drain = load_config(SHIPPED).config.server.drain_timeout
    assert seconds(services["voxgate"]["stop_grace_period"]) > drain
