"""Downloading a model into ``<models dir>/<org>/<name>``.

Files go into a hidden staging folder beside the target (``.<name>.download``), are checked
(sizes, and sha256 where the hub gives one), and the folder is then renamed into place, so the
target is either absent, the old copy, or complete. A failed or interrupted download leaves the
staging folder: the next attempt resumes it. ``provider="auto"`` tries Hugging Face, then
ModelScope. Without network access it fails within seconds, naming the folder a manually copied
model must go to.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import structlog

from core.model_store.paths import model_dir, staging_dir
from core.model_store.providers import HuggingFace, ModelScope, Provider, ProviderFailed
from core.model_store.registry import ModelFile, ModelSpec
from core.model_store.validate import MANIFEST, sha256_file, validate_model, write_manifest

log = structlog.get_logger(__name__)

PROVIDER_NAMES = ("hf", "modelscope")
#: Repository files that are not part of the model.
_SKIP = (".gitattributes", ".gitignore")
_REPORT_EVERY = 0.1  # seconds between byte progress reports
#: Reported bytes allowed past twice a file's declared size (small files retried part-way).
_RETRY_SLACK = 1 << 20


@dataclass(frozen=True)
class DownloadProgress:
    key: str
    #: ``listing``, ``downloading``, ``verifying``, ``done`` (or ``present``: nothing to do).
    phase: str
    provider: str | None = None
    file: str | None = None
    files_done: int = 0
    files_total: int = 0
    bytes_done: int = 0
    bytes_total: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


ProgressCallback = Callable[[DownloadProgress], None]


class DownloadError(Exception):
    """The model could not be downloaded; the message says where to put a manual copy."""


def default_providers(endpoint: str | None = None) -> dict[str, Provider]:
    return {"hf": HuggingFace(endpoint), "modelscope": ModelScope()}


def manual_hint(spec: ModelSpec, target: Path) -> str:
    return (
        f"To install it by hand, download the files elsewhere and copy the folder to {target} "
        f"(or run: voxgate models import {spec.key} FOLDER)"
    )


class _Reporter:
    """Counts files and bytes and hands progress on, at most every _REPORT_EVERY seconds."""

    def __init__(self, key: str, callback: ProgressCallback | None) -> None:
        self.key = key
        self.callback = callback
        self.provider: str | None = None
        self.file: str | None = None
        self.files_done = 0
        self.files_total = 0
        self.bytes_done = 0
        self.bytes_total: int | None = None
        #: The size the hub declares for the file being fetched, and the bytes it sent so far.
        self.file_size: int | None = None
        self.file_bytes = 0
        self._last = 0.0

    def report(self, phase: str, *, force: bool = True) -> None:
        if self.callback is None:
            return
        now = time.monotonic()
        if not force and now - self._last < _REPORT_EVERY:
            return
        self._last = now
        self.callback(
            DownloadProgress(
                self.key,
                phase,
                self.provider,
                self.file,
                self.files_done,
                self.files_total,
                self.bytes_done,
                self.bytes_total,
            )
        )

    def start_file(self, file: ModelFile) -> None:
        self.file = file.path
        self.file_size = file.size
        self.file_bytes = 0

    def add_bytes(self, count: int) -> None:
        self.bytes_done += count
        self.file_bytes += count
        if self.file_size is not None and self.file_bytes > _most_bytes(self.file_size):
            # A hub that keeps sending past the size it declared would fill the disk: the
            # transfer is cut here (the exception unwinds through the hub client). The hub
            # clients resume a broken transfer from what reached the disk, so bytes received
            # but not yet written count twice: the cut waits for twice the size, not the size.
            raise ProviderFailed(
                f"{self.file} sends more than the {self.file_size} bytes the hub declared"
            )
        self.report("downloading", force=False)


def _most_bytes(declared: int) -> int:
    """The bytes a hub client may report for one file of ``declared`` bytes, retries included."""
    return 2 * declared + _RETRY_SLACK


def download_model(
    spec: ModelSpec,
    root: Path,
    *,
    provider: str = "auto",
    force: bool = False,
    progress: ProgressCallback | None = None,
    providers: Mapping[str, Provider] | None = None,
) -> Path:
    """Download ``spec`` (unless a valid copy is already there) and return its folder."""
    target = model_dir(spec, root)
    reporter = _Reporter(spec.key, progress)
    if not force and validate_model(spec, target).ok:
        reporter.report("present")
        return target
    available = providers or default_providers()
    order = _order(spec, provider, available)
    target.parent.mkdir(parents=True, exist_ok=True)
    from filelock import FileLock, Timeout  # a dependency of huggingface_hub

    lock = FileLock(str(staging_dir(target, "lock")))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        raise DownloadError(f"{spec.key} is already being downloaded into {target}") from None
    try:
        failures = []
        for name in order:
            reporter.provider = name
            try:
                _download_from(available[name], spec, target, reporter)
            except ProviderFailed as exc:
                log.warning("model.download_failed", key=spec.key, provider=name, error=str(exc))
                failures.append(f"{name}: {exc}")
                continue
            reporter.report("done")
            log.info("model.downloaded", key=spec.key, provider=name, path=str(target))
            return target
        raise DownloadError(
            f"could not download {spec.key} ({'; '.join(failures)}). {manual_hint(spec, target)}"
        )
    finally:
        lock.release()
        staging_dir(target, "lock").unlink(missing_ok=True)


def _order(spec: ModelSpec, requested: str, available: Mapping[str, Provider]) -> list[str]:
    if requested == "auto":
        order = [n for n in PROVIDER_NAMES if n in available and available[n].repo(spec)]
        if not order:
            raise DownloadError(f"{spec.key} names no hub repository to download from")
        return order
    if requested not in available:
        raise DownloadError(f"unknown provider {requested!r} (use auto, hf or modelscope)")
    if not available[requested].repo(spec):
        raise DownloadError(f"{spec.key} has no {requested} repository")
    return [requested]


def _download_from(provider: Provider, spec: ModelSpec, target: Path, reporter: _Reporter) -> None:
    reporter.report("listing")
    listing = provider.listing(spec)
    files = [f for f in listing.files if f.path not in _SKIP]
    unsafe = [f.path for f in files if not safe_relative_path(f.path)]
    if unsafe:
        # A hub listing is data from the network: a name like ../../.bashrc must never
        # become a path outside the model folder.
        raise ProviderFailed(f"the repository lists unsafe file names: {', '.join(unsafe[:3])}")
    reserved = [f.path for f in files if _is_reserved(f.path)]
    if reserved:
        raise ProviderFailed(
            f"the repository lists file names the download keeps for itself: "
            f"{', '.join(reserved[:3])}"
        )
    names = {f.path for f in files}
    absent = [name for name in spec.required_files if name not in names]
    if absent:
        raise ProviderFailed(f"the repository lacks required files: {', '.join(absent)}")
    staging = staging_dir(target, "download")
    staging.mkdir(parents=True, exist_ok=True)
    reporter.files_total = len(files)
    reporter.files_done = reporter.bytes_done = 0
    known = [f.size for f in files]
    reporter.bytes_total = sum(s for s in known if s) if all(known) else None
    _check_space(target, staging, reporter.bytes_total)

    for file in files:
        reporter.start_file(file)
        reporter.report("downloading")
        before = reporter.bytes_done
        provider.fetch(spec, listing.revision, file, staging, reporter.add_bytes)
        if file.size is not None:
            reporter.bytes_done = before + file.size  # resumed files report only their tail
        reporter.files_done += 1
        reporter.report("downloading")

    for file in files:
        path = staging / file.path
        actual = path.stat().st_size
        if file.size is not None and actual != file.size:
            path.unlink()
            raise ProviderFailed(f"{file.path} has {actual} bytes, not {file.size}")
        if file.sha256:
            reporter.file = file.path
            reporter.report("verifying")
            if sha256_file(path) != file.sha256.lower():
                path.unlink()  # the next attempt fetches it again
                raise ProviderFailed(f"{file.path} does not match its sha256 checksum")

    write_manifest(
        staging,
        {
            "key": spec.key,
            "provider": provider.name,
            "repo": provider.repo(spec),
            "revision": listing.revision,
            "downloaded_at": time.time(),
            "files": [{"path": f.path, "size": f.size, "sha256": f.sha256} for f in files],
        },
    )
    shutil.rmtree(staging / ".cache", ignore_errors=True)  # huggingface_hub's resume records
    move_into_place(staging, target)


def safe_relative_path(name: str) -> bool:
    """A plain relative path: no absolute start, no ``..``, no empty or drive parts."""
    if not name or name.startswith(("/", "\\")) or "\\" in name or "\x00" in name:
        return False
    parts = name.split("/")
    return all(part not in ("", ".", "..") and ":" not in part for part in parts)


def _is_reserved(name: str) -> bool:
    """Names the staging folder uses itself: the hub clients' resume records (``.cache``,
    removed before the folder moves into place) and the manifest, which would replace a listed
    file of that name."""
    return name.split("/")[0] == ".cache" or name == MANIFEST


def move_into_place(staging: Path, target: Path) -> None:
    """Swap a finished staging folder in for ``target`` (an old copy is removed after)."""
    old = staging_dir(target, "old")
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        target.rename(old)
    staging.rename(target)
    shutil.rmtree(old, ignore_errors=True)


def _check_space(target: Path, staging: Path, needed: int | None) -> None:
    if needed is None:
        return
    present = sum(p.stat().st_size for p in staging.rglob("*") if p.is_file())
    free = shutil.disk_usage(target.parent).free
    if needed - present > free:
        raise DownloadError(
            f"not enough disk space in {target.parent}: {needed - present} bytes needed, "
            f"{free} free"
        )
