"""Downloads through the real huggingface_hub client against a local hub server."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from core.model_store.download import DownloadError, DownloadProgress, download_model
from core.model_store.providers import HuggingFace, ModelScope, Provider
from core.model_store.registry import ModelSpec
from core.model_store.validate import MANIFEST, validate_model
from tests.core.model_store.hub_server import COMMIT, HubRepo, HubState, serve_hub
from tests.core.model_store.repo_files import (
    TINY_REPO,
    TINY_SPEC,
    check_a_corrupt_file_is_refused_then_fetched_again,
    tiny_repo_files,
)
from tests.support.daemon import free_port

SPEC = replace(TINY_SPEC, hf_repo=TINY_REPO)


def repo_files() -> dict[str, bytes]:
    # 12 MB: more than huggingface_hub's 10 MB read chunk, so a cut transfer keeps a partial file.
    return tiny_repo_files(12_800_000)


@pytest.fixture
def hub() -> Iterator[tuple[HubState, str]]:
    state = HubState(
        repos={
            TINY_REPO: HubRepo(
                files=repo_files(),
                lfs={"model.safetensors", "speech_tokenizer/model.safetensors"},
            )
        }
    )
    with serve_hub(state) as url:
        yield state, url


def test_download_places_verified_files_and_reports_progress(
    hub: tuple[HubState, str], tmp_path: Path
) -> None:
    _state, url = hub
    events: list[DownloadProgress] = []
    path = download_model(
        SPEC, tmp_path / "models", providers={"hf": HuggingFace(url)}, progress=events.append
    )
    assert path == tmp_path / "models" / "TinyOrg" / "tiny-model"
    expected = {k: v for k, v in repo_files().items() if k != ".gitattributes"}
    for name, data in expected.items():
        assert (path / name).read_bytes() == data
    assert not (path / ".gitattributes").exists()
    assert not (path / ".cache").exists()  # huggingface_hub's resume records are gone
    assert sorted(p.name for p in path.parent.iterdir()) == ["tiny-model"]  # no staging left

    report = validate_model(SPEC, path, checksums=True)
    assert report.ok, report.summary()
    assert report.checksums_checked == 2
    assert report.source == {
        "provider": "hf",
        "repo": TINY_REPO,
        "revision": COMMIT,
        "imported_from": None,
    }

    assert events[0].phase == "listing"
    assert events[-1].phase == "done"
    last = events[-1]
    total = sum(len(v) for v in expected.values())
    assert (last.files_done, last.files_total) == (3, 3)
    assert last.bytes_done == last.bytes_total == total
    assert {e.phase for e in events} >= {"downloading", "verifying"}
    byte_counts = [e.bytes_done for e in events]
    assert byte_counts == sorted(byte_counts)


def test_a_valid_model_is_not_fetched_again(hub: tuple[HubState, str], tmp_path: Path) -> None:
    state, url = hub
    download_model(SPEC, tmp_path, providers={"hf": HuggingFace(url)})
    seen = len(state.requests)
    events: list[DownloadProgress] = []
    download_model(SPEC, tmp_path, providers={"hf": HuggingFace(url)}, progress=events.append)
    assert len(state.requests) == seen
    assert [e.phase for e in events] == ["present"]


def test_an_interrupted_transfer_resumes_where_it_stopped(
    hub: tuple[HubState, str], tmp_path: Path
) -> None:
    state, url = hub
    state.cut_after["model.safetensors"] = 11_000_000
    try:
        path = download_model(SPEC, tmp_path, providers={"hf": HuggingFace(url)})
    except DownloadError:
        # The client gave up on this attempt: the partial file stays for the next one.
        path = download_model(SPEC, tmp_path, providers={"hf": HuggingFace(url)})
    assert (path / "model.safetensors").read_bytes() == repo_files()["model.safetensors"]
    ranges = [r for (_m, p, r) in state.requests if p.endswith("/model.safetensors") and r]
    # huggingface_hub retried with a Range starting at what it had written (10 MB chunks)
    assert [int(r.removeprefix("bytes=").split("-")[0]) for r in ranges] == [10 * 1024 * 1024]


def test_a_corrupt_file_is_refused_then_fetched_again(
    hub: tuple[HubState, str], tmp_path: Path
) -> None:
    state, url = hub
    check_a_corrupt_file_is_refused_then_fetched_again(
        SPEC, {"hf": HuggingFace(url)}, state, tmp_path, file="model.safetensors", error="sha256"
    )


def test_a_repository_without_the_required_files_is_refused(
    hub: tuple[HubState, str], tmp_path: Path
) -> None:
    _state, url = hub
    spec = replace(SPEC, required_files=("config.json", "vocab.json"))
    with pytest.raises(DownloadError, match=r"lacks required files: vocab\.json"):
        download_model(spec, tmp_path, providers={"hf": HuggingFace(url)})


def test_an_unknown_repository_names_itself(hub: tuple[HubState, str], tmp_path: Path) -> None:
    _state, url = hub
    spec = ModelSpec(key="ghost", folder="TinyOrg/ghost", hf_repo="TinyOrg/ghost")
    with pytest.raises(DownloadError, match="cannot list TinyOrg/ghost"):
        download_model(spec, tmp_path, providers={"hf": HuggingFace(url)})


def test_offline_the_error_names_the_folder_for_a_manual_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    nobody = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    monkeypatch.setenv("MODELSCOPE_HOME", str(tmp_path / "modelscope-home"))
    spec = replace(SPEC, modelscope_id=TINY_REPO)
    providers: dict[str, Provider] = {
        "hf": HuggingFace(nobody),
        "modelscope": ModelScope(endpoint=nobody),
    }
    with pytest.raises(DownloadError) as caught:
        download_model(spec, tmp_path / "models", providers=providers)
    message = str(caught.value)
    target = tmp_path / "models" / "TinyOrg" / "tiny-model"
    assert f"copy the folder to {target}" in message
    assert "voxgate models import tiny FOLDER" in message
    # automatic order: Hugging Face first, then ModelScope, each with its reason
    assert message.index("hf: cannot list") < message.index("modelscope:")
    assert not target.exists()


def test_hf_offline_mode_is_honoured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(DownloadError, match="copy the folder to"):
        download_model(SPEC, tmp_path, providers={"hf": HuggingFace("http://127.0.0.1:9")})


def test_the_endpoint_comes_from_hf_endpoint(
    hub: tuple[HubState, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _state, url = hub
    monkeypatch.setenv("HF_ENDPOINT", url)
    path = download_model(SPEC, tmp_path, providers={"hf": HuggingFace()})
    assert (path / "config.json").exists()


def test_a_download_replaces_an_incomplete_copy(hub: tuple[HubState, str], tmp_path: Path) -> None:
    _state, url = hub
    target = tmp_path / "TinyOrg" / "tiny-model"
    target.mkdir(parents=True)
    (target / "config.json").write_text("{}", encoding="utf-8")  # a half-copied folder
    download_model(SPEC, tmp_path, providers={"hf": HuggingFace(url)})
    assert (target / MANIFEST).exists()
    assert validate_model(SPEC, target).ok
    assert [p.name for p in (tmp_path / "TinyOrg").iterdir()] == ["tiny-model"]


def test_a_file_sent_past_its_declared_size_is_cut_off(
    hub: tuple[HubState, str], tmp_path: Path
) -> None:
    state, url = hub
    filler = 64 * 2**20  # stands in for a body that never ends
    state.overlong["model.safetensors"] = filler
    declared = len(repo_files()["model.safetensors"])
    with pytest.raises(
        DownloadError, match=f"sends more than the {declared} bytes the hub declared"
    ):
        download_model(SPEC, tmp_path / "models", providers={"hf": HuggingFace(url)})
    assert state.overlong_sent["model.safetensors"] < declared + filler  # the client hung up
    assert not (tmp_path / "models" / "TinyOrg" / "tiny-model").exists()


def test_a_provider_without_a_repository_is_refused(tmp_path: Path) -> None:
    with pytest.raises(DownloadError, match="has no modelscope repository"):
        download_model(SPEC, tmp_path, provider="modelscope")


@pytest.mark.parametrize("name", ["../../escape.txt", "/etc/evil", "sub/../../up.txt"])
def test_file_names_that_leave_the_model_folder_are_refused(tmp_path: Path, name: str) -> None:
    files = {**repo_files(), name: b"not a model file"}
    state = HubState(repos={TINY_REPO: HubRepo(files=files, lfs={"model.safetensors"})})
    with serve_hub(state) as url, pytest.raises(DownloadError, match="unsafe file names"):
        download_model(SPEC, tmp_path / "a" / "b" / "models", providers={"hf": HuggingFace(url)})
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == []


@pytest.mark.parametrize("name", [".cache/huggingface/notes.txt", ".cache/x", MANIFEST])
def test_file_names_the_download_keeps_for_itself_are_refused(tmp_path: Path, name: str) -> None:
    # Once, a listed .cache/ file was deleted with the resume records after the manifest had
    # named it: the model was placed, reported done, and failed its own validation.
    files = {**repo_files(), name: b"a file the hub lists"}
    state = HubState(repos={TINY_REPO: HubRepo(files=files, lfs={"model.safetensors"})})
    with serve_hub(state) as url, pytest.raises(DownloadError, match="keeps for itself"):
        download_model(SPEC, tmp_path / "models", providers={"hf": HuggingFace(url)})
    assert not (tmp_path / "models" / "TinyOrg" / "tiny-model").exists()
