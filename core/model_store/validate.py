"""Checking a model folder: required files present, sizes and (on request) checksums right.

A download or import leaves a manifest (``.voxgate-model.json``) listing every file with the
size and sha256 the hub reported; validation checks against it and against what the plugin's
:class:`ModelSpec` declares. A folder copied by hand has no manifest: then only the required
files and the spec's known sizes are checked.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from core.json_file import read_json_object, write_json_object
from core.model_store.registry import ModelFile, ModelSpec

MANIFEST = ".voxgate-model.json"
_CHUNK = 1 << 20


@dataclass
class ValidationReport:
    key: str
    path: str
    exists: bool
    missing: list[str] = field(default_factory=list)
    #: ``{"path", "expected", "actual"}`` for each file of the wrong size.
    wrong_size: list[dict[str, Any]] = field(default_factory=list)
    bad_checksum: list[str] = field(default_factory=list)
    checksums_checked: int = 0
    #: Where the folder came from (hub, revision, provider), when a manifest says so.
    source: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return self.exists and not (self.missing or self.wrong_size or self.bad_checksum)

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}

    def summary(self) -> str:
        if not self.exists:
            return f"not found: {self.path}"
        if self.ok:
            checked = (
                f", {self.checksums_checked} checksums verified" if self.checksums_checked else ""
            )
            return f"ok: {self.path}{checked}"
        parts = []
        if self.missing:
            parts.append("missing " + ", ".join(self.missing))
        if self.wrong_size:
            parts.append("wrong size " + ", ".join(w["path"] for w in self.wrong_size))
        if self.bad_checksum:
            parts.append("bad checksum " + ", ".join(self.bad_checksum))
        return f"incomplete: {self.path}: " + "; ".join(parts)


def sha256_file(path: Path, on_bytes: Callable[[int], None] | None = None) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(_CHUNK):
            digest.update(block)
            if on_bytes is not None:
                on_bytes(len(block))
    return digest.hexdigest()


def read_manifest(folder: Path) -> dict[str, Any] | None:
    return read_json_object(folder / MANIFEST)


def write_manifest(folder: Path, data: dict[str, Any]) -> None:
    write_json_object(folder / MANIFEST, data)


def expected_files(spec: ModelSpec, manifest: dict[str, Any] | None) -> dict[str, ModelFile]:
    """Every file with what is known about it: the spec's declarations win over the manifest."""
    files: dict[str, ModelFile] = {}
    for entry in (manifest or {}).get("files", []):
        if isinstance(entry, dict) and isinstance(entry.get("path"), str):
            files[entry["path"]] = ModelFile(entry["path"], entry.get("size"), entry.get("sha256"))
    for name in spec.required_files:
        files.setdefault(name, ModelFile(name))
    for known in spec.files:
        files[known.path] = known
    return files


def validate_model(spec: ModelSpec, folder: Path, *, checksums: bool = False) -> ValidationReport:
    report = ValidationReport(key=spec.key, path=str(folder), exists=folder.is_dir())
    if not report.exists:
        report.missing = list(spec.required_files)
        return report
    manifest = read_manifest(folder)
    if manifest is not None:
        report.source = {
            k: manifest.get(k) for k in ("provider", "repo", "revision", "imported_from")
        }
    for name, known in sorted(expected_files(spec, manifest).items()):
        path = folder / name
        if not path.is_file():
            report.missing.append(name)
            continue
        size = path.stat().st_size
        if known.size is not None and size != known.size:
            report.wrong_size.append({"path": name, "expected": known.size, "actual": size})
            continue
        if checksums and known.sha256:
            report.checksums_checked += 1
            if sha256_file(path) != known.sha256.lower():
                report.bad_checksum.append(name)
    return report
