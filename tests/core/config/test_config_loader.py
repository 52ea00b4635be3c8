"""Loading YAML into AppConfig: values, env overrides, and errors that point at lines."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.config import ConfigError, load_config_text
from core.config.loader import load_config
from core.config.paths import default_data_dir
from core.config.schema import Mode
from core.engines.base import Capability

VALID = """\
mode: local
server:
  port: 9001
policy:
  timeout: 2s
  llm:
    timeout: 5m
  breaker:
    failures: 2
    cooldown: 250ms
limits:
  max_upload_bytes: 10MB
engines:
  chat:
    capability: llm
    engine: fake
    keep_alive: 1h
    settings:
      reply: hi
routes:
  llm: [chat]
aliases:
  gpt-4o-mini: llm
"""


def test_valid_file_parses_units_and_blocks() -> None:
    loaded = load_config_text(VALID)
    config = loaded.config
    assert config.mode is Mode.LOCAL
    assert config.server.port == 9001
    assert config.policy.timeout == 2.0
    assert config.policy.for_capability(Capability.LLM).timeout == 300.0
    assert config.policy.for_capability(Capability.STT).timeout == 2.0
    assert config.policy.breaker.cooldown == 0.25
    assert config.limits.max_upload_bytes == 10_000_000
    assert config.engines["chat"].keep_alive == 3600.0
    assert config.routes[Capability.LLM] == ["chat"]
    assert len(loaded.sha256) == 64


def test_unknown_key_names_its_path_and_line() -> None:
    text = VALID.replace("    keep_alive: 1h", "    keep_alive: 1h\n    preloda: true")
    with pytest.raises(ConfigError) as caught:
        load_config_text(text, "ai_backend.yaml")
    issue = caught.value.issues[0]
    assert issue.path == "engines.chat.preloda"
    assert issue.line == text.splitlines().index("    preloda: true") + 1
    assert "unknown key" in issue.message
    assert "ai_backend.yaml" in str(caught.value)


def test_bad_value_names_the_field() -> None:
    with pytest.raises(ConfigError) as caught:
        load_config_text(VALID.replace("port: 9001", "port: lots"))
    assert caught.value.issues[0].path == "server.port"
    assert caught.value.issues[0].line == 3


def test_bad_duration_explains_the_format() -> None:
    with pytest.raises(ConfigError) as caught:
        load_config_text(VALID.replace("timeout: 2s", "timeout: soon"))
    assert "duration" in caught.value.issues[0].message


def test_yaml_syntax_error_reports_line() -> None:
    with pytest.raises(ConfigError) as caught:
        load_config_text("mode: local\nengines: [unclosed\n")
    assert caught.value.issues[0].line is not None
    assert "YAML" in caught.value.issues[0].message


@pytest.mark.parametrize("text", ["- a list\n", "just a string\n"])
def test_top_level_must_be_a_mapping(text: str) -> None:
    with pytest.raises(ConfigError):
        load_config_text(text)


def _laughs(levels: int) -> str:
    """Each level an anchored list of nine aliases to the level before: 9**levels values."""
    lines = ["l0: &l0 [x, x, x, x, x, x, x, x, x]"]
    for level in range(1, levels):
        lines.append(f"l{level}: &l{level} [{', '.join([f'*l{level - 1}'] * 9)}]")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    "text",
    [_laughs(9), "loop: &loop [*loop]\n", "loop: &loop {again: *loop}\n"],
    ids=["billion_laughs", "list_alias_to_itself", "mapping_alias_to_itself"],
)
def test_aliases_that_expand_without_bound_are_refused(text: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config_text(text)
    assert "expands to more than" in caught.value.issues[0].message


def test_ordinary_aliases_still_load() -> None:
    text = "shared: &shared {capability: tts, engine: piper}\nengines: {a: *shared, b: *shared}\n"
    with pytest.raises(ConfigError) as caught:
        load_config_text(text)
    # Only the anchor's own key is wrong: the aliases were expanded and validated.
    assert [issue.path for issue in caught.value.issues] == ["shared"]


@pytest.mark.parametrize("text", ["[" * 100_000, "engines: " + "[" * 5000 + "]" * 5000])
def test_nesting_too_deep_is_a_config_error(text: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config_text(text)
    assert caught.value.issues[0].message == "not valid YAML: nested too deeply"


@pytest.mark.parametrize(
    "text",
    [
        "server: {drain_timeout: 2020-13-45}\n",
        "server: {port: !!int abc}\n",
        "server: {drain_timeout: !!float abc}\n",
        "server: {port: " + "9" * 5000 + "}\n",
    ],
    ids=["impossible_date", "int_tag", "float_tag", "integer_too_long"],
)
def test_scalars_that_cannot_be_constructed_are_config_errors(text: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config_text(text)
    assert caught.value.issues[0].message.startswith("not valid YAML: ")


def test_empty_file_is_a_valid_empty_config() -> None:
    assert load_config_text("").config.engines == {}


def test_environment_overrides_yaml(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VOXGATE_MODE", "api")
    monkeypatch.setenv("VOXGATE_SERVER__PORT", "9100")
    monkeypatch.setenv("VOXGATE_ENGINES__CHAT__PRELOAD", "true")
    config = load_config_text(VALID).config
    assert config.mode is Mode.API
    assert config.server.port == 9100
    assert config.engines["chat"].preload is True
    assert config.engines["chat"].settings == {"reply": "hi"}


def test_empty_file_on_disk_is_refused(tmp_path: Path) -> None:
    """A file caught mid-write (truncated, not yet written) must not replace a working config."""
    path = tmp_path / "ai_backend.yaml"
    path.write_text("  \n")
    with pytest.raises(ConfigError, match="empty"):
        load_config(path)


def test_unreadable_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path / "missing.yaml")
    assert "cannot read" in caught.value.issues[0].message


def test_data_dir_override(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("VOXGATE_DATA_DIR", str(tmp_path / "elsewhere"))
    assert default_data_dir() == tmp_path / "elsewhere"
    monkeypatch.delenv("VOXGATE_DATA_DIR")
    assert default_data_dir().name == "voxgate"
