"""Configuration: the YAML schema, loading with env overrides, and resolution against plugins."""

from core.config.errors import ConfigError, ConfigIssue
from core.config.loader import load_config, load_config_text
from core.config.resolve import ResolvedConfig, ResolvedEngine, resolve_config
from core.config.schema import AppConfig, EngineSpec, Mode

__all__ = [
    "AppConfig",
    "ConfigError",
    "ConfigIssue",
    "EngineSpec",
    "Mode",
    "ResolvedConfig",
    "ResolvedEngine",
    "load_config",
    "load_config_text",
    "resolve_config",
]
