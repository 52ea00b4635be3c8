"""Reading the YAML file into a validated :class:`AppConfig`, errors pointing at YAML lines."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from core.config.errors import ConfigError, ConfigIssue
from core.config.schema import AppConfig

LineMap = dict[tuple[str, ...], int]


@dataclass(frozen=True)
class LoadedConfig:
    config: AppConfig
    source: str
    #: sha256 of the file's bytes, shown by /control/status to tell which file is serving.
    sha256: str
    lines: LineMap


def _line_map(node: yaml.Node, path: tuple[str, ...], out: LineMap) -> None:
    out[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            child = (*path, str(key.value))
            out[child] = key.start_mark.line + 1
            _line_map(value, child, out)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _line_map(item, (*path, str(index)), out)


def line_for(lines: LineMap, path: Sequence[str]) -> int | None:
    """The line of the deepest part of ``path`` that appears in the file."""
    parts = tuple(path)
    while parts:
        if parts in lines:
            return lines[parts]
        parts = parts[:-1]
    return None


def issues_from_validation(
    error: ValidationError, lines: LineMap, prefix: Iterable[str] = ()
) -> list[ConfigIssue]:
    issues = []
    for item in error.errors():
        loc = [*prefix, *(str(p) for p in item["loc"])]
        message = item["msg"]
        if item["type"] == "extra_forbidden":
            message = "unknown key (check its spelling and indentation)"
        issues.append(ConfigIssue(".".join(loc), message, line_for(lines, loc)))
    return issues


def load_config_text(text: str, source: str = "<string>") -> LoadedConfig:
    """Parse and validate YAML text. Raises :class:`ConfigError` listing every problem."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError([ConfigIssue("", f"not valid YAML: {problem}", line)], source) from exc
    lines: LineMap = {}
    if node is not None:
        _line_map(node, (), lines)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError([ConfigIssue("", "the file must be a mapping of keys", 1)], source)
    try:
        config = AppConfig(**data)
    except ValidationError as exc:
        raise ConfigError(issues_from_validation(exc, lines), source) from exc
    digest = hashlib.sha256(text.encode()).hexdigest()
    return LoadedConfig(config=config, source=source, sha256=digest, lines=lines)


def load_config(path: Path) -> LoadedConfig:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            [ConfigIssue("", f"cannot read file: {exc.strerror}")], str(path)
        ) from exc
    except UnicodeDecodeError as exc:
        raise ConfigError([ConfigIssue("", "the file is not UTF-8 text")], str(path)) from exc
    if not text.strip():
        # Usually an editor caught between truncating and writing: never serve "nothing".
        raise ConfigError([ConfigIssue("", "the file is empty")], str(path))
    return load_config_text(text, str(path))
