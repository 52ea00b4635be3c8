"""The systemd units: a notify service (optionally socket-activated) and its .socket unit.

``Type=notify-reload`` (systemd 253+) makes ``systemctl reload`` send SIGHUP and wait for the
daemon's ``READY=1``; older systemd gets ``Type=notify`` with an ``ExecReload=`` that sends the
signal. The sandbox lets the daemon read the whole system (models, interpreter, config) and
write only its data directory.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Literal

from core.config.errors import EXIT_CONFIG
from core.service.plan import ServicePlan

UnitType = Literal["notify", "notify-reload"]
UNIT_NAME = "voxgate"
#: The first systemd with Type=notify-reload.
NOTIFY_RELOAD_SINCE = 253
DEFAULT_WATCHDOG = 30

#: The system calls an ordinary service makes; anything else fails with EPERM instead of
#: killing the daemon, so an unexpected call in some library degrades instead of crashing.
_SYSCALLS = ("SystemCallFilter=@system-service", "SystemCallErrorNumber=EPERM")
#: The restrictions a user unit and a system unit both carry.
_RESTRICTIONS = (
    "LockPersonality=yes",
    "RestrictRealtime=yes",
    "RestrictSUIDSGID=yes",
    "RestrictNamespaces=yes",
    "SystemCallArchitectures=native",
    "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK",
    *_SYSCALLS,
    "UMask=0077",
)
_HOME_ROOTS = (Path("/home"), Path("/root"), Path("/run/user"))
_TMP_ROOTS = (Path("/tmp"), Path("/var/tmp"))  # noqa: S108 (where PrivateTmp= would hide files)


def systemd_version() -> int | None:
    """The installed systemd's version from ``systemctl --version``; None without systemctl."""
    systemctl = shutil.which("systemctl")
    if systemctl is None:
        return None
    try:
        out = subprocess.run(  # noqa: S603 (systemctl --version, no shell)
            [systemctl, "--version"], capture_output=True, text=True, check=False, timeout=10
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    match = re.match(r"systemd (\d+)", out)
    return int(match.group(1)) if match else None


def pick_unit_type(version: int | None) -> UnitType:
    """notify-reload where the running systemd has it; plain notify otherwise or if unknown."""
    return "notify-reload" if version is not None and version >= NOTIFY_RELOAD_SINCE else "notify"


def service_unit(
    plan: ServicePlan,
    *,
    unit_type: UnitType = "notify",
    watchdog: int = DEFAULT_WATCHDOG,
    socket: bool = False,
) -> str:
    # systemd expands %-specifiers everywhere and $VARIABLES in command lines: escape both.
    command = " ".join(shlex.quote(part) for part in plan.command).replace("$", "$$")
    command = _literal(command)
    system = plan.scope == "system"
    unit = [
        "# Written by `voxgate service`; run it again after moving the installation or config.",
        "[Unit]",
        "Description=voxgate voice AI gateway",
        "After=network-online.target",
        "Wants=network-online.target",
    ]
    if socket:
        unit += [f"Requires={UNIT_NAME}.socket", f"After={UNIT_NAME}.socket"]
    unit += ["", "[Service]"]
    if unit_type == "notify-reload":
        unit += [
            "# READY=1 once engines are preloaded and the port accepts; `systemctl reload` sends",
            "# SIGHUP and waits for the daemon to finish reloading.",
            "Type=notify-reload",
        ]
    else:
        unit += [
            "# READY=1 once engines are preloaded and the port accepts.",
            "Type=notify",
            "ExecReload=/bin/kill -HUP $MAINPID",
        ]
    unit += [
        "NotifyAccess=main",
        f"ExecStart={command}",
        f"WorkingDirectory={_literal(str(plan.workdir))}",
    ]
    if system and plan.run_as:
        unit.append(f"User={plan.run_as}")
    unit += [
        "Environment=PYTHONUNBUFFERED=1",
        f"Environment={_word(f'VOXGATE_DATA_DIR={plan.data_dir}')}",
        "# API keys for cloud engines: VAR=value lines in this file, never in the YAML.",
        f"EnvironmentFile=-{'/etc/voxgate/env' if system else '%h/.config/voxgate/env'}",
    ]
    if plan.state_directory:
        unit.append("StateDirectory=voxgate")
    if watchdog > 0:
        unit += [
            "# The daemon pings from its event loop; a loop stuck this long is restarted.",
            f"WatchdogSec={watchdog}",
        ]
    unit += [
        "# Long preloads push this back (EXTEND_TIMEOUT_USEC) while they make progress.",
        "TimeoutStartSec=90",
        f"TimeoutStopSec={plan.stop_timeout}",
        "Restart=on-failure",
        "RestartSec=2",
        f"RestartPreventExitStatus={EXIT_CONFIG}",
        "# One descriptor per connection (server.max_connections) plus models, workers, logs.",
        f"LimitNOFILE={plan.open_files}",
        "",
        *(_system_sandbox(plan, socket) if system else _user_sandbox()),
        "",
        "[Install]",
    ]
    if socket:
        unit += [
            "# Socket-activated: the socket is enabled, the daemon starts on the first connection.",
            f"Also={UNIT_NAME}.socket",
        ]
    else:
        unit.append(f"WantedBy={'multi-user.target' if system else 'default.target'}")
    return "\n".join(unit) + "\n"


def socket_unit(plan: ServicePlan) -> str:
    return (
        "\n".join(
            [
                "# Written by `voxgate service`.",
                "[Unit]",
                "Description=voxgate voice AI gateway (listening socket)",
                "",
                "[Socket]",
                "# systemd holds the port; connections wait in its queue while the daemon starts.",
                f"ListenStream={plan.listen_address()}",
                "NoDelay=true",
                "",
                "[Install]",
                "WantedBy=sockets.target",
            ]
        )
        + "\n"
    )


def _user_sandbox() -> list[str]:
    # Mount-namespace options (ProtectSystem=, ReadWritePaths=, PrivateTmp=) need unprivileged
    # user namespaces in a per-user manager; where those are restricted the unit would fail to
    # start, so the user unit keeps to filters that need no privilege.
    return [
        "# Hardening that works in a per-user manager (no namespaces needed).",
        "NoNewPrivileges=yes",
        *_RESTRICTIONS,
    ]


def _system_sandbox(plan: ServicePlan, socket: bool) -> list[str]:
    reads = plan.read_paths()
    home = any(_under(path, _HOME_ROOTS) for path in reads)
    tmp = any(_under(path, _TMP_ROOTS) for path in reads)
    lines = [
        "# Hardening: the whole system is read-only except the data directory.",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
    ]
    if not plan.state_directory:  # a StateDirectory= is writable already
        lines.append(f"ReadWritePaths={' '.join(_word(str(p)) for p in plan.writable_dirs())}")
    if home:
        lines += [
            "# Read-only, not hidden: the interpreter, models or data live under a home directory.",
            "ProtectHome=read-only",
        ]
    else:
        lines.append("ProtectHome=yes")
    if tmp:
        lines.append("# No private /tmp: the installation or its data lives under /tmp.")
    else:
        lines.append("PrivateTmp=yes")
    lines += [
        "# PrivateDevices= and ProtectClock= stay off: GPU engines need /dev/nvidia* and /dev/dri.",
        "ProtectKernelTunables=yes",
        "ProtectKernelModules=yes",
        "ProtectKernelLogs=yes",
        "ProtectControlGroups=yes",
        "ProtectHostname=yes",
        "ProtectProc=invisible",
        "PrivateMounts=yes",
        *_RESTRICTIONS,
        "# MemoryDenyWriteExecute= stays off: ctypes callbacks and some ML runtimes need it.",
    ]
    if plan.port < 1024 and not socket:
        lines += [
            "CapabilityBoundingSet=CAP_NET_BIND_SERVICE",
            "AmbientCapabilities=CAP_NET_BIND_SERVICE",
        ]
    else:
        lines.append("CapabilityBoundingSet=")
    return lines


def _literal(text: str) -> str:
    return text.replace("%", "%%")


def _word(text: str) -> str:
    """One item of a space-separated setting, double-quoted when it holds spaces or quotes."""
    text = _literal(text)
    if any(c in text for c in " \t\"'\\"):
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return text


def _under(path: Path, roots: tuple[Path, ...]) -> bool:
    return any(path == root or path.is_relative_to(root) for root in roots)
