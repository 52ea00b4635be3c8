"""Readiness: one verdict with reasons, served by /readyz and sent to systemd as READY=1."""

from __future__ import annotations

import pytest

from core.config import ConfigError
from core.runtime.readiness import assess
from tests.support import WriteConfig
from tests.support.daemon import asgi_client, running_runtime


async def test_ready_daemon_has_no_reasons(write_config: WriteConfig) -> None:
    config = write_config("engines: {a: {capability: llm, engine: fake}}\nroutes: {llm: [a]}\n")
    async with running_runtime(config) as runtime, asgi_client(runtime) as client:
        body = (await client.get("/readyz")).json()
        assert body == {"status": "ready", "routes": {"llm": True}, "reasons": []}
        assert assess(runtime).ready


async def test_every_route_without_a_loadable_engine_is_named(write_config: WriteConfig) -> None:
    config = write_config(
        "mode: local\n"
        "engines:\n"
        "  broken: {capability: llm, engine: fake, preload: true, settings: {fail_load: true}}\n"
        "  far: {capability: tts, engine: fake_cloud}\n"
        "  fine: {capability: stt, engine: fake}\n"
        "routes: {llm: [broken], tts: [far], stt: [fine], embeddings: []}\n"
    )
    async with running_runtime(config) as runtime, asgi_client(runtime) as client:
        response = await client.get("/readyz")
        assert response.status_code == 503
        body = response.json()
        assert body["routes"] == {"llm": False, "tts": False, "stt": True, "embeddings": False}
        assert body["reasons"] == [
            "llm: no engine can serve "
            "(broken failed to load: EngineUnavailable: fake model file missing)",
            "tts: mode 'local' leaves none of far",
            "embeddings: no engines are listed",
        ]
        assert assess(runtime).reasons == body["reasons"]


async def test_no_routes_never_starts_and_stopping_is_not_ready(
    write_config: WriteConfig,
) -> None:
    # A file without routes would serve nothing: it is refused before it can be "not ready".
    with pytest.raises(ConfigError, match="no routes"):
        async with running_runtime(write_config("mode: local\n")):
            pass
    config = write_config("engines: {a: {capability: llm, engine: fake}}\nroutes: {llm: [a]}\n")
    async with running_runtime(config) as runtime:
        runtime.closing = True
        assert assess(runtime).reasons[0] == "shutting down"
