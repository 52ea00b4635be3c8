"""``voxgate service systemd|launchd``: print a unit file that runs this installation.

The unit points at the interpreter and config in use, so it survives being copied as is:
`voxgate service systemd > ~/.config/systemd/user/voxgate.service`.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from core.cli.output import fail
from core.config.paths import default_config_file

LAUNCHD_LABEL = "org.voxgate.daemon"


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("service", help="print a systemd or launchd service file")
    parser.add_argument("manager", choices=("systemd", "launchd"))
    parser.add_argument("--config", type=Path, default=None, help="YAML file the service serves")
    parser.set_defaults(handler=service_command)


def _command(config: Path) -> list[str]:
    return [sys.executable, "-m", "core.cli.main", "serve", "--config", str(config)]


def systemd_unit(config: Path, workdir: Path) -> str:
    command = " ".join(shlex.quote(part) for part in _command(config))
    return f"""\
[Unit]
Description=voxgate voice AI gateway
After=network-online.target
Wants=network-online.target

[Service]
Type=exec
WorkingDirectory={workdir}
ExecStart={command}
# Editing the YAML reloads it on its own; `systemctl reload` does the same through SIGHUP.
ExecReload=/bin/kill -HUP $MAINPID
# SIGTERM drains in-flight requests (server.drain_timeout) before the engines close.
KillSignal=SIGTERM
TimeoutStopSec=60
Restart=on-failure
RestartSec=2
# API keys for cloud engines: put VAR=value lines in this file (never in the YAML).
EnvironmentFile=-%h/.config/voxgate/env

[Install]
WantedBy=default.target
"""


def launchd_plist(config: Path, workdir: Path, log_dir: Path) -> str:
    arguments = "\n".join(f"    <string>{escape(part)}</string>" for part in _command(config))
    return f"""\
<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
  <key>Label</key>
  <string>{LAUNCHD_LABEL}</string>
  <key>ProgramArguments</key>
  <array>
{arguments}
  </array>
  <key>WorkingDirectory</key>
  <string>{escape(str(workdir))}</string>
  <key>RunAtLoad</key>
  <true/>
  <key>KeepAlive</key>
  <dict>
    <key>SuccessfulExit</key>
    <false/>
  </dict>
  <key>ExitTimeOut</key>
  <integer>60</integer>
  <key>StandardErrorPath</key>
  <string>{escape(str(log_dir / "voxgate.log"))}</string>
  <key>StandardOutPath</key>
  <string>{escape(str(log_dir / "voxgate.log"))}</string>
</dict>
</plist>
"""


def service_command(args: argparse.Namespace) -> int:
    config = (args.config or default_config_file()).expanduser().resolve()
    if not config.is_file():
        return fail(f"config file {config} does not exist")
    workdir = Path.cwd().resolve()
    if args.manager == "systemd":
        sys.stdout.write(systemd_unit(config, workdir))
    else:
        sys.stdout.write(launchd_plist(config, workdir, Path.home() / "Library" / "Logs"))
    return 0
