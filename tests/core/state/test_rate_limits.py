"""Rate limits through the API with the in-process state backend: an engine over its rate is
passed over like a busy one (429 with Retry-After when nothing else serves), and an API key over
its rate is refused before any engine is taken."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient, WebSocketDenialResponse

from core.api.app import create_app
from core.config.errors import ConfigError
from core.config.loader import load_config
from tests.support import WriteConfig
from tests.support.daemon import asgi_client
from tests.support.fake_plugin import CALLS
from tests.support.runtime import running_runtime

CONFIG = """\
policy:
  engines:
    metered: {{rate_limit: "{rate}"}}
engines:
  metered: {{capability: llm, engine: fake, settings: {{reply: from metered}}}}
  spare: {{capability: llm, engine: fake, settings: {{reply: from spare}}}}
routes: {{llm: [metered, spare]}}
"""
BODY = {"messages": [{"role": "user", "content": "hi"}]}


async def test_an_engine_over_its_rate_is_passed_over(write_config: WriteConfig) -> None:
    config = write_config(CONFIG.format(rate="2/min"))
    async with running_runtime(config) as runtime, asgi_client(runtime) as client:
        served = []
        for _ in range(3):
            response = await client.post("/v1/chat/completions", json=BODY)
            assert response.status_code == 200, response.text
            served.append(response.headers["x-voxgate-engine"])
        assert served == ["metered", "metered", "spare"]
        assert response.headers["x-voxgate-fallback"] == "metered=rate_limited"
        assert CALLS == {"metered": 2, "spare": 1}

        pinned = await client.post("/v1/chat/completions", json={**BODY, "model": "metered"})
        assert pinned.status_code == 429, pinned.text
        assert "rate limit of 2/min" in pinned.json()["error"]["message"]
        assert 1 <= int(pinned.headers["retry-after"]) <= 30  # one interval of 2/min

        status = (await client.get("/control/status")).json()
        # Busy is not broken: the engine's breaker never heard of it.
        assert status["engines"]["metered"]["breaker"]["state"] == "closed"
        assert status["engines"]["metered"]["breaker"]["consecutive_failures"] == 0
        assert status["state"] == {"backend": "memory", "state": "local"}


async def test_a_reload_changes_the_rate_of_a_kept_engine(write_config: WriteConfig) -> None:
    config = write_config(CONFIG.format(rate="1/min"))
    async with running_runtime(config) as runtime, asgi_client(runtime) as client:
        pinned = {**BODY, "model": "metered"}
        assert (await client.post("/v1/chat/completions", json=pinned)).status_code == 200
        assert (await client.post("/v1/chat/completions", json=pinned)).status_code == 429
        config.write_text(CONFIG.format(rate="1000/s"))
        result = await runtime.reload()
        assert result.ok and result.unchanged == ["metered", "spare"]
        assert (await client.post("/v1/chat/completions", json=pinned)).status_code == 200


KEY_CONFIG = """\
auth: {rate_limit: 2/min}
engines:
  chat: {capability: llm, engine: fake}
routes: {llm: [chat]}
"""


async def test_an_api_key_over_its_rate_gets_429_before_any_engine(
    write_config: WriteConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VOXGATE_API_KEYS", "key-one,key-two")
    async with running_runtime(write_config(KEY_CONFIG)) as runtime:
        async with asgi_client(runtime, authorization="Bearer key-one") as one:
            for _ in range(2):
                assert (await one.post("/v1/chat/completions", json=BODY)).status_code == 200
            refused = await one.post("/v1/chat/completions", json=BODY)
            assert refused.status_code == 429
            assert refused.json()["error"]["code"] == "rate_limit_exceeded"
            assert 1 <= int(refused.headers["retry-after"]) <= 30
            assert CALLS == {"chat": 2}  # the refused request took no engine
            # Health, metrics and control are never limited.
            assert (await one.get("/healthz")).status_code == 200
            assert (await one.get("/control/status")).status_code == 200
            metrics = (await one.get("/metrics")).text
            assert 'voxgate_rate_limited_total{limit="api_key"} 1.0' in metrics
        async with asgi_client(runtime, authorization="Bearer key-two") as two:
            assert (await two.post("/v1/chat/completions", json=BODY)).status_code == 200


async def test_without_api_keys_every_client_shares_the_limit(
    write_config: WriteConfig,
) -> None:
    async with running_runtime(write_config(KEY_CONFIG)) as runtime:
        for token in ("made-up-1", "made-up-2"):
            async with asgi_client(runtime, authorization=f"Bearer {token}") as client:
                assert (await client.post("/v1/chat/completions", json=BODY)).status_code == 200
        async with asgi_client(runtime, authorization="Bearer made-up-3") as client:
            assert (await client.post("/v1/chat/completions", json=BODY)).status_code == 429


def test_the_state_block_is_checked_like_any_other(write_config: WriteConfig) -> None:
    bad = write_config(
        "state: {backend: valkey, url: 'http://127.0.0.1:6379'}\n"
        "engines: {chat: {capability: llm, engine: fake}}\nroutes: {llm: [chat]}\n"
    )
    with pytest.raises(ConfigError, match=r"state\.url"):
        load_config(bad)


async def test_a_websocket_handshake_over_the_rate_is_answered_429(
    write_config: WriteConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VOXGATE_API_KEYS", "key-one")
    headers = {"authorization": "Bearer key-one", "host": "127.0.0.1:8765"}
    async with running_runtime(write_config(KEY_CONFIG)) as runtime:
        async with asgi_client(runtime, authorization="Bearer key-one") as one:
            for _ in range(2):
                assert (await one.post("/v1/chat/completions", json=BODY)).status_code == 200
        app = create_app(runtime, manage_runtime=False)
        with (
            TestClient(app) as client,
            pytest.raises(WebSocketDenialResponse) as refused,
            client.websocket_connect("/v1/audio/transcriptions/stream", headers=headers),
        ):
            pass
    assert refused.value.status_code == 429
    assert refused.value.json()["error"]["code"] == "rate_limit_exceeded"
    assert 1 <= int(refused.value.headers["retry-after"]) <= 30
