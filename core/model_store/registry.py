"""Static descriptions of downloadable models, contributed by plugins through ``voxgate_models``."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any, Protocol

_PART = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_KEY = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")


class HookCaller(Protocol):
    """What the registry needs of a plugin catalog: each plugin's answer to a hook."""

    def collect(self, hook_name: str) -> list[tuple[str, Any]]: ...


@dataclass(frozen=True)
class ModelFile:
    """A file of a model, with the size and sha256 known in advance where a plugin declares them
    or a hub lists them (validation checks them)."""

    path: str
    size: int | None = None
    sha256: str | None = None


@dataclass(frozen=True)
class ModelSpec:
    """A model a plugin knows how to use.

    It lives under ``<models dir>/<folder>`` (``folder`` is ``<org>/<name>``), whether downloaded
    by voxgate or copied there by hand.
    """

    #: Unique key used on the command line and in YAML (e.g. ``base_0_6b``).
    key: str
    #: Folder under the models directory, ``<org>/<name>``.
    folder: str
    hf_repo: str | None = None
    modelscope_id: str | None = None
    #: Files that must be present for the model to load.
    required_files: tuple[str, ...] = ()
    #: Approximate download size, for progress and disk checks.
    size_bytes: int | None = None
    description: str = ""
    #: Files with known sizes or sha256 (the download also records what the hub reports).
    files: tuple[ModelFile, ...] = ()
    #: A git revision (branch, tag or commit) to download instead of the default branch.
    revision: str | None = None
    #: An environment variable naming a folder that replaces ``<models dir>/<org>`` for this
    #: model (e.g. ``QWEN_TTS_MODELS_DIR``).
    dir_env: str | None = None
    #: Set by the registry: the plugin that declared the model.
    plugin: str = ""

    @property
    def org(self) -> str:
        return self.folder.split("/")[0]

    @property
    def name(self) -> str:
        return self.folder.split("/")[1]

    def check(self) -> None:
        """Raise ValueError if the key or folder could name anything outside the models dir."""
        if not _KEY.match(self.key):
            raise ValueError(f"model key {self.key!r} must be lowercase letters, digits, _ . -")
        parts = self.folder.split("/")
        if len(parts) != 2 or not all(_PART.match(p) and p not in (".", "..") for p in parts):
            raise ValueError(f"model {self.key!r}: folder {self.folder!r} must be '<org>/<name>'")
        for name in (*self.required_files, *(f.path for f in self.files)):
            if name.startswith(("/", "\\")) or ".." in name.replace("\\", "/").split("/"):
                raise ValueError(f"model {self.key!r}: file {name!r} must be a relative path")


class UnknownModelKey(KeyError):
    def __init__(self, key: str, known: Iterable[str]) -> None:
        names = ", ".join(sorted(known)) or "none (no plugin declares models)"
        super().__init__(f"unknown model {key!r}; known models: {names}")
        self.message = str(self.args[0])

    def __str__(self) -> str:
        return self.message


class ModelRegistry:
    """Every model the installed plugins declare, by key."""

    def __init__(self, specs: Iterable[ModelSpec] = ()) -> None:
        self._specs: dict[str, ModelSpec] = {}
        #: Declarations that were refused (bad names, duplicate keys).
        self.problems: list[str] = []
        for spec in specs:
            self.add(spec)

    def add(self, spec: ModelSpec) -> None:
        try:
            spec.check()
        except ValueError as exc:
            self.problems.append(f"{spec.plugin or '?'}: {exc}")
            return
        other = self._specs.get(spec.key)
        if other is not None:
            self.problems.append(
                f"{spec.plugin or '?'}: model key {spec.key!r} already declared by {other.plugin}"
            )
            return
        self._specs[spec.key] = spec

    @classmethod
    def from_catalog(cls, catalog: HookCaller) -> ModelRegistry:
        """Every model the catalog's plugins declare (a :class:`core.plugins.PluginCatalog`)."""
        registry = cls()
        for plugin, specs in catalog.collect("voxgate_models"):
            for spec in specs:
                if not isinstance(spec, ModelSpec):
                    registry.problems.append(f"{plugin}: voxgate_models returned {spec!r}")
                    continue
                registry.add(replace(spec, plugin=plugin))
        return registry

    def get(self, key: str) -> ModelSpec:
        spec = self._specs.get(key)
        if spec is None:
            raise UnknownModelKey(key, self._specs)
        return spec

    def all(self) -> list[ModelSpec]:
        return sorted(self._specs.values(), key=lambda s: (s.plugin, s.key))

    def __contains__(self, key: object) -> bool:
        return key in self._specs
