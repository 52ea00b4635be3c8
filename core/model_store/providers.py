"""Model hubs a download can come from: Hugging Face (huggingface_hub) and ModelScope.

Both libraries are imported only when a download starts; ModelScope is optional. A provider
lists the files of one revision (with sizes and sha256 where the hub knows them) and fetches one
file at a time into a staging folder, resuming a partial file left by an earlier attempt.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from core.model_store.registry import ModelFile, ModelSpec

if TYPE_CHECKING:
    from modelscope_hub import HubApi as ModelScopeApi
    from modelscope_hub import ProgressCallback

OnBytes = Callable[[int], None]
#: Seconds to wait for a hub to answer before calling it unreachable.
CONNECT_TIMEOUT = 15.0


class ProviderFailed(Exception):
    """This hub could not deliver the model (unreachable, unknown repo, bad file)."""


@dataclass(frozen=True)
class Listing:
    #: The exact revision (commit) the files belong to, so every file comes from the same one.
    revision: str | None
    files: tuple[ModelFile, ...]


class Provider(Protocol):
    name: str

    def repo(self, spec: ModelSpec) -> str | None: ...

    def listing(self, spec: ModelSpec) -> Listing: ...

    def fetch(
        self,
        spec: ModelSpec,
        revision: str | None,
        file: ModelFile,
        staging: Path,
        on_bytes: OnBytes,
    ) -> None: ...


def _byte_counter(on_bytes: OnBytes) -> type[Any]:
    """A silent tqdm class that reports each increment (huggingface_hub drives it)."""
    from tqdm.auto import tqdm

    class ByteCounter(tqdm):  # type: ignore[misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs["disable"] = True
            super().__init__(*args, **kwargs)
            initial = kwargs.get("initial") or 0
            if initial:
                on_bytes(int(initial))  # the part of the file an earlier attempt left

        def update(self, n: float | None = 1) -> bool | None:
            if n:
                on_bytes(int(n))
            return super().update(n)  # type: ignore[no-any-return]

    return ByteCounter


class HuggingFace:
    """The Hugging Face hub, or any server speaking its API (``endpoint``, ``HF_ENDPOINT``)."""

    name = "hf"

    def __init__(self, endpoint: str | None = None, token: str | None = None) -> None:
        self.endpoint = endpoint or os.environ.get("HF_ENDPOINT") or None
        self.token = token

    def repo(self, spec: ModelSpec) -> str | None:
        return spec.hf_repo

    def listing(self, spec: ModelSpec) -> Listing:
        try:
            from huggingface_hub import HfApi
        except ImportError as exc:
            raise ProviderFailed(
                "huggingface_hub is not installed (pip install 'voxgate[models]')"
            ) from exc
        assert spec.hf_repo is not None
        api = HfApi(endpoint=self.endpoint, token=self.token or False)
        try:
            info = api.model_info(
                spec.hf_repo, revision=spec.revision, files_metadata=True, timeout=CONNECT_TIMEOUT
            )
        except Exception as exc:  # connection, DNS, offline mode, 404: all mean "not from here"
            where = self.endpoint or "https://huggingface.co"
            raise ProviderFailed(f"cannot list {spec.hf_repo} on {where}: {_short(exc)}") from exc
        files = []
        for sibling in info.siblings or []:
            lfs = sibling.lfs
            files.append(
                ModelFile(
                    path=sibling.rfilename,
                    size=lfs.size if lfs is not None else sibling.size,
                    sha256=lfs.sha256 if lfs is not None else None,
                )
            )
        return Listing(revision=info.sha, files=tuple(files))

    def fetch(
        self,
        spec: ModelSpec,
        revision: str | None,
        file: ModelFile,
        staging: Path,
        on_bytes: OnBytes,
    ) -> None:
        from huggingface_hub import hf_hub_download

        assert spec.hf_repo is not None
        try:
            hf_hub_download(
                spec.hf_repo,
                file.path,
                revision=revision,
                local_dir=str(staging),
                endpoint=self.endpoint,
                token=self.token or False,
                etag_timeout=CONNECT_TIMEOUT,
                tqdm_class=_byte_counter(on_bytes),
            )
        except Exception as exc:
            raise ProviderFailed(f"downloading {file.path} failed: {_short(exc)}") from exc


class ModelScope:
    """ModelScope (modelscope.cn), often the faster hub from mainland China. Optional.

    Spoken to through ``modelscope_hub``, the client the ``modelscope`` package delegates to:
    its listing keeps each entry's type and sha256 (the ``modelscope.hub`` compatibility layer
    drops both), and its downloader resumes partial files, checks sizes and checksums and
    reports bytes as they arrive. ``endpoint`` (else ``MODELSCOPE_ENDPOINT``) replaces the hub.
    """

    name = "modelscope"

    def __init__(self, endpoint: str | None = None, token: str | None = None) -> None:
        self.endpoint = endpoint or os.environ.get("MODELSCOPE_ENDPOINT") or None
        self.token = token
        self._api: ModelScopeApi | None = None

    def repo(self, spec: ModelSpec) -> str | None:
        return spec.modelscope_id

    def _client(self) -> ModelScopeApi:
        if self._api is None:
            try:
                from modelscope_hub import HubApi
            except ImportError as exc:
                raise ProviderFailed(
                    "modelscope is not installed (pip install 'voxgate[modelscope]')"
                ) from exc
            # An empty token keeps a login saved by the modelscope CLI out of voxgate's requests.
            self._api = HubApi(endpoint=self.endpoint, token=self.token or "")
        return self._api

    def listing(self, spec: ModelSpec) -> Listing:
        assert spec.modelscope_id is not None
        api = self._client()
        revision = spec.revision or "master"
        where = self.endpoint or "https://modelscope.cn"
        try:
            entries = api.list_repo_files(
                spec.modelscope_id, "model", revision=revision, recursive=True
            )
        except Exception as exc:  # connection, DNS, 404: all mean "not from here"
            raise ProviderFailed(
                f"cannot list {spec.modelscope_id} on {where}: {_short(exc)}"
            ) from exc
        files = tuple(
            ModelFile(path=e.path, size=_known_size(e.size, e.sha256), sha256=e.sha256 or None)
            for e in entries
            if not e.is_dir
        )
        if not files:  # the hub answers an unknown revision with an empty listing
            raise ProviderFailed(
                f"cannot list {spec.modelscope_id} on {where}: no files at revision {revision}"
            )
        return Listing(revision=revision, files=files)

    def fetch(
        self,
        spec: ModelSpec,
        revision: str | None,
        file: ModelFile,
        staging: Path,
        on_bytes: OnBytes,
    ) -> None:
        assert spec.modelscope_id is not None
        api = self._client()
        try:
            api.downloader.download_file(
                spec.modelscope_id,
                "model",
                file.path,
                revision=revision or "master",
                local_dir=staging,
                # Its file locks go beside the staged files and leave with the staging folder.
                cache_dir=staging / ".cache",
                expected_sha256=file.sha256,
                file_size=file.size,
                progress_callbacks=[_progress_counter(on_bytes)],
            )
        except Exception as exc:
            raise ProviderFailed(f"downloading {file.path} failed: {_short(exc)}") from exc


_EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def _known_size(size: int, sha256: str | None) -> int | None:
    """ModelScope lists 0 both for an empty file and for one whose size it does not know."""
    if size or (sha256 or "").lower() == _EMPTY_SHA256:
        return size
    return None


def _progress_counter(on_bytes: OnBytes) -> type[ProgressCallback]:
    """A modelscope_hub progress callback that hands each received chunk's size on."""
    from modelscope_hub import ProgressCallback as Callback

    class ByteCounter(Callback):
        def update(self, size: int) -> None:
            on_bytes(size)  # negative when the hub ignored a resume and the file restarts

    return ByteCounter


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    first = text[0] if text else ""
    return f"{type(exc).__name__}: {first[:300]}" if first else type(exc).__name__
