"""The container health check's probe (``python -m core.service.probe``) against real daemons:
exit 0 when ready, 1 with the readiness reasons when not, 1 when nothing answers."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.support import WriteConfig
from tests.support.commands import run_module
from tests.support.daemon import Daemon, free_port
from tests.support.plugin_dist import fake_plugin_env

READY = "engines: {a: {capability: llm, engine: fake}}\nroutes: {llm: [a]}\n"
BROKEN = (
    "engines: {a: {capability: llm, engine: fake, preload: true, settings: {fail_load: true}}}\n"
    "routes: {llm: [a]}\n"
)


def probe(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return run_module("core.service.probe", *args, env=env, timeout=60)


def test_ready_and_not_ready_daemons(write_config: WriteConfig, tmp_path: Path) -> None:
    env = fake_plugin_env(tmp_path)
    ready = Daemon(write_config(READY, "ready.yaml"), env)
    try:
        # The URL from the environment, as the image sets it.
        result = probe(env={"VOXGATE_URL": ready.url})
        assert (result.returncode, result.stdout) == (0, "ready (200)\n")
    finally:
        assert ready.stop() == 0

    broken = Daemon(write_config(BROKEN, "broken.yaml"), env)
    try:
        result = probe(broken.url)
        assert result.returncode == 1
        assert result.stdout == (
            "not ready (503): llm: no engine can serve "
            "(a failed to load: EngineUnavailable: fake model file missing)\n"
        )
    finally:
        assert broken.stop() == 0


def test_nothing_listening_is_not_ready() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    result = probe(url)
    assert result.returncode == 1
    assert result.stdout.startswith(f"no answer from {url}/readyz: ")
