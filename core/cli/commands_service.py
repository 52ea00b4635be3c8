"""``voxgate service``: service files for systemd and launchd, and installing them.

- ``voxgate service systemd|systemd-socket|launchd`` print a file (``> path`` to keep it);
- ``voxgate service install|uninstall|status`` write or remove the files in the manager's folder
  and run its commands (``systemctl``, ``launchctl``), printing each step; ``--dry-run`` only
  prints.

The files point at the interpreter and config in use, so they survive being copied as they are.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any, cast

from core.cli.config_option import add_config_argument, config_file
from core.cli.output import fail, say
from core.config.errors import ConfigError
from core.service import launchd, systemd_units
from core.service.install import (
    Manager,
    Target,
    carry_out,
    default_unit_dir,
    install_steps,
    status_steps,
    uninstall_steps,
)
from core.service.plan import Scope, ServicePlan, build_plan


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("service", help="run the daemon as a systemd or launchd service")
    actions = parser.add_subparsers(dest="service_action", metavar="ACTION", required=True)

    files = argparse.ArgumentParser(add_help=False)
    _scope_options(files)
    _file_options(files)
    for name, help_text in (
        ("systemd", "print the systemd service unit"),
        ("systemd-socket", "print the systemd .socket unit (socket activation)"),
        ("launchd", "print the launchd property list"),
    ):
        sub = actions.add_parser(name, parents=[files], help=help_text)
        sub.set_defaults(handler=print_command, manager_file=name)

    install = actions.add_parser(
        "install", parents=[files], help="write the service files and start the service"
    )
    _manager_options(install)
    install.set_defaults(handler=install_command)

    for name, help_text in (
        ("uninstall", "stop the service and remove its files"),
        ("status", "show the service manager's view of the service"),
    ):
        sub = actions.add_parser(name, help=help_text)
        _scope_options(sub)
        _manager_options(sub)
        sub.set_defaults(handler=manage_command, service_action=name)


def _scope_options(parser: argparse.ArgumentParser) -> None:
    scope = parser.add_mutually_exclusive_group()
    scope.add_argument(
        "--user",
        dest="scope",
        action="store_const",
        const="user",
        help="a per-user service (default unless run as root)",
    )
    scope.add_argument(
        "--system",
        dest="scope",
        action="store_const",
        const="system",
        help="a system-wide service (default when run as root)",
    )


def _file_options(parser: argparse.ArgumentParser) -> None:
    add_config_argument(parser, "YAML file the service serves")
    parser.add_argument(
        "--type",
        dest="unit_type",
        choices=("auto", "notify", "notify-reload"),
        default="auto",
        help="systemd service type (auto: notify-reload on systemd 253 or newer)",
    )
    parser.add_argument(
        "--watchdog",
        type=int,
        default=systemd_units.DEFAULT_WATCHDOG,
        metavar="SECONDS",
        help="systemd WatchdogSec= (0 turns the watchdog off; default 30)",
    )
    parser.add_argument(
        "--socket",
        action="store_true",
        help="socket activation: systemd holds the port and starts the daemon on first use",
    )
    parser.add_argument(
        "--run-as",
        default=None,
        metavar="USER",
        help="account of a system service (default: $SUDO_USER or the current user)",
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="data directory the service may write (default: the config's data_dir, else the "
        "user's data folder, or /var/lib/voxgate for a system service)",
    )


def _manager_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--manager",
        choices=("systemd", "launchd"),
        default=None,
        help="service manager (default: launchd on macOS, systemd elsewhere)",
    )
    parser.add_argument(
        "--unit-dir",
        type=Path,
        default=None,
        help="folder for the files (default: the manager's own for the chosen scope)",
    )
    parser.add_argument("--dry-run", action="store_true", help="print the steps, do nothing")


def _scope(args: argparse.Namespace) -> Scope:
    return cast(Scope, args.scope or ("system" if os.geteuid() == 0 else "user"))


def _manager(args: argparse.Namespace) -> Manager:
    return cast(Manager, args.manager or ("launchd" if sys.platform == "darwin" else "systemd"))


def _plan(args: argparse.Namespace) -> ServicePlan:
    config = config_file(args).expanduser().resolve()
    if not config.is_file():
        raise FileNotFoundError(f"config file {config} does not exist")
    return build_plan(config, _scope(args), run_as=args.run_as, data_dir=args.data_dir)


def _unit_type(args: argparse.Namespace) -> systemd_units.UnitType:
    if args.unit_type != "auto":
        return cast(systemd_units.UnitType, args.unit_type)
    return systemd_units.pick_unit_type(systemd_units.systemd_version())


def print_command(args: argparse.Namespace) -> int:
    try:
        plan = _plan(args)
        if args.manager_file == "systemd":
            text = systemd_units.service_unit(
                plan, unit_type=_unit_type(args), watchdog=args.watchdog, socket=args.socket
            )
        elif args.manager_file == "systemd-socket":
            text = systemd_units.socket_unit(plan)
        else:
            text = launchd.plist(plan, launchd.log_dir(plan, Path.home()))
    except (FileNotFoundError, ValueError, ConfigError) as exc:
        return fail(_problem(exc))
    sys.stdout.write(text)
    return 0


def install_command(args: argparse.Namespace) -> int:
    manager = _manager(args)
    try:
        plan = _plan(args)
        if args.socket and manager == "launchd":
            return fail("--socket is for systemd; the launchd job binds its own port")
        target = _target(args, manager)
        steps = install_steps(
            plan,
            target,
            unit_type=_unit_type(args),
            watchdog=args.watchdog,
            socket=args.socket,
        )
    except (FileNotFoundError, ValueError, ConfigError) as exc:
        return fail(_problem(exc))
    return carry_out(steps, dry_run=args.dry_run, say=say)


def manage_command(args: argparse.Namespace) -> int:
    manager = _manager(args)
    target = _target(args, manager)
    steps = uninstall_steps(target) if args.service_action == "uninstall" else status_steps(target)
    return carry_out(steps, dry_run=args.dry_run, say=say)


def _target(args: argparse.Namespace, manager: Manager) -> Target:
    scope = _scope(args)
    home = Path.home()
    unit_dir: Path = args.unit_dir or default_unit_dir(manager, scope, home)
    return Target(manager=manager, scope=scope, unit_dir=unit_dir.resolve(), home=home)


def _problem(exc: Exception) -> str:
    if isinstance(exc, ConfigError):
        return exc.render()
    return str(exc.args[0]) if exc.args else str(exc)
