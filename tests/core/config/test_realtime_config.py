"""The realtime block: profiles, the model names that pick them, and their engine names checked
against the config."""

from __future__ import annotations

import pytest

from core.config import ConfigError, load_config_text, resolve_config
from core.config.schema import SemanticVadSettings
from core.plugins import create_plugin_catalog
from tests.support.fake_plugin import FakePlugin

BASE = """\
engines:
  ears: {capability: stt, engine: fake}
  brain: {capability: llm, engine: fake}
  mouth: {capability: tts, engine: fake}
routes: {stt: [ears], llm: [brain], tts: [mouth]}
aliases: {gpt-4o-mini: llm}
"""


def resolve(extra: str):  # type: ignore[no-untyped-def]
    catalog = create_plugin_catalog(use_entry_points=False, extra={"fakes": FakePlugin()})
    return resolve_config(load_config_text(BASE + extra), catalog)


def test_defaults_need_no_realtime_block() -> None:
    realtime = resolve("").config.realtime
    name, profile = realtime.profile_for("gpt-realtime")
    assert name == "default"
    assert profile.turn_detection is not None and profile.turn_detection.type == "server_vad"
    assert profile.output_lead == 0.5 and not profile.echo_guard.enabled


def test_model_names_pick_profiles() -> None:
    realtime = resolve(
        """\
realtime:
  default_profile: assistant
  profiles:
    assistant: {voice: heart}
    phone:
      llm: gpt-4o-mini
      tts: mouth
      turn_detection: {type: semantic_vad, eagerness: high}
      echo_guard: {enabled: true}
  models: {gpt-realtime: assistant, gpt-realtime-mini: phone}
"""
    ).config.realtime
    assert realtime.profile_for("gpt-realtime-mini")[0] == "phone"
    assert realtime.profile_for("phone")[0] == "phone"
    assert realtime.profile_for("gpt-5-realtime")[0] == "assistant"
    assert realtime.profile_for(None)[0] == "assistant"
    phone = realtime.profiles["phone"]
    assert phone.turn_detection == SemanticVadSettings(eagerness="high")


@pytest.mark.parametrize(
    ("block", "path", "words"),
    [
        (
            "realtime: {profiles: {default: {}, p: {stt: mouth}}}",
            "realtime.profiles.p.stt",
            "tts engine",
        ),
        (
            "realtime: {profiles: {default: {}, p: {llm: tts}}}",
            "realtime.profiles.p.llm",
            "tts route",
        ),
        (
            "realtime: {profiles: {default: {}, p: {vad: nowhere}}}",
            "realtime.profiles.p.vad",
            "neither",
        ),
    ],
)
def test_profile_engines_must_exist_and_fit(block: str, path: str, words: str) -> None:
    with pytest.raises(ConfigError) as caught:
        resolve(block + "\n")
    issues = {i.path: i.message for i in caught.value.issues}
    assert words in issues[path], issues


@pytest.mark.parametrize(
    "block",
    [
        "realtime: {default_profile: missing}",
        "realtime: {models: {gpt-realtime: missing}}",
        "realtime: {profiles: {default: {turn_detection: {type: server_vad, threshold: 2}}}}",
        "realtime: {profiles: {default: {colour: red}}}",
        "realtime: {limits: {max_sessions: 0}}",
    ],
)
def test_bad_realtime_blocks_are_refused(block: str) -> None:
    with pytest.raises(ConfigError):
        resolve(block + "\n")
