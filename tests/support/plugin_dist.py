"""Making plugins visible to a daemon process the way an installed package is: a dist-info
folder with a ``voxgate`` entry point, on the process's PYTHONPATH."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def write_dist_info(site: Path, dist: str, entry_points: dict[str, str]) -> Path:
    """Register ``entry_points`` (name -> "module:attr") under a distribution in ``site``."""
    info = site / f"{dist.replace('-', '_')}-0.0.0.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.0.0\n")
    lines = ["[voxgate]", *(f"{name} = {target}" for name, target in entry_points.items())]
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n")
    return site


def fake_plugin_env(tmp_path: Path) -> dict[str, str]:
    """Environment for a daemon process that also loads the fake test plugin."""
    site = write_dist_info(
        tmp_path / "fake-site", "voxgate-test-fakes", {"fakes": "tests.support.fake_plugin:PLUGIN"}
    )
    paths = [str(site), str(REPO_ROOT), os.environ.get("PYTHONPATH", "")]
    return {"PYTHONPATH": os.pathsep.join(p for p in paths if p)}


def bundled_plugins_env(tmp_path: Path, names: list[str]) -> dict[str, str]:
    """Environment for a daemon process that must see these bundled plugins.

    They are found through the installed metadata's entry points; a checkout whose editable
    install predates a plugin (metadata is written by ``pip install -e``) gets them from a
    dist-info of their own here. Plugins the metadata already lists are not registered twice.
    """
    import importlib.metadata

    installed = {ep.name for ep in importlib.metadata.entry_points(group="voxgate")}
    missing = {name: f"plugins.{name}" for name in names if name not in installed}
    if not missing:
        return {}
    site = write_dist_info(tmp_path / "bundled-site", "voxgate-bundled-extra", missing)
    paths = [str(site), str(REPO_ROOT), os.environ.get("PYTHONPATH", "")]
    return {"PYTHONPATH": os.pathsep.join(p for p in paths if p)}
