"""Static descriptions of isolated Python environments, contributed through a plugin hook."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

#: A repair step run after installing, given the environment's interpreter.
PostInstall = Callable[[Path], None]


@dataclass(frozen=True)
class WorkerEnvironment:
    """A virtual environment an engine's worker process runs in."""

    #: Name used by ``voxgate plugins install NAME`` and as the folder under the data dir.
    name: str
    #: Installed first, on their own (e.g. a pinned CPU torch, so nothing pulls a CUDA build).
    first: tuple[str, ...] = ()
    #: Pinned requirements installed next.
    requirements: tuple[str, ...] = ()
    #: Modules that must import in the finished environment (checked by the installer).
    imports: tuple[str, ...] = ()
    #: Repairs run after installing (e.g. removing a wheel's native libraries built for another
    #: torch); each must be safe to run again.
    post_install: tuple[PostInstall, ...] = ()
    description: str = ""

    def fingerprint(self) -> str:
        """Changes whenever what the environment should contain changes."""
        repairs = [f"{f.__module__}.{f.__qualname__}" for f in self.post_install]
        text = json.dumps([self.first, self.requirements, self.imports, repairs])
        return hashlib.sha256(text.encode()).hexdigest()[:16]
