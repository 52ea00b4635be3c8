"""The generated systemd units pass systemd's own checker, and say what the daemon needs."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest

from core.config.schema import ServerConfig
from core.service.plan import DEFAULT_MAX_CONNECTIONS, ServicePlan, build_plan
from core.service.systemd_units import (
    NOTIFY_RELOAD_SINCE,
    pick_unit_type,
    service_unit,
    socket_unit,
)
from tests.support import WriteConfig
from tests.support.systemd_tools import systemd_analyze


def voxgate_service(*args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "core.cli.main", "service", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def verify(folder: Path, scope: str, unit_type: str, *files: str) -> None:
    """``systemd-analyze verify``: no error and not one warning."""
    tool = systemd_analyze(NOTIFY_RELOAD_SINCE if unit_type == "notify-reload" else 0)
    runtime = folder / "runtime"
    runtime.mkdir(mode=0o700, exist_ok=True)
    args = (["--user"] if scope == "user" else []) + ["verify", *(f"./{f}" for f in files)]
    result = tool.run(*args, cwd=folder, env={"XDG_RUNTIME_DIR": str(runtime)})
    assert (result.returncode, result.stderr, result.stdout) == (0, "", ""), tool.path


@pytest.mark.parametrize("socket", [False, True], ids=["plain", "socket"])
@pytest.mark.parametrize("unit_type", ["notify", "notify-reload"])
@pytest.mark.parametrize("scope", ["user", "system"])
def test_every_unit_passes_systemd_analyze_verify(
    write_config: WriteConfig, tmp_path: Path, scope: str, unit_type: str, socket: bool
) -> None:
    config = write_config("mode: local\n")
    options = ["--config", str(config), f"--{scope}", "--type", unit_type]
    if scope == "system":
        options += ["--run-as", "daemon"]
    files = ["voxgate.service"]
    unit = voxgate_service("systemd", *options, *(["--socket"] if socket else []))
    (tmp_path / "voxgate.service").write_text(unit)
    if socket:
        (tmp_path / "voxgate.socket").write_text(voxgate_service("systemd-socket", *options))
        files.insert(0, "voxgate.socket")
    verify(tmp_path, scope, unit_type, *files)
    assert f"Type={unit_type}\n" in unit
    assert ("ExecReload=/bin/kill -HUP $MAINPID\n" in unit) is (unit_type == "notify")


def test_the_checker_catches_a_broken_unit(write_config: WriteConfig, tmp_path: Path) -> None:
    # The same check fails a unit systemd would not run, so a passing check means something.
    config = write_config("mode: local\n")
    unit = voxgate_service("systemd", "--config", str(config), "--type", "notify")
    broken = unit.replace(sys.executable, str(tmp_path / "no-such-python"))
    (tmp_path / "voxgate.service").write_text(broken)
    tool = systemd_analyze()
    result = tool.run("verify", "./voxgate.service", cwd=tmp_path)
    assert result.returncode != 0
    assert "no-such-python" in result.stderr


def plan_for(write_config: WriteConfig, scope: str = "system", **changes: object) -> ServicePlan:
    plan = build_plan(write_config("mode: local\n"), scope, run_as="daemon")  # type: ignore[arg-type]
    return dataclasses.replace(plan, **changes)  # type: ignore[arg-type]


def lines(unit: str) -> set[str]:
    return {line for line in unit.splitlines() if line and not line.startswith("#")}


#: server.max_connections by default (1000 where the schema has no such setting).
CONNECTION_CAP = getattr(ServerConfig(), "max_connections", None) or DEFAULT_MAX_CONNECTIONS

SYSTEM_PATHS = {
    "python": Path("/opt/voxgate/venv/bin/python"),
    "runtime_paths": (Path("/usr/lib/python3.11"), Path("/opt/voxgate/venv")),
    "config": Path("/etc/voxgate/ai_backend.yaml"),
    "workdir": Path("/opt/voxgate"),
    "data_dir": Path("/srv/voxgate"),
    "models_dir": Path("/srv/voxgate/models"),
}


def test_system_sandbox_writes_only_the_data_dir(write_config: WriteConfig) -> None:
    unit = lines(service_unit(plan_for(write_config, **SYSTEM_PATHS)))
    assert {
        "User=daemon",
        "ProtectSystem=strict",
        "ReadWritePaths=/srv/voxgate",
        "ProtectHome=yes",
        "PrivateTmp=yes",
        "NoNewPrivileges=yes",
        "CapabilityBoundingSet=",
        "Environment=VOXGATE_DATA_DIR=/srv/voxgate",
        "Restart=on-failure",
        "RestartPreventExitStatus=78",
        "WatchdogSec=30",
        f"LimitNOFILE={CONNECTION_CAP + 1024}",  # a descriptor per connection, plus headroom
        "WantedBy=multi-user.target",
    } <= unit


def test_home_and_tmp_paths_loosen_the_sandbox_only_as_needed(write_config: WriteConfig) -> None:
    in_home = {
        **SYSTEM_PATHS,
        "data_dir": Path("/home/ana/.local/share/voxgate"),
        "models_dir": Path("/mnt/models"),
    }
    unit = lines(service_unit(plan_for(write_config, **in_home)))
    assert "ProtectHome=read-only" in unit
    assert "ReadWritePaths=/home/ana/.local/share/voxgate /mnt/models" in unit
    assert "PrivateTmp=yes" in unit
    in_tmp = {**SYSTEM_PATHS, "config": Path("/tmp/voxgate/ai_backend.yaml")}
    unit = lines(service_unit(plan_for(write_config, **in_tmp)))
    assert "PrivateTmp=yes" not in unit and "ProtectHome=yes" in unit


def test_descriptor_limit_follows_the_connection_cap(write_config: WriteConfig) -> None:
    plan = plan_for(write_config, max_connections=5000, **SYSTEM_PATHS)
    assert "LimitNOFILE=6024" in lines(service_unit(plan))


def test_low_port_keeps_only_the_bind_capability(write_config: WriteConfig) -> None:
    plan = plan_for(write_config, port=80, **SYSTEM_PATHS)
    assert {
        "CapabilityBoundingSet=CAP_NET_BIND_SERVICE",
        "AmbientCapabilities=CAP_NET_BIND_SERVICE",
    } <= lines(service_unit(plan))
    # With socket activation systemd binds the port, so the daemon needs nothing.
    assert "CapabilityBoundingSet=" in lines(service_unit(plan, socket=True))


def test_user_unit_uses_filters_that_need_no_privilege(write_config: WriteConfig) -> None:
    unit = lines(service_unit(plan_for(write_config, "user"), watchdog=0))
    assert {"NoNewPrivileges=yes", "SystemCallFilter=@system-service", "WantedBy=default.target"}
    assert not any(line.startswith(("ProtectSystem", "ReadWritePaths", "User=")) for line in unit)
    assert not any(line.startswith("WatchdogSec") for line in unit)
    assert "EnvironmentFile=-%h/.config/voxgate/env" in unit


def test_odd_paths_are_escaped_for_systemd(write_config: WriteConfig, tmp_path: Path) -> None:
    folder = tmp_path / "my 100% $HOME"
    folder.mkdir()
    config = folder / "ai_backend.yaml"
    config.write_text("mode: local\n")
    unit = voxgate_service("systemd", "--config", str(config), "--type", "notify", "--user")
    expected = str(config).replace("%", "%%").replace("$", "$$")
    assert f"--config '{expected}'" in unit
    (tmp_path / "voxgate.service").write_text(unit)
    verify(tmp_path, "user", "notify", "voxgate.service")


def test_socket_unit_listens_where_the_config_says(write_config: WriteConfig) -> None:
    plan = plan_for(write_config)
    assert "ListenStream=127.0.0.1:8765" in socket_unit(plan)
    assert "ListenStream=[::1]:9000" in socket_unit(
        dataclasses.replace(plan, host="::1", port=9000)
    )
    with pytest.raises(ValueError, match="not an IP address"):
        socket_unit(dataclasses.replace(plan, host="voxgate.lan"))
    service = lines(service_unit(plan, socket=True))
    assert {"Requires=voxgate.socket", "After=voxgate.socket", "Also=voxgate.socket"} <= service
    assert not any(line.startswith("WantedBy") for line in service)


def test_unit_type_follows_the_systemd_version() -> None:
    assert pick_unit_type(None) == "notify"
    assert pick_unit_type(252) == "notify"
    assert pick_unit_type(253) == "notify-reload"
