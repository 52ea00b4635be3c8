"""Static descriptions of isolated Python environments, contributed through a plugin hook."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class WorkerEnvironment:
    """A virtual environment an engine's worker process runs in."""

    #: Name used by ``voxgate plugins install NAME`` and as the folder under the data dir.
    name: str
    #: Installed first, on their own (e.g. a pinned CPU torch, so nothing pulls a CUDA build).
    first: tuple[str, ...] = ()
    #: Pinned requirements installed next.
    requirements: tuple[str, ...] = ()
    description: str = ""
