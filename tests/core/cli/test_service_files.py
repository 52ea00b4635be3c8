"""Service files for systemd and launchd point at this interpreter and the chosen config."""

from __future__ import annotations

import configparser
import plistlib
import shlex
import subprocess
import sys
from pathlib import Path

from tests.support import WriteConfig


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "core.cli.main", "service", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def test_systemd_unit_runs_serve_with_the_config(write_config: WriteConfig) -> None:
    config = write_config("mode: local\n")
    result = run("systemd", "--config", str(config), "--type", "notify", "--user")
    assert result.returncode == 0, result.stderr
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.read_string(result.stdout)
    command = shlex.split(unit["Service"]["ExecStart"])
    assert command == [sys.executable, "-m", "core.cli.main", "serve", "--config", str(config)]
    assert unit["Service"]["ExecReload"].endswith("-HUP $MAINPID")
    assert unit["Service"]["Type"] == "notify"
    assert unit["Install"]["WantedBy"] == "default.target"


def test_launchd_plist_is_valid_and_keeps_the_daemon_alive(write_config: WriteConfig) -> None:
    config = write_config("mode: local\n")
    result = run("launchd", "--config", str(config))
    assert result.returncode == 0, result.stderr
    plist = plistlib.loads(result.stdout.encode())
    assert plist["ProgramArguments"][-2:] == ["--config", str(config)]
    assert plist["KeepAlive"] == {"SuccessfulExit": False}
    assert plist["RunAtLoad"] is True


def test_missing_config_is_refused(tmp_path: Path) -> None:
    result = run("systemd", "--config", str(tmp_path / "nope.yaml"))
    assert result.returncode == 1
    assert "does not exist" in result.stderr
