"""``/control/models``: list, download with SSE progress (from a local hub), validate, path."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest

from core.hookspecs import hookimpl
from core.model_store.registry import ModelSpec
from core.plugins import PluginCatalog, create_plugin_catalog
from core.runtime.runtime import Runtime
from tests.core.model_store.hub_server import HubRepo, HubState, serve_hub
from tests.core.model_store.repo_files import TINY_REPO, TINY_SPEC
from tests.support.daemon import asgi_client, free_port
from tests.support.fake_plugin import FakePlugin

SPEC = replace(
    TINY_SPEC,
    hf_repo=TINY_REPO,
    required_files=("config.json", "model.bin"),
    description="a tiny model",
)
FILES = {"config.json": b"{}", "model.bin": b"\x07" * 300_000}


class ModelsPlugin:
    @hookimpl
    def voxgate_models(self) -> Sequence[ModelSpec]:
        return [SPEC]


def catalog_factory(disabled: Iterable[str]) -> PluginCatalog:
    return create_plugin_catalog(
        disabled=disabled,
        use_entry_points=False,
        extra={"fakes": FakePlugin(), "models": ModelsPlugin()},
    )


@pytest.fixture
def hub() -> Iterator[str]:
    state = HubState(repos={"TinyOrg/tiny-model": HubRepo(files=dict(FILES), lfs={"model.bin"})})
    with serve_hub(state) as url:
        yield url


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    config = tmp_path / "ai_backend.yaml"
    config.write_text(
        f"models_dir: {tmp_path / 'models'}\n"
        "reload: {watch: false}\n"
        "engines:\n  fake: {capability: tts, engine: fake}\nroutes: {tts: [fake]}\n",
        encoding="utf-8",
    )
    runtime = Runtime(config, catalog_factory=catalog_factory)
    await runtime.start()
    try:
        async with asgi_client(runtime) as http:
            yield http
    finally:
        await runtime.shutdown(5)


def events(body: str) -> list[dict[str, Any]]:
    return [json.loads(line[6:]) for line in body.splitlines() if line.startswith("data: ")]


async def test_list_shows_each_model_with_its_folder_and_status(
    client: httpx.AsyncClient, tmp_path: Path
) -> None:
    body = (await client.get("/control/models")).json()
    assert body["models_dir"] == str(tmp_path / "models")
    (tiny,) = [m for m in body["models"] if m["key"] == "tiny"]
    assert tiny["status"] == "missing"
    assert tiny["plugin"] == "models"
    assert tiny["path"] == str(tmp_path / "models" / "TinyOrg" / "tiny-model")
    assert tiny["missing"] == ["config.json", "model.bin"]


async def test_download_streams_progress_then_done(
    client: httpx.AsyncClient, hub: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_ENDPOINT", hub)  # the daemon's configuration, not the request's
    response = await client.post("/control/models/tiny/download", json={})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    received = events(response.text)
    assert received[0]["type"] == "progress" and received[0]["phase"] == "listing"
    assert received[-1] == {
        "type": "done",
        "key": "tiny",
        "path": str(tmp_path / "models" / "TinyOrg" / "tiny-model"),
    }
    last_progress = [e for e in received if e["type"] == "progress"][-1]
    assert last_progress["bytes_done"] == last_progress["bytes_total"] == 300_002
    assert last_progress["files_done"] == 2

    listed = (await client.get("/control/models")).json()["models"]
    assert [m["status"] for m in listed if m["key"] == "tiny"] == ["ok"]
    report = (await client.post("/control/models/tiny/validate", json={"checksums": True})).json()
    assert report["ok"] is True and report["checksums_checked"] == 1


async def test_a_request_cannot_name_the_server_to_download_from(
    client: httpx.AsyncClient, hub: str
) -> None:
    response = await client.post("/control/models/tiny/download", json={"endpoint": hub})
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "endpoint"


async def test_a_failed_download_ends_with_an_error_event(
    client: httpx.AsyncClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{free_port()}")
    response = await client.post("/control/models/tiny/download", json={"provider": "hf"})
    last = events(response.text)[-1]
    assert last["type"] == "error"
    assert str(tmp_path / "models" / "TinyOrg" / "tiny-model") in last["message"]


async def test_validate_lists_what_is_missing(client: httpx.AsyncClient, tmp_path: Path) -> None:
    folder = tmp_path / "models" / "TinyOrg" / "tiny-model"
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}", encoding="utf-8")
    report = (await client.post("/control/models/tiny/validate")).json()
    assert report["ok"] is False
    assert report["missing"] == ["model.bin"]


async def test_path_and_unknown_keys(client: httpx.AsyncClient, tmp_path: Path) -> None:
    body = (await client.get("/control/models/tiny/path")).json()
    assert body == {
        "key": "tiny",
        "path": str(tmp_path / "models" / "TinyOrg" / "tiny-model"),
        "exists": False,
    }
    response = await client.get("/control/models/nope/path")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "model_not_found"
    bad = await client.post("/control/models/tiny/download", json={"provider": "ftp"})
    assert bad.status_code == 400
