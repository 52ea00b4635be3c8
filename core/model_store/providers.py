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
from typing import Any, Protocol

from core.model_store.registry import ModelSpec

OnBytes = Callable[[int], None]
#: Seconds to wait for a hub to answer before calling it unreachable.
CONNECT_TIMEOUT = 15.0


class ProviderFailed(Exception):
    """This hub could not deliver the model (unreachable, unknown repo, bad file)."""


@dataclass(frozen=True)
class RemoteFile:
    path: str
    size: int | None = None
    sha256: str | None = None


@dataclass(frozen=True)
class Listing:
    #: The exact revision (commit) the files belong to, so every file comes from the same one.
    revision: str | None
    files: tuple[RemoteFile, ...]


class Provider(Protocol):
    name: str

    def repo(self, spec: ModelSpec) -> str | None: ...

    def listing(self, spec: ModelSpec) -> Listing: ...

    def fetch(
        self,
        spec: ModelSpec,
        revision: str | None,
        file: RemoteFile,
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
                RemoteFile(
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
        file: RemoteFile,
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
    """ModelScope (modelscope.cn), often the faster hub from mainland China. Optional."""

    name = "modelscope"

    def repo(self, spec: ModelSpec) -> str | None:
        return spec.modelscope_id

    def listing(self, spec: ModelSpec) -> Listing:
        try:
            from modelscope.hub.api import HubApi
        except ImportError as exc:
            raise ProviderFailed("modelscope is not installed (pip install modelscope)") from exc
        revision = spec.revision or "master"
        try:
            entries = HubApi().get_model_files(
                spec.modelscope_id, revision=revision, recursive=True
            )
        except Exception as exc:
            raise ProviderFailed(f"cannot list {spec.modelscope_id}: {_short(exc)}") from exc
        files = tuple(
            RemoteFile(path=str(e["Path"]), size=e.get("Size"), sha256=e.get("Sha256") or None)
            for e in entries
            if e.get("Type") != "tree"
        )
        return Listing(revision=revision, files=files)

    def fetch(
        self,
        spec: ModelSpec,
        revision: str | None,
        file: RemoteFile,
        staging: Path,
        on_bytes: OnBytes,
    ) -> None:
        from modelscope.hub.file_download import model_file_download

        try:
            model_file_download(
                spec.modelscope_id, file.path, revision=revision, local_dir=str(staging)
            )
        except Exception as exc:
            raise ProviderFailed(f"downloading {file.path} failed: {_short(exc)}") from exc
        if file.size:
            on_bytes(file.size)  # ModelScope reports whole files only


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    first = text[0] if text else ""
    return f"{type(exc).__name__}: {first[:300]}" if first else type(exc).__name__
