"""The launchd property list: a LaunchAgent (per user) or LaunchDaemon (system).

launchd restarts the daemon only when it crashes or exits with an error (``KeepAlive`` with
``SuccessfulExit`` false), so a drained SIGTERM stop (exit 0) stays stopped. There is no
notify protocol on macOS; readiness is ``/readyz``.

No ``Sockets`` variant: launchd hands listening sockets over only through
``launch_activate_socket()`` in libSystem (no environment protocol like systemd's), and an
on-demand job would load its models on the first connection, which a voice gateway wants done
before the first request. The daemon binds its own port.
"""

from __future__ import annotations

import plistlib
from pathlib import Path
from typing import Any

from core.service.plan import ServicePlan

LABEL = "org.voxgate.daemon"
#: Where a LaunchDaemon's logs go (agents log under ~/Library/Logs/voxgate).
SYSTEM_LOG_DIR = Path("/Library/Logs/voxgate")


def log_dir(plan: ServicePlan, home: Path) -> Path:
    return SYSTEM_LOG_DIR if plan.scope == "system" else home / "Library" / "Logs" / "voxgate"


def plist(plan: ServicePlan, logs: Path) -> str:
    path = ":".join(
        [
            str(plan.python.parent),
            "/opt/homebrew/bin",
            "/usr/local/bin",
            "/usr/bin",
            "/bin",
            "/usr/sbin",
            "/sbin",
        ]
    )
    job: dict[str, Any] = {
        "Label": LABEL,
        "ProgramArguments": plan.command,
        "WorkingDirectory": str(plan.workdir),
        "RunAtLoad": True,
        # Restart after a crash or an error exit, not after a clean stop.
        "KeepAlive": {"SuccessfulExit": False},
        # Seconds between SIGTERM and SIGKILL: enough to drain requests and close engines.
        "ExitTimeOut": plan.stop_timeout,
        "ThrottleInterval": 10,
        "EnvironmentVariables": {
            "PATH": path,
            "LANG": "en_US.UTF-8",
            "PYTHONUNBUFFERED": "1",
            "VOXGATE_DATA_DIR": str(plan.data_dir),
        },
        # One descriptor per connection plus models, workers and logs (launchd's default is 256).
        "SoftResourceLimits": {"NumberOfFiles": plan.open_files},
        "HardResourceLimits": {"NumberOfFiles": plan.open_files},
        "StandardOutPath": str(logs / "voxgate.log"),
        "StandardErrorPath": str(logs / "voxgate.log"),
    }
    if plan.scope == "system" and plan.run_as:
        job["UserName"] = plan.run_as
    return plistlib.dumps(job, sort_keys=False).decode()
