"""What a service file must know about this installation, worked out once for every manager.

The files point at the interpreter running now and at an absolute config path, so they keep
working when copied as they are; the data directory is pinned with ``VOXGATE_DATA_DIR`` so the
daemon and the sandbox (which allows writes only there) agree on it.
"""

from __future__ import annotations

import ipaddress
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from core.config.loader import load_config
from core.config.paths import default_data_dir

Scope = Literal["user", "system"]

#: ``server.max_connections`` when the config has none (older schema): uvicorn's own cap is
#: unlimited, so the descriptor limit is sized for this many.
DEFAULT_MAX_CONNECTIONS = 1000
#: Descriptors beyond one per connection: model files, worker pipes, logs, the config watch.
DESCRIPTOR_HEADROOM = 1024
#: Where a system service keeps its data unless the config says otherwise (StateDirectory=).
SYSTEM_DATA_DIR = Path("/var/lib/voxgate")


@dataclass(frozen=True)
class ServicePlan:
    scope: Scope
    python: Path
    config: Path
    workdir: Path
    data_dir: Path
    models_dir: Path
    host: str
    port: int
    drain_timeout: float
    max_connections: int
    #: The account a system service runs as (None: root).
    run_as: str | None = None
    #: The data dir is the systemd-managed state directory (created and owned by systemd).
    state_directory: bool = False
    #: What else the daemon reads: the interpreter's real home and environment, the code.
    runtime_paths: tuple[Path, ...] = ()

    @property
    def command(self) -> list[str]:
        return [str(self.python), "-m", "core.cli.main", "serve", "--config", str(self.config)]

    @property
    def open_files(self) -> int:
        return self.max_connections + DESCRIPTOR_HEADROOM

    @property
    def stop_timeout(self) -> int:
        """uvicorn drains connections and the runtime drains engines, each up to
        ``drain_timeout``; a little more covers closing the engines."""
        return int(2 * self.drain_timeout) + 10

    def writable_dirs(self) -> list[Path]:
        dirs = [self.data_dir]
        if not self.models_dir.is_relative_to(self.data_dir):
            dirs.append(self.models_dir)
        return dirs

    def read_paths(self) -> list[Path]:
        """Everything the daemon reads: interpreter, its environment, code, config, data."""
        return [
            self.python,
            *self.runtime_paths,
            self.config,
            self.workdir,
            *self.writable_dirs(),
        ]

    def listen_address(self) -> str:
        """``ListenStream=`` form of the configured address (an IP literal, not a name)."""
        host = "127.0.0.1" if self.host == "localhost" else self.host
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            raise ValueError(
                f"server.host {self.host!r} is not an IP address; a listening socket unit "
                "needs one (127.0.0.1, 0.0.0.0, ::1, ...)"
            ) from None
        if address.version == 6:
            return f"[{address}]:{self.port}"
        return f"{address}:{self.port}"


def build_plan(
    config: Path,
    scope: Scope,
    *,
    run_as: str | None = None,
    data_dir: Path | None = None,
    workdir: Path | None = None,
) -> ServicePlan:
    """Read the config (raising :class:`ConfigError` when invalid) and settle every path."""
    config = config.expanduser().resolve()
    app = load_config(config).config
    chosen = data_dir or app.data_dir
    state_directory = False
    if chosen is None:
        if scope == "system":
            chosen, state_directory = SYSTEM_DATA_DIR, True
        else:
            chosen = default_data_dir()
    chosen = chosen.expanduser().resolve()
    models = app.models_dir.expanduser().resolve() if app.models_dir else chosen / "models"
    server = app.server
    max_connections = getattr(server, "max_connections", None) or DEFAULT_MAX_CONNECTIONS
    return ServicePlan(
        scope=scope,
        python=Path(sys.executable),
        config=config,
        workdir=(workdir or Path.cwd()).resolve(),
        data_dir=chosen,
        models_dir=models,
        host=server.host,
        port=server.port,
        drain_timeout=float(server.drain_timeout),
        max_connections=int(max_connections),
        run_as=_system_account(run_as) if scope == "system" else None,
        state_directory=state_directory,
        runtime_paths=(
            Path(sys.executable).resolve(),
            Path(sys.prefix),
            Path(sys.base_prefix),
            Path(__file__).resolve().parents[2],  # the installed (or checked-out) code
        ),
    )


def _system_account(run_as: str | None) -> str | None:
    """The account a system service runs as: the one asked for, else whoever ran sudo, else
    the current user; None for root (no ``User=`` line)."""
    import pwd  # Unix only, like the service managers

    name = run_as or os.environ.get("SUDO_USER") or pwd.getpwuid(os.getuid()).pw_name
    if name == "nobody":
        # Files owned by nobody are shared with every other service that runs as nobody.
        raise ValueError("do not run the service as nobody; create an account for it")
    try:
        pwd.getpwnam(name)
    except KeyError:
        raise ValueError(f"no such account: {name}") from None
    return None if name == "root" else name
