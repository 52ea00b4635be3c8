"""The console's server side: its pages, the off switch, the control views it reads and their
protection (loopback or control token, never another site's page)."""

from __future__ import annotations

import contextlib

import httpx
import pytest

from tests.core.api.app_client import runtime_client
from tests.support import WriteConfig
from tests.support.fake_plugin import SWITCHES

CONFIG = """\
reload: {watch: false}
engines:
  first: {capability: llm, engine: fake, settings: {switch: first}}
  second: {capability: llm, engine: fake}
  voice: {capability: tts, engine: fake}
routes: {llm: [first, second], tts: [voice]}
state: {url: "valkey://:hunter2@127.0.0.1:6379/0"}
"""

MESSAGES = [{"role": "user", "content": "hi"}]


def client_for(
    write_config: WriteConfig, text: str = CONFIG, host: str = "127.0.0.1", **headers: str
) -> contextlib.AbstractAsyncContextManager[httpx.AsyncClient]:
    return runtime_client(
        write_config(text), base_url="http://127.0.0.1:8765", host=host, **headers
    )


async def test_root_redirects_to_the_console_and_its_files_are_served(
    write_config: WriteConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The pages need no API key (a browser cannot send one to load a page) ...
    monkeypatch.setenv("VOXGATE_API_KEYS", "secret-key")
    async with client_for(write_config) as client:
        for path in ("/", "/console"):
            moved = await client.get(path)
            assert moved.status_code == 307
            assert moved.headers["location"] == "/console/"
        page = await client.get("/console/")
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
        assert page.headers["x-frame-options"] == "DENY"
        script = await client.get("/console/app.js")
        assert script.headers["content-type"].startswith("text/javascript")
        # ... but the data plane still does.
        assert (await client.get("/v1/models")).status_code == 401


@pytest.mark.parametrize(
    "path",
    [
        "/console/missing.js",
        "/console/..%2Fredact.py",
        "/console/__init__.py",
        "/console/app%00.js",
        "/console/" + "a" * 300 + ".js",
    ],
)
async def test_only_the_console_files_are_served(write_config: WriteConfig, path: str) -> None:
    async with client_for(write_config) as client:
        response = await client.get(path)
        assert response.status_code == 404
        assert response.json()["error"]["message"]


async def test_the_console_can_be_switched_off(write_config: WriteConfig) -> None:
    async with client_for(write_config, CONFIG + "console: {enabled: false}\n") as client:
        for path in ("/", "/console", "/console/", "/console/app.js"):
            response = await client.get(path)
            assert response.status_code == 404, path
            assert "console.enabled" in response.json()["error"]["message"]
        assert (await client.get("/healthz")).status_code == 200


async def test_activity_shows_fallbacks_with_reasons_and_route_totals(
    write_config: WriteConfig,
) -> None:
    SWITCHES["first"] = "fail"
    async with client_for(write_config) as client:
        chat = await client.post(
            "/v1/chat/completions", json={"model": "llm", "messages": MESSAGES}
        )
        assert chat.status_code == 200
        activity = (await client.get("/control/activity")).json()
        newest = activity["decisions"][0]
        assert newest["capability"] == "llm"
        assert newest["engine"] == "second"
        assert newest["fell_back"] is True
        assert [s["engine"] for s in newest["skipped"]] == ["first"]
        assert newest["skipped"][0]["reason"]
        routes = {r["path"]: r for r in activity["routes"]}
        assert routes["/v1/chat/completions"]["requests"] == 1
        assert routes["/v1/chat/completions"]["errors"] == 0
        assert routes["/v1/chat/completions"]["mean_latency_ms"] is not None


@pytest.mark.parametrize("limit", ["\u00b2", "9" * 5000, "x"])
async def test_activity_takes_a_limit_it_cannot_read_as_the_default(
    write_config: WriteConfig, limit: str
) -> None:
    async with client_for(write_config) as client:
        await client.post("/v1/chat/completions", json={"model": "llm", "messages": MESSAGES})
        response = await client.get("/control/activity", params={"limit": limit})
        assert response.status_code == 200, response.text
        assert len(response.json()["decisions"]) == 1
        none = await client.get("/control/activity", params={"limit": "0"})
        assert none.json()["decisions"] == []


async def test_config_view_masks_secrets_in_values_and_text(write_config: WriteConfig) -> None:
    async with client_for(write_config) as client:
        view = (await client.get("/control/config")).json()
        assert "hunter2" not in str(view)
        assert view["resolved"]["state"]["url"] == "valkey://:********@127.0.0.1:6379/0"
        assert view["resolved"]["auth"]["api_keys_env"] == "VOXGATE_API_KEYS"
        assert view["text"] == CONFIG.replace("hunter2", "********")
        assert view["chains"] == {"llm": ["first", "second"], "tts": ["voice"]}


async def test_config_check_names_the_line_of_each_problem(write_config: WriteConfig) -> None:
    async with client_for(write_config) as client:
        broken = CONFIG.replace("second: {capability: llm, engine: fake}", "second: {engine: fake}")
        broken += "routes_typo: {}\n"
        result = (await client.post("/control/config/check", json={"text": broken})).json()
        assert result["ok"] is False
        where = {issue["path"]: issue["line"] for issue in result["issues"]}
        assert where["routes_typo"] == len(broken.splitlines())
        assert (await client.post("/control/config/check", json={"text": "a: [1"})).json()[
            "issues"
        ][0]["line"] == 1
        good = (await client.post("/control/config/check", json={"text": CONFIG})).json()
        assert good["ok"] is True
        assert good["chains"]["llm"] == ["first", "second"]
        # Checking applies nothing.
        status = (await client.get("/control/status")).json()
        assert status["generation"] == 1


async def test_config_check_takes_only_json(write_config: WriteConfig) -> None:
    async with client_for(write_config) as client:
        # A cross-site form could send text/plain without a preflight; it is refused.
        plain = await client.post(
            "/control/config/check", content=CONFIG, headers={"content-type": "text/plain"}
        )
        assert plain.status_code == 415
        extra = await client.post("/control/config/check", json={"text": "", "save": True})
        assert extra.status_code == 400


async def test_control_views_keep_the_control_plane_protection(
    write_config: WriteConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VOXGATE_CONTROL_TOKEN", "control-secret")
    async with client_for(write_config, host="192.0.2.7") as remote:
        for path in ("/control/activity", "/control/config"):
            assert (await remote.get(path)).status_code == 403
        assert (
            await remote.get(
                "/control/config", headers={"x-voxgate-control-token": "control-secret"}
            )
        ).status_code == 200
    async with client_for(write_config) as local:
        evil = {"origin": "https://evil.example"}
        check = await local.post("/control/config/check", json={"text": CONFIG}, headers=evil)
        assert check.status_code == 403
        # The console's own page (same origin) may.
        same = {"origin": "http://127.0.0.1:8765"}
        check = await local.post("/control/config/check", json={"text": CONFIG}, headers=same)
        assert check.status_code == 200
        # Other pages cannot read the control views either: no CORS answer.
        read = await local.get("/control/config", headers=evil)
        assert "access-control-allow-origin" not in read.headers
