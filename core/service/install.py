"""``voxgate service install|uninstall|status``: the files to write and the manager commands to
run, as a list of steps that are printed, then (unless it is a dry run) carried out."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from core.service import launchd, systemd_units
from core.service.plan import ServicePlan

Manager = Literal["systemd", "launchd"]


@dataclass(frozen=True)
class WriteFile:
    path: Path
    content: str


@dataclass(frozen=True)
class MakeDir:
    path: Path
    #: The account that must own it (a system service running as a user).
    owner: str | None = None


@dataclass(frozen=True)
class RemoveFile:
    path: Path


@dataclass(frozen=True)
class Run:
    argv: tuple[str, ...]
    #: A step whose failure is expected at times (stopping a job that is not loaded).
    may_fail: bool = False


Step = WriteFile | MakeDir | RemoveFile | Run


@dataclass(frozen=True)
class Target:
    """Where the files go and how the manager is addressed."""

    manager: Manager
    scope: Literal["user", "system"]
    #: The folder the unit files or the plist go in.
    unit_dir: Path
    home: Path

    @property
    def systemctl(self) -> tuple[str, ...]:
        return ("systemctl", "--user") if self.scope == "user" else ("systemctl",)

    @property
    def launchd_domain(self) -> str:
        return f"gui/{os.getuid()}" if self.scope == "user" else "system"


def default_unit_dir(manager: Manager, scope: str, home: Path) -> Path:
    if manager == "launchd":
        if scope == "system":
            return Path("/Library/LaunchDaemons")
        return home / "Library" / "LaunchAgents"
    if scope == "system":
        return Path("/etc/systemd/system")
    config_home = os.environ.get("XDG_CONFIG_HOME")
    return (Path(config_home) if config_home else home / ".config") / "systemd" / "user"


# -- plans ----------------------------------------------------------------------------------


def install_steps(
    plan: ServicePlan,
    target: Target,
    *,
    unit_type: systemd_units.UnitType = "notify",
    watchdog: int = systemd_units.DEFAULT_WATCHDOG,
    socket: bool = False,
) -> list[Step]:
    if target.manager == "launchd":
        logs = launchd.log_dir(plan, target.home)
        path = target.unit_dir / f"{launchd.LABEL}.plist"
        return [
            *_data_dirs(plan),
            MakeDir(logs, plan.run_as),
            WriteFile(path, launchd.plist(plan, logs)),
            # bootstrap refuses a job that is already loaded: unload an older one first.
            Run(("launchctl", "bootout", f"{target.launchd_domain}/{launchd.LABEL}"), True),
            Run(("launchctl", "bootstrap", target.launchd_domain, str(path))),
        ]
    name = systemd_units.UNIT_NAME
    # ReadWritePaths= must exist when the service starts; systemd makes a StateDirectory= itself.
    steps: list[Step] = [] if plan.state_directory else _data_dirs(plan)
    steps.append(
        WriteFile(
            target.unit_dir / f"{name}.service",
            systemd_units.service_unit(plan, unit_type=unit_type, watchdog=watchdog, socket=socket),
        )
    )
    if socket:
        steps.append(WriteFile(target.unit_dir / f"{name}.socket", systemd_units.socket_unit(plan)))
    started = f"{name}.socket" if socket else f"{name}.service"
    steps += [
        Run((*target.systemctl, "daemon-reload")),
        Run((*target.systemctl, "enable", "--now", started)),
    ]
    return steps


def _data_dirs(plan: ServicePlan) -> list[Step]:
    return [MakeDir(path, plan.run_as) for path in plan.writable_dirs()]


def uninstall_steps(target: Target) -> list[Step]:
    if target.manager == "launchd":
        return [
            Run(("launchctl", "bootout", f"{target.launchd_domain}/{launchd.LABEL}"), True),
            RemoveFile(target.unit_dir / f"{launchd.LABEL}.plist"),
        ]
    name = systemd_units.UNIT_NAME
    files = [target.unit_dir / f"{name}.socket", target.unit_dir / f"{name}.service"]
    units = [path.name for path in files if path.exists()] or [f"{name}.service"]
    return [
        Run((*target.systemctl, "disable", "--now", *units), True),
        *(RemoveFile(path) for path in files),
        Run((*target.systemctl, "daemon-reload")),
    ]


def status_steps(target: Target) -> list[Step]:
    if target.manager == "launchd":
        return [Run(("launchctl", "print", f"{target.launchd_domain}/{launchd.LABEL}"))]
    name = systemd_units.UNIT_NAME
    units = [f"{name}.service"]
    if (target.unit_dir / f"{name}.socket").exists():
        units.append(f"{name}.socket")
    return [Run((*target.systemctl, "status", "--no-pager", *units))]


# -- carrying out ---------------------------------------------------------------------------


def describe(step: Step) -> str:
    if isinstance(step, WriteFile):
        return f"write {step.path}"
    if isinstance(step, MakeDir):
        return f"create {step.path}" + (f" (owned by {step.owner})" if step.owner else "")
    if isinstance(step, RemoveFile):
        return f"remove {step.path}"
    return "run " + " ".join(step.argv)


def carry_out(steps: Sequence[Step], *, dry_run: bool, say: Callable[[str], None]) -> int:
    """Print each step and (unless ``dry_run``) do it; stop at the first failure. Returns the
    exit status: 0, or the failed command's (1 for a file that could not be written)."""
    for step in steps:
        say(("would " if dry_run else "") + describe(step))
        if dry_run:
            if isinstance(step, WriteFile):
                say("".join(f"    {line}\n" for line in step.content.splitlines()).rstrip("\n"))
            continue
        try:
            code = _do(step)
        except OSError as exc:
            say(f"  failed: {exc}")
            return 1
        if code != 0 and not (isinstance(step, Run) and step.may_fail):
            say(f"  failed with exit status {code}")
            return code
    return 0


def _do(step: Step) -> int:
    if isinstance(step, WriteFile):
        step.path.parent.mkdir(parents=True, exist_ok=True)
        step.path.write_text(step.content, encoding="utf-8")
        return 0
    if isinstance(step, MakeDir):
        step.path.mkdir(parents=True, exist_ok=True)
        if step.owner is not None:
            shutil.chown(step.path, user=step.owner)
        return 0
    if isinstance(step, RemoveFile):
        step.path.unlink(missing_ok=True)
        return 0
    sys.stdout.flush()
    try:
        return subprocess.run(list(step.argv), check=False).returncode  # noqa: S603 (fixed argv)
    except FileNotFoundError:
        if step.may_fail:
            return 0
        raise
