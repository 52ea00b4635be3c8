"""Choosing the state backend from the ``state:`` block."""

from __future__ import annotations

import os
from collections.abc import Callable

from core.config.errors import ConfigError, ConfigIssue
from core.config.schema import StateConfig
from core.observability.metrics import Metrics
from core.state.backend import StateBackend
from core.state.memory import MemoryBackend

StateFactory = Callable[[StateConfig, Metrics], StateBackend]


def create_state_backend(config: StateConfig, metrics: Metrics) -> StateBackend:
    if config.backend == "memory":
        metrics.state_up.set(1)
        return MemoryBackend()
    try:
        # The client library is imported only when a fleet asks for it.
        from core.state.valkey import ValkeyBackend
    except ImportError as exc:
        raise ConfigError(
            [
                ConfigIssue(
                    "state.backend",
                    f"the valkey backend needs the client library ({exc}); "
                    "install it with: pip install 'voxgate[fleet]'",
                )
            ]
        ) from exc
    password = os.environ.get(config.password_env, "").strip() or None
    return ValkeyBackend(config, metrics, password)
