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

#: Most values a config may hold once its aliases are expanded. Real files hold hundreds;
#: aliases of aliases can expand a few lines into billions ("billion laughs"), which would
#: exhaust memory while the lines are mapped and the values validated.
MAX_EXPANDED_VALUES = 100_000


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


def _expanded_size(node: yaml.Node, sizes: dict[int, int]) -> int:
    """How many values ``node`` holds with its aliases expanded, counting each shared node
    once (``sizes`` memoizes by identity). A node met again while it is still being counted
    is an alias to itself: its size counts as over the limit."""
    known = sizes.get(id(node))
    if known is not None:
        return known
    sizes[id(node)] = MAX_EXPANDED_VALUES + 1
    children: list[yaml.Node] = []
    if isinstance(node, yaml.MappingNode):
        children = [part for pair in node.value for part in pair]
    elif isinstance(node, yaml.SequenceNode):
        children = list(node.value)
    size = 1 + sum(_expanded_size(child, sizes) for child in children)
    sizes[id(node)] = size
    return size


def _refuse_unbounded(node: yaml.Node | None, source: str) -> None:
    if node is not None and _expanded_size(node, {}) > MAX_EXPANDED_VALUES:
        message = (
            f"the YAML expands to more than {MAX_EXPANDED_VALUES} values "
            "(aliases nested in aliases, or an alias to itself)"
        )
        raise ConfigError([ConfigIssue("", message, 1)], source)


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
        _refuse_unbounded(node, source)
        data: Any = yaml.safe_load(text)
        lines: LineMap = {}
        if node is not None:
            _line_map(node, (), lines)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError([ConfigIssue("", f"not valid YAML: {problem}", line)], source) from exc
    except RecursionError as exc:
        # The parser and the walks above recurse once per level of nesting.
        issue = ConfigIssue("", "not valid YAML: nested too deeply", None)
        raise ConfigError([issue], source) from exc
    except ValueError as exc:
        # A scalar the loader cannot construct: a date such as 2020-13-45, "!!int abc", an
        # integer of more digits than Python converts.
        issue = ConfigIssue("", f"not valid YAML: {exc}", None)
        raise ConfigError([issue], source) from exc
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
