"""Creating a worker's virtual environment: ``voxgate plugins install NAME``.

Steps: ``python -m venv``, the ``first`` requirements on their own (a pinned torch, optionally
from another index), the rest of the pinned requirements, the plugin's repair steps, an import
check, and last a marker file recording what was installed. An environment whose marker matches
is left alone, so running the installer again is cheap.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from core.config.paths import default_data_dir
from core.file_lock import exclusive_lock
from core.json_file import read_json_object, write_json_object
from core.workers.environment import WorkerEnvironment

MARKER = ".voxgate-env.json"


class InstallError(Exception):
    """A step of the installation failed; the message names the step and the command."""


def envs_root(data_dir: Path | None = None) -> Path:
    """``VOXGATE_ENVS_DIR``, else ``<data dir>/envs``."""
    override = os.environ.get("VOXGATE_ENVS_DIR")
    if override:
        return Path(override).expanduser()
    return (data_dir or default_data_dir()) / "envs"


def env_dir(name: str, data_dir: Path | None = None) -> Path:
    return envs_root(data_dir) / name


def env_python(folder: Path) -> Path:
    """The interpreter inside a virtual environment folder."""
    if sys.platform == "win32":
        return folder / "Scripts" / "python.exe"
    return folder / "bin" / "python"


def read_marker(folder: Path) -> dict[str, Any] | None:
    return read_json_object(folder / MARKER)


def is_installed(env: WorkerEnvironment, folder: Path) -> bool:
    marker = read_marker(folder)
    return (
        marker is not None
        and marker.get("fingerprint") == env.fingerprint()
        and env_python(folder).exists()
    )


def _run(step: str, command: Sequence[str], say: Callable[[str], None]) -> None:
    say(f"[{step}] {' '.join(command)}")
    try:
        subprocess.run(list(command), check=True)  # noqa: S603 (our own argv, no shell)
    except (OSError, subprocess.CalledProcessError) as exc:
        raise InstallError(f"{step} failed: {exc}") from exc


def install_environment(
    env: WorkerEnvironment,
    folder: Path,
    *,
    base_python: Path | None = None,
    first_index_url: str | None = None,
    pip_args: Sequence[str] = (),
    force: bool = False,
    say: Callable[[str], None] = print,
) -> Path:
    """Build (or reuse) the environment in ``folder``; returns its interpreter.

    ``first_index_url`` is where the ``first`` requirements come from (for example PyTorch's CPU
    or CUDA index); ``pip_args`` are passed to every ``pip install``.
    """
    python = env_python(folder)
    with _exclusive(folder):  # two installers (or test runs) must not build it at once
        if not force and is_installed(env, folder):
            say(f"{env.name}: already installed in {folder}")
            return python
        _build(env, folder, base_python, first_index_url, pip_args, force, say)
    return python


def _exclusive(folder: Path) -> contextlib.AbstractContextManager[None]:
    """No concurrent installs into one folder."""
    return exclusive_lock(folder.parent / f".{folder.name}.lock")


def _build(
    env: WorkerEnvironment,
    folder: Path,
    base_python: Path | None,
    first_index_url: str | None,
    pip_args: Sequence[str],
    force: bool,
    say: Callable[[str], None],
) -> None:
    python = env_python(folder)
    started = time.monotonic()
    (folder / MARKER).unlink(missing_ok=True)
    venv = [str(base_python or sys.executable), "-m", "venv"]
    _run("venv", [*venv, *(["--clear"] if force else []), str(folder)], say)
    pip = [str(python), "-m", "pip", "install", "--disable-pip-version-check", *pip_args]
    if env.first:
        index = ["--index-url", first_index_url] if first_index_url else []
        _run("first", [*pip, *index, *env.first], say)
    if env.requirements:
        _run("requirements", [*pip, *env.requirements], say)
    for repair in env.post_install:
        say(f"[repair] {repair.__qualname__}")
        try:
            repair(python)
        except Exception as exc:
            raise InstallError(f"repair step {repair.__qualname__} failed: {exc}") from exc
    if env.imports:
        check = "import " + ", ".join(env.imports)
        _run("check", [str(python), "-c", check], say)
    marker = {
        "name": env.name,
        "fingerprint": env.fingerprint(),
        "first": list(env.first),
        "requirements": list(env.requirements),
        "installed_at": time.time(),
        "seconds": round(time.monotonic() - started, 1),
    }
    write_json_object(folder / MARKER, marker)
    say(f"{env.name}: installed in {folder} ({marker['seconds']} s)")


def site_packages(python: Path) -> Path:
    """The environment's ``purelib`` folder, asked from its own interpreter."""
    out = subprocess.run(  # noqa: S603 (the environment's own interpreter, no shell)
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    )
    return Path(out.stdout.strip())


def drop_native_libs_if_broken(python: Path, package: str) -> list[Path]:
    """If ``import package`` fails on its native libraries, delete them (``<pkg>/lib/*.so``).

    For wheels whose optional C++ extensions were built against another torch than the one
    installed: the pure-Python parts still work once the loader no longer finds the libraries.
    Returns the files removed (none when the import already works).
    """
    probe = subprocess.run(  # noqa: S603 (the environment's own interpreter, no shell)
        [str(python), "-c", f"import {package}"], capture_output=True, text=True, check=False
    )
    if probe.returncode == 0:
        return []
    libs = site_packages(python) / package / "lib"
    removed = sorted(p for pattern in ("*.so", "*.pyd", "*.dylib") for p in libs.glob(pattern))
    for path in removed:
        path.unlink()
    return removed
