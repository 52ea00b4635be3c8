"""``voxgate models import KEY FOLDER``: install a model folder downloaded by other means.

The folder is checked first (its required files must be there), copied into a staging folder
beside the target, recorded in a manifest (sizes, so later validation notices truncation) and
renamed into place.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from core.model_store.download import move_into_place
from core.model_store.paths import model_dir, staging_dir
from core.model_store.registry import ModelSpec
from core.model_store.validate import MANIFEST, validate_model, write_manifest

_NOT_MODEL_FILES = (".git", ".cache", MANIFEST)


class ImportFailed(Exception):
    pass


def _refuse_links_outside(source: Path) -> None:
    """Copying follows symbolic links: one pointing out of the folder (to a key, a password
    file) would copy what it points at into the models directory. Links inside are fine."""
    for path in source.rglob("*"):
        if path.is_symlink():
            target = path.resolve()
            if not target.is_relative_to(source):
                inside = path.relative_to(source)
                raise ImportFailed(f"{inside} is a link to {target}, outside {source}")


def import_model(spec: ModelSpec, source: Path, root: Path) -> Path:
    source = source.expanduser().resolve()
    target = model_dir(spec, root)
    if not source.is_dir():
        raise ImportFailed(f"{source} is not a folder")
    if source == target.resolve():
        raise ImportFailed(f"{source} already is the model folder")
    _refuse_links_outside(source)
    report = validate_model(spec, source)
    if report.missing or report.wrong_size:
        raise ImportFailed(f"{source} is not a complete {spec.key} model: {report.summary()}")
    staging = staging_dir(target, "import")
    shutil.rmtree(staging, ignore_errors=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(source, staging, ignore=shutil.ignore_patterns(*_NOT_MODEL_FILES))
    files = sorted(p for p in staging.rglob("*") if p.is_file())
    write_manifest(
        staging,
        {
            "key": spec.key,
            "provider": "import",
            "imported_from": str(source),
            "imported_at": time.time(),
            "files": [
                {"path": p.relative_to(staging).as_posix(), "size": p.stat().st_size} for p in files
            ],
        },
    )
    move_into_place(staging, target)
    return target
