"""Resolving a config against the plugin catalog: engine lookup, settings, chains and mode."""

from __future__ import annotations

import pytest

from core.config import ConfigError, ResolvedConfig, load_config_text, resolve_config
from core.engines.base import Capability
from core.plugins import PluginCatalog, PluginFailure, create_plugin_catalog
from tests.support.fake_plugin import FakePlugin


def catalog() -> PluginCatalog:
    return create_plugin_catalog(use_entry_points=False, extra={"fakes": FakePlugin()})


def resolve(text: str) -> ResolvedConfig:
    return resolve_config(load_config_text(text), catalog())


def refusals(text: str) -> dict[str, str]:
    """What resolving ``text`` refuses: each issue's message by its path."""
    with pytest.raises(ConfigError) as caught:
        resolve(text)
    return {i.path: i.message for i in caught.value.issues}


CHAINS = """\
mode: {mode}
engines:
  local_a: {{capability: llm, engine: fake}}
  cloud_b: {{capability: llm, engine: fake_cloud}}
  local_c: {{capability: llm, engine: fake}}
  lan_box: {{capability: llm, engine: fake_cloud, location: local}}
routes:
  llm: [cloud_b, local_a, lan_box, local_c]
"""


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("local", ["local_a", "lan_box", "local_c"]),
        ("api", ["cloud_b"]),
        ("hybrid", ["local_a", "lan_box", "local_c", "cloud_b"]),
    ],
)
def test_mode_filters_and_orders_chains(mode: str, expected: list[str]) -> None:
    resolved = resolve(CHAINS.format(mode=mode))
    assert resolved.chains[Capability.LLM] == expected
    assert resolved.declared_chains[Capability.LLM] == ["cloud_b", "local_a", "lan_box", "local_c"]


def test_mode_that_empties_a_route_warns() -> None:
    text = "mode: api\nengines: {a: {capability: llm, engine: fake}}\nroutes: {llm: [a]}\n"
    resolved = resolve(text)
    assert resolved.chains[Capability.LLM] == []
    assert "leaves no engine" in resolved.warnings[0]


def test_missing_engine_lists_what_exists() -> None:
    text = "engines:\n  x: {capability: stt, engine: whisperz}\n"
    with pytest.raises(ConfigError) as caught:
        resolve(text)
    issue = caught.value.issues[0]
    assert issue.path == "engines.x.engine"
    assert "whisperz" in issue.message and "fake" in issue.message


def test_missing_engine_mentions_failed_plugins() -> None:
    failing = catalog()
    failing.failures.append(
        PluginFailure("stt_whisper", "import failed: ModuleNotFoundError('faster_whisper')")
    )
    text = "engines:\n  x: {capability: stt, engine: faster_whisper}\n"
    with pytest.raises(ConfigError) as caught:
        resolve_config(load_config_text(text), failing)
    assert "stt_whisper" in caught.value.issues[0].message
    assert "faster_whisper" in caught.value.issues[0].message


def test_engine_settings_are_validated_with_their_path_and_line() -> None:
    text = (
        "engines:\n  a:\n    capability: llm\n    engine: fake\n"
        "    settings:\n      chunks: many\n      colour: red\n"
    )
    with pytest.raises(ConfigError) as caught:
        resolve(text)
    paths = {i.path: i for i in caught.value.issues}
    assert paths["engines.a.settings.chunks"].line == 6
    assert paths["engines.a.settings.colour"].line == 7
    assert "unknown key" in paths["engines.a.settings.colour"].message


def test_route_errors_are_all_reported() -> None:
    text = """\
engines:
  a: {capability: llm, engine: fake}
  t: {capability: tts, engine: fake}
routes:
  llm: [a, ghost, t, a]
aliases:
  whisper-1: nowhere
policy:
  engines:
    phantom: {max_concurrency: 2}
"""
    messages = refusals(text)
    assert "unknown engine 'ghost'" in messages["routes.llm.1"]
    assert "tts engine" in messages["routes.llm.2"]
    assert "listed twice" in messages["routes.llm.3"]
    assert "neither a route nor an engine" in messages["aliases.whisper-1"]
    assert messages["policy.engines.phantom"] == "unknown engine"


def test_engine_may_not_shadow_a_route() -> None:
    with pytest.raises(ConfigError):
        resolve("engines:\n  llm: {capability: llm, engine: fake}\n")


def test_fingerprint_tracks_what_is_loaded() -> None:
    base = (
        "engines:\n  a: {capability: llm, engine: fake, settings: {reply: x}%s}\n"
        "routes: {llm: [a]}\n"
    )
    first = resolve(base % "").engines["a"].fingerprint
    same = resolve(base % ", keep_alive: 10").engines["a"].fingerprint
    changed = resolve((base % "").replace("reply: x", "reply: y")).engines["a"].fingerprint
    assert first == same
    assert first != changed


EXPOSED = """\
server: {host: 0.0.0.0}
engines: {a: {capability: llm, engine: fake}}
routes: {llm: [a]}
"""


def test_binding_every_address_without_api_keys_is_warned_about(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("VOXGATE_API_KEYS", raising=False)
    warnings = resolve(EXPOSED).warnings
    assert any("0.0.0.0" in w and "VOXGATE_API_KEYS" in w for w in warnings), warnings
    monkeypatch.setenv("VOXGATE_API_KEYS", "k")
    assert resolve(EXPOSED).warnings == []
    monkeypatch.delenv("VOXGATE_API_KEYS")
    assert resolve(EXPOSED.replace("0.0.0.0", "127.0.0.1")).warnings == []


def test_engines_no_route_or_alias_uses_are_refused() -> None:
    text = """\
engines:
  a: {capability: llm, engine: fake}
  voice: {capability: tts, engine: fake}
routes: {llm: [a]}
"""
    with pytest.raises(ConfigError) as caught:
        resolve(text)
    assert [i.path for i in caught.value.issues] == ["routes.tts"]
    assert "voice" in caught.value.issues[0].message
    # Reached through an alias, an unrouted engine is in use.
    resolve(text + "aliases: {speaker: voice}\n")


def test_an_alias_lists_at_most_one_target_per_capability() -> None:
    text = """\
engines:
  a: {capability: llm, engine: fake}
  b: {capability: llm, engine: fake}
aliases:
  "gpt-*": [a, b]
  "*": []
"""
    messages = refusals(text)
    assert messages["aliases.gpt-*"] == "an alias may name one target per capability"
    assert messages["aliases.*"] == "an alias needs at least one target"
