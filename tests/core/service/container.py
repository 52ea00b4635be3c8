"""A real systemd booted as the init of a container (systemd-nspawn), for end-to-end tests.

The container runs the host's own /usr (``--volatile=yes``: an empty tmpfs root with /usr, and
here /etc, bound read-only from the host), so nothing is downloaded or built. The test's
interpreter, environment and checkout are bound at the same paths, the unit folder and a work
folder are bound writable, and the network is private: the daemon inside listens on the
container's own loopback, reached with ``nsenter --net``.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from tests.support.systemd_tools import executable, library_dir


@dataclass(frozen=True)
class Container:
    process: subprocess.Popen[bytes]
    leader: int
    log: Path

    def run(
        self, *argv: str, cwd: Path | None = None, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        """Run a command inside (every namespace of the container's init)."""
        command = list(argv)
        if cwd is not None:
            command = ["sh", "-c", 'cd "$0" && exec "$@"', str(cwd), *argv]
        return self._enter("-a", command, timeout)

    def on_its_network(self, *argv: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """Run a host command in the container's network namespace only."""
        return self._enter("-n", argv, timeout)

    def _enter(
        self, namespaces: str, argv: Sequence[str], timeout: float
    ) -> subprocess.CompletedProcess[str]:
        """Run ``argv`` in the ``namespaces`` (nsenter's flags) of the container's init."""
        return subprocess.run(
            [executable("nsenter"), "-t", str(self.leader), namespaces, *argv],
            capture_output=True,
            text=True,
            check=False,
            timeout=timeout,
        )

    def show(self, unit: str, *properties: str) -> dict[str, str]:
        out = self.run("systemctl", "show", unit, "-p", ",".join(properties)).stdout
        return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)

    def wait_until(
        self, unit: str, timeout: float = 60, **expected: str | Callable[[str], bool]
    ) -> dict[str, str]:
        """Poll ``systemctl show`` until every property has its value (or passes its test)."""
        deadline = time.monotonic() + timeout
        while True:
            shown = self.show(unit, *expected)
            if all(
                want(shown.get(k, "")) if callable(want) else shown.get(k) == want
                for k, want in expected.items()
            ):
                return shown
            if time.monotonic() > deadline:
                raise AssertionError(f"{unit}: wanted {expected}, has {shown}")
            time.sleep(0.2)


def _leader(nspawn: int, timeout: float = 30) -> int:
    """The container's init: the systemd that systemd-nspawn's child becomes."""
    children = Path(f"/proc/{nspawn}/task/{nspawn}/children")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for pid in children.read_text().split() if children.exists() else []:
            with contextlib.suppress(OSError):
                if Path(f"/proc/{pid}/comm").read_text().strip() == "systemd":
                    return int(pid)
        time.sleep(0.05)
    raise RuntimeError("systemd-nspawn started no container")


def _wait_booted(container: Container, log: Path, timeout: float = 120) -> None:
    # Until its manager answers, systemctl reports "offline"; then --wait waits for the boot.
    deadline = time.monotonic() + timeout
    while True:
        state = container.run("systemctl", "is-system-running", "--wait", timeout=timeout)
        if state.stdout.strip() in ("running", "degraded"):
            return
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"container did not boot ({state.stdout.strip()}): {log.read_text()}"
            )
        time.sleep(0.1)


def manager_binds(build: Path, scratch: Path) -> list[str]:
    """Binds that make the container boot an unpacked systemd build instead of the host's:
    its manager, services and systemctl, with both builds' libraries side by side (the host's
    other tools still need theirs)."""
    host_libs = library_dir(Path("/"))
    libs = scratch / "systemd-libs"
    libs.mkdir(parents=True)
    for folder in (host_libs, library_dir(build)):
        for library in folder.glob("*.so"):
            shutil.copy2(library, libs / library.name)
    merged_usr = (build / "usr/lib/systemd/systemd").exists()
    programs = build / ("usr/lib/systemd" if merged_usr else "lib/systemd")
    bin_dir = build / ("usr/bin" if merged_usr else "bin")
    return [
        f"--bind-ro={libs}:{host_libs}",
        f"--bind-ro={programs}:/usr/lib/systemd",
        *(f"--bind-ro={bin_dir / tool}:/usr/bin/{tool}" for tool in ("systemctl", "journalctl")),
    ]


@contextlib.contextmanager
def booted_container(
    log: Path,
    *,
    read_only: Sequence[Path],
    writable: dict[Path, Path],
    manager: Path | None = None,
) -> Iterator[Container]:
    """Boot a container; ``writable`` maps host folders to their place inside; ``manager`` is
    an unpacked systemd build to run instead of the host's."""
    binds = [f"--bind-ro={path}" for path in read_only]
    binds += [f"--bind={host}:{inside}" for host, inside in writable.items()]
    if manager is not None:
        binds += manager_binds(manager, log.parent)
    command = [
        executable("systemd-nspawn"),
        "--quiet",
        "--directory=/",
        "--volatile=yes",
        "--register=no",
        "--keep-unit",
        f"--machine=vx{uuid.uuid4().hex[:10]}",
        "--private-network",
        "--console=read-only",
        *binds,
        "--boot",
    ]
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    try:
        container = Container(process, _leader(process.pid), log)
        _wait_booted(container, log)
        yield container
    finally:
        # systemd-nspawn asks the container's init to power off on SIGTERM.
        if process.poll() is None:
            process.terminate()
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def host_paths_for_python() -> list[Path]:
    """What the running interpreter needs, outside /usr (which the container has already)."""
    paths = {Path(sys.prefix), Path(sys.base_prefix), Path(sys.executable).resolve().parents[1]}
    usr = Path("/usr")
    return sorted(p for p in paths if not (p == usr or p.is_relative_to(usr)))
