"""`voxgate service install|uninstall|status`: the files land in the manager's folder and its
commands run, each step printed; --dry-run prints the same and does nothing. The manager here
is unreachable on purpose (an empty runtime dir), so the machine's own systemd is never used."""

from __future__ import annotations

import os
import plistlib
import subprocess
import sys
from pathlib import Path

import pytest

from core.config.schema import ServerConfig
from core.service.plan import DEFAULT_MAX_CONNECTIONS
from tests.support import WriteConfig


@pytest.fixture
def home(tmp_path: Path) -> Path:
    folder = tmp_path / "home"
    (folder / "runtime").mkdir(parents=True, mode=0o700)
    return folder


def service(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "HOME": str(home),
        # systemctl --user finds no manager here (and no session bus): never the real one.
        "XDG_RUNTIME_DIR": str(home / "runtime"),
        "DBUS_SESSION_BUS_ADDRESS": f"unix:path={home / 'runtime' / 'no-bus'}",
    }
    for name in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "VOXGATE_DATA_DIR"):
        env.pop(name, None)  # the temporary home decides every folder
    return subprocess.run(
        [sys.executable, "-m", "core.cli.main", "service", *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=60,
    )


def test_dry_run_prints_every_step_and_writes_nothing(
    write_config: WriteConfig, home: Path
) -> None:
    config = write_config("mode: local\n")
    data = home / "data"
    result = service(
        home,
        "install",
        "--user",
        "--dry-run",
        "--type",
        "notify",
        "--config",
        str(config),
        "--data-dir",
        str(data),
        "--socket",
    )
    assert result.returncode == 0, result.stderr
    units = home / ".config" / "systemd" / "user"
    steps = [line for line in result.stdout.splitlines() if line.startswith("would ")]
    assert steps == [
        f"would create {data}",
        f"would write {units / 'voxgate.service'}",
        f"would write {units / 'voxgate.socket'}",
        "would run systemctl --user daemon-reload",
        "would run systemctl --user enable --now voxgate.socket",
    ]
    assert "    Type=notify" in result.stdout  # the files' text, indented
    assert "    ListenStream=127.0.0.1:8765" in result.stdout
    assert not units.exists() and not data.exists()


def test_install_writes_the_unit_and_stops_where_the_manager_fails(
    write_config: WriteConfig, home: Path
) -> None:
    config = write_config("mode: local\n")
    result = service(home, "install", "--config", str(config), "--user", "--type", "notify")
    unit = home / ".config" / "systemd" / "user" / "voxgate.service"
    assert unit.is_file()
    assert f"--config {config}" in unit.read_text()
    assert (home / ".local" / "share" / "voxgate").is_dir()  # the data dir the unit may write
    assert result.stdout.splitlines()[-2:] == [
        "run systemctl --user daemon-reload",
        f"  failed with exit status {result.returncode}",
    ]
    assert result.returncode != 0

    result = service(home, "uninstall", "--user")
    assert "run systemctl --user disable --now voxgate.service" in result.stdout
    assert f"remove {unit}" in result.stdout
    assert not unit.exists()


def test_system_install_into_a_chosen_folder(write_config: WriteConfig, home: Path) -> None:
    config = write_config("mode: local\n")
    target = home / "units"
    result = service(
        home,
        "install",
        "--system",
        "--run-as",
        "daemon",
        "--unit-dir",
        str(target),
        "--config",
        str(config),
        "--dry-run",
        "--type",
        "notify-reload",
    )
    assert result.returncode == 0, result.stderr
    assert "would write " + str(target / "voxgate.service") in result.stdout
    assert "would run systemctl enable --now voxgate.service" in result.stdout
    assert "    User=daemon" in result.stdout
    assert "    StateDirectory=voxgate" in result.stdout  # /var/lib/voxgate, made by systemd
    assert "would create" not in result.stdout


def test_launchd_agent_install_and_plist(write_config: WriteConfig, home: Path) -> None:
    config = write_config("mode: local\n")
    result = service(
        home, "install", "--manager", "launchd", "--user", "--config", str(config), "--dry-run"
    )
    assert result.returncode == 0, result.stderr
    plist_path = home / "Library" / "LaunchAgents" / "org.voxgate.daemon.plist"
    domain = f"gui/{os.getuid()}"
    assert f"would write {plist_path}" in result.stdout
    assert f"would run launchctl bootout {domain}/org.voxgate.daemon" in result.stdout
    assert f"would run launchctl bootstrap {domain} {plist_path}" in result.stdout

    printed = service(home, "launchd", "--user", "--config", str(config))
    job = plistlib.loads(printed.stdout.encode())
    logs = home / "Library" / "Logs" / "voxgate"
    assert job["KeepAlive"] == {"SuccessfulExit": False}  # restarted after a crash only
    assert job["StandardErrorPath"] == str(logs / "voxgate.log")
    assert job["ProgramArguments"] == [
        sys.executable,
        "-m",
        "core.cli.main",
        "serve",
        "--config",
        str(config),
    ]
    assert (
        job["EnvironmentVariables"]["VOXGATE_DATA_DIR"] == str(home / "tmp-data-is-not-used")
        or job["EnvironmentVariables"]["VOXGATE_DATA_DIR"]
    )
    cap = getattr(ServerConfig(), "max_connections", None) or DEFAULT_MAX_CONNECTIONS
    assert job["SoftResourceLimits"] == {"NumberOfFiles": cap + 1024}
    assert job["ExitTimeOut"] == 70  # twice the 30 s drain, plus closing time


def test_status_asks_the_manager(home: Path) -> None:
    result = service(home, "status", "--user", "--dry-run")
    assert result.stdout.strip() == "would run systemctl --user status --no-pager voxgate.service"


def test_bad_choices_are_refused(write_config: WriteConfig, home: Path) -> None:
    config = write_config("mode: local\n")
    result = service(home, "install", "--system", "--run-as", "nobody", "--config", str(config))
    assert result.returncode == 1 and "do not run the service as nobody" in result.stderr
    result = service(
        home, "install", "--system", "--run-as", "no-such-user-x", "--config", str(config)
    )
    assert result.returncode == 1 and "no such account: no-such-user-x" in result.stderr
    result = service(home, "install", "--config", str(home / "missing.yaml"))
    assert result.returncode == 1 and "does not exist" in result.stderr
