"""Building a worker environment: venv, repairs, import check, marker, reuse."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from core.workers.environment import WorkerEnvironment
from core.workers.install import (
    InstallError,
    drop_native_libs_if_broken,
    env_python,
    install_environment,
    is_installed,
    read_marker,
    site_packages,
)

# A package whose native library cannot load (like torchaudio built for another torch).
BROKEN_INIT = """\
import ctypes, pathlib
for lib in sorted((pathlib.Path(__file__).parent / "lib").glob("*.so")):
    ctypes.CDLL(str(lib))
VALUE = 42
"""


def plant_broken_package(python: Path) -> Path:
    package = site_packages(python) / "brokenlib"
    (package / "lib").mkdir(parents=True)
    (package / "__init__.py").write_text(BROKEN_INIT, encoding="utf-8")
    (package / "lib" / "_native.so").write_bytes(b"this is not a shared library")
    return package


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[WorkerEnvironment, Path]:
    folder = tmp_path_factory.mktemp("envs") / "demo"
    env = WorkerEnvironment(name="demo", imports=("json", "sqlite3"))
    install_environment(env, folder, say=lambda _line: None)
    return env, folder


def test_an_environment_is_built_with_a_marker(built: tuple[WorkerEnvironment, Path]) -> None:
    env, folder = built
    python = env_python(folder)
    assert python.exists()
    assert is_installed(env, folder)
    marker = read_marker(folder)
    assert marker is not None and marker["name"] == "demo"
    out = subprocess.run(
        [str(python), "-c", "import sys; print(sys.prefix)"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert Path(out.stdout.strip()) == folder


def test_an_installed_environment_is_reused(built: tuple[WorkerEnvironment, Path]) -> None:
    env, folder = built
    said: list[str] = []
    install_environment(env, folder, say=said.append)
    assert said == [f"demo: already installed in {folder}"]
    changed = WorkerEnvironment(name="demo", imports=("json",))
    assert not is_installed(changed, folder)  # another definition: the marker no longer matches


def test_the_native_library_repair_makes_the_package_import(
    built: tuple[WorkerEnvironment, Path],
) -> None:
    _env, folder = built
    python = env_python(folder)
    package = plant_broken_package(python)
    probe = [str(python), "-c", "import brokenlib; print(brokenlib.VALUE)"]
    assert subprocess.run(probe, capture_output=True, check=False).returncode != 0
    assert drop_native_libs_if_broken(python, "brokenlib") == [package / "lib" / "_native.so"]
    assert subprocess.run(probe, capture_output=True, text=True, check=True).stdout.strip() == "42"
    assert drop_native_libs_if_broken(python, "brokenlib") == []  # nothing left to repair


def test_a_failing_import_check_fails_the_install(tmp_path: Path) -> None:
    env = WorkerEnvironment(name="bad", imports=("a_module_nobody_installed",))
    with pytest.raises(InstallError, match="check failed"):
        install_environment(env, tmp_path / "bad", say=lambda _line: None)
    assert read_marker(tmp_path / "bad") is None
