"""Downloads through the real ModelScope client (modelscope_hub) against a local hub server."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from core.model_store.download import DownloadError, DownloadProgress, download_model
from core.model_store.providers import HuggingFace, ModelScope, Provider
from core.model_store.registry import ModelSpec
from core.model_store.validate import validate_model
from tests.core.model_store.modelscope_server import MsRepo, MsState, serve_modelscope
from tests.core.model_store.repo_files import (
    TINY_REPO,
    TINY_SPEC,
    check_a_corrupt_file_is_refused_then_fetched_again,
    tiny_repo_files,
)
from tests.support.daemon import free_port

SPEC = replace(TINY_SPEC, modelscope_id=TINY_REPO)
LISTING = f"/api/v1/models/{TINY_REPO}/repo/files"
FILE = f"/api/v1/models/{TINY_REPO}/repo"


def repo_files() -> dict[str, bytes]:
    # 3 MB: more than the client's 1 MB read chunk, so progress arrives in several steps.
    return tiny_repo_files(3_200_000)


EXPECTED = {k: v for k, v in repo_files().items() if k != ".gitattributes"}


@pytest.fixture(autouse=True)
def modelscope_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Keep the client's session id, cache and any saved login inside the test's tmp dir."""
    from modelscope_hub.config import set_default_config

    home = tmp_path / "home"
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("MODELSCOPE_HOME", str(home / ".modelscope"))
    monkeypatch.setenv("MODELSCOPE_CACHE", str(home / ".cache" / "modelscope"))
    for name in ("MODELSCOPE_ENDPOINT", "MODELSCOPE_DOMAIN", "MODELSCOPE_API_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    set_default_config(None)  # the client reads those variables once, into a process default
    yield home
    set_default_config(None)


@pytest.fixture
def hub() -> Iterator[tuple[MsState, str]]:
    state = MsState(repos={TINY_REPO: MsRepo(files=repo_files())})
    with serve_modelscope(state) as url:
        yield state, url


def fetched(state: MsState) -> list[str]:
    return [q["FilePath"] for (path, q, _r) in state.requests if path == FILE]


def test_download_places_verified_files_and_reports_progress(
    hub: tuple[MsState, str], tmp_path: Path, modelscope_home: Path
) -> None:
    state, url = hub
    events: list[DownloadProgress] = []
    path = download_model(
        SPEC,
        tmp_path / "models",
        provider="modelscope",
        providers={"modelscope": ModelScope(url)},
        progress=events.append,
    )
    assert path == tmp_path / "models" / "TinyOrg" / "tiny-model"
    for name, data in EXPECTED.items():
        assert (path / name).read_bytes() == data
    assert not (path / ".gitattributes").exists()
    assert not (path / ".cache").exists()  # the client's lock files left with the staging folder
    assert not list(path.rglob("*.incomplete"))
    assert sorted(p.name for p in path.parent.iterdir()) == ["tiny-model"]  # no staging left

    report = validate_model(SPEC, path, checksums=True)
    assert report.ok, report.summary()
    assert report.checksums_checked == 3  # ModelScope lists a sha256 for every file
    assert report.source == {
        "provider": "modelscope",
        "repo": TINY_REPO,
        "revision": "master",
        "imported_from": None,
    }

    # One recursive listing of the branch, then each file once: the folder entry and
    # .gitattributes are not fetched, and no revision or model-info endpoint is asked.
    listings = [q for (p, q, _r) in state.requests if p == LISTING]
    assert listings == [{"Revision": "master", "Recursive": "True"}]
    assert sorted(fetched(state)) == sorted(EXPECTED)
    revisions = {q["Revision"] for (p, q, _r) in state.requests if p == FILE}
    assert revisions == {"master"}

    assert events[0].phase == "listing"
    assert events[-1].phase == "done"
    last = events[-1]
    total = sum(len(v) for v in EXPECTED.values())
    assert (last.provider, last.files_done, last.files_total) == ("modelscope", 3, 3)
    assert last.bytes_done == last.bytes_total == total
    assert {e.phase for e in events} >= {"downloading", "verifying"}
    byte_counts = [e.bytes_done for e in events]
    assert byte_counts == sorted(byte_counts)
    # bytes were reported while the 3 MB file arrived, not only once it was complete
    during = {e.bytes_done for e in events if e.file == "model.safetensors"}
    assert len(during) > 2

    # the client's own files stayed in the redirected home; no model bytes were cached there
    assert (modelscope_home / ".modelscope" / "credentials" / "session").is_file()
    cache = modelscope_home / ".cache" / "modelscope"
    assert not [p for p in cache.rglob("*") if p.is_file()]


def test_the_endpoint_comes_from_modelscope_endpoint(
    hub: tuple[MsState, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _state, url = hub
    monkeypatch.setenv("MODELSCOPE_ENDPOINT", url)
    path = download_model(SPEC, tmp_path, provider="modelscope")  # voxgate's default providers
    assert (path / "speech_tokenizer" / "model.safetensors").read_bytes() == EXPECTED[
        "speech_tokenizer/model.safetensors"
    ]


def test_auto_falls_back_from_an_unreachable_hugging_face(
    hub: tuple[MsState, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state, url = hub
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{free_port()}")  # nothing listens there
    monkeypatch.setenv("MODELSCOPE_ENDPOINT", url)
    spec = replace(SPEC, hf_repo=TINY_REPO)
    events: list[DownloadProgress] = []
    path = download_model(spec, tmp_path, progress=events.append)

    assert validate_model(spec, path, checksums=True).ok
    assert (validate_model(spec, path).source or {}).get("provider") == "modelscope"
    providers = [e.provider for e in events if e.phase == "listing"]
    assert providers == ["hf", "modelscope"]
    assert sorted(fetched(state)) == sorted(EXPECTED)


def test_an_unknown_model_names_the_folder_to_copy_it_into(
    hub: tuple[MsState, str], tmp_path: Path
) -> None:
    _state, url = hub
    spec = ModelSpec(key="ghost", folder="TinyOrg/ghost", modelscope_id="TinyOrg/ghost")
    with pytest.raises(DownloadError) as caught:
        download_model(spec, tmp_path, providers={"modelscope": ModelScope(url)})
    message = str(caught.value)
    target = tmp_path / "TinyOrg" / "ghost"
    assert f"modelscope: cannot list TinyOrg/ghost on {url}: NotExistError" in message
    assert f"copy the folder to {target}" in message
    assert "voxgate models import ghost FOLDER" in message
    assert not target.parent.exists() or not any(target.parent.iterdir())


def test_an_unknown_revision_is_refused(hub: tuple[MsState, str], tmp_path: Path) -> None:
    state, url = hub
    spec = replace(SPEC, required_files=(), revision="v9")
    # The hub answers an unknown revision with an empty listing, which must not pass for a model.
    with pytest.raises(DownloadError, match="no files at revision v9"):
        download_model(spec, tmp_path, providers={"modelscope": ModelScope(url)})
    assert fetched(state) == []
    assert not (tmp_path / "TinyOrg" / "tiny-model").exists()


def test_a_tag_is_listed_and_fetched_at_that_revision(
    hub: tuple[MsState, str], tmp_path: Path
) -> None:
    state, url = hub
    state.repos[TINY_REPO].revisions.add("v1.0")
    spec = replace(SPEC, revision="v1.0")
    path = download_model(spec, tmp_path, providers={"modelscope": ModelScope(url)})
    assert (validate_model(spec, path).source or {}).get("revision") == "v1.0"
    assert {q["Revision"] for (_p, q, _r) in state.requests if "Revision" in q} == {"v1.0"}


def test_a_refused_file_fails_and_the_next_attempt_resumes(
    hub: tuple[MsState, str], tmp_path: Path
) -> None:
    state, url = hub
    state.fail["model.safetensors"] = 404
    target = tmp_path / "TinyOrg" / "tiny-model"
    provider = {"modelscope": ModelScope(url)}
    with pytest.raises(DownloadError, match=r"downloading model\.safetensors failed") as caught:
        download_model(SPEC, tmp_path, providers=provider)
    assert f"copy the folder to {target}" in str(caught.value)
    assert not target.exists()

    del state.fail["model.safetensors"]
    state.requests.clear()
    path = download_model(SPEC, tmp_path, providers=provider)
    assert validate_model(SPEC, path, checksums=True).ok
    # config.json came with the first attempt and was kept (it passed its size and sha256)
    assert "config.json" not in fetched(state)


def test_a_corrupt_file_is_refused_then_fetched_again(
    hub: tuple[MsState, str], tmp_path: Path
) -> None:
    state, url = hub
    check_a_corrupt_file_is_refused_then_fetched_again(
        SPEC,
        {"modelscope": ModelScope(url)},
        state,
        tmp_path,
        file="speech_tokenizer/model.safetensors",
        error="Hash mismatch",
    )


def test_an_interrupted_transfer_resumes_where_it_stopped(
    hub: tuple[MsState, str], tmp_path: Path
) -> None:
    state, url = hub
    state.cut_after["model.safetensors"] = 1_500_000
    events: list[DownloadProgress] = []
    path = download_model(
        SPEC, tmp_path, providers={"modelscope": ModelScope(url)}, progress=events.append
    )
    assert (path / "model.safetensors").read_bytes() == EXPECTED["model.safetensors"]
    ranges = [r for (p, q, r) in state.requests if q.get("FilePath") == "model.safetensors"]
    # the first request had no Range; the retry asked for the rest of what it had written
    assert ranges[0] is None and len(ranges) == 2
    assert ranges[1] is not None
    start = int(ranges[1].removeprefix("bytes=").split("-")[0])
    assert 0 < start <= 1_500_000
    byte_counts = [e.bytes_done for e in events]
    assert byte_counts == sorted(byte_counts)
    assert events[-1].bytes_done == sum(len(v) for v in EXPECTED.values())


def test_offline_both_hubs_fail_with_the_folder_hint(tmp_path: Path) -> None:
    nobody = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    spec = replace(SPEC, hf_repo=TINY_REPO)
    providers: dict[str, Provider] = {"hf": HuggingFace(nobody), "modelscope": ModelScope(nobody)}
    with pytest.raises(DownloadError) as caught:
        download_model(spec, tmp_path, providers=providers)
    message = str(caught.value)
    assert message.index("hf: cannot list") < message.index(
        f"modelscope: cannot list {TINY_REPO} on {nobody}: NetworkError"
    )
    assert f"copy the folder to {tmp_path / 'TinyOrg' / 'tiny-model'}" in message
