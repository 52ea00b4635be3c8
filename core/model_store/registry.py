"""Static descriptions of downloadable models, contributed by plugins through ``voxgate_models``."""

from __future__ import annotations

from dataclasses import dataclass


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
