"""The ``wyoming:`` block: off unless asked for, loopback by default, checked when loaded."""

from __future__ import annotations

import pytest

from core.config import ConfigError, load_config_text, resolve_config
from core.config.schema import AppConfig
from core.plugins import create_plugin_catalog
from tests.support.fake_plugin import FakePlugin

BASE = """\
engines: {a: {capability: tts, engine: fake}}
routes: {tts: [a]}
"""


def warnings(wyoming: str) -> list[str]:
    catalog = create_plugin_catalog(use_entry_points=False, extra={"fakes": FakePlugin()})
    return resolve_config(load_config_text(BASE + wyoming), catalog).warnings


def test_off_and_on_loopback_unless_configured() -> None:
    wyoming = AppConfig().wyoming
    assert not wyoming.enabled
    assert (wyoming.host, wyoming.port) == ("127.0.0.1", 10300)
    assert wyoming.allowed_clients == ["127.0.0.0/8", "::1"]
    assert not wyoming.zeroconf and wyoming.end_of_speech_silence is None


def test_durations_sizes_and_bad_entries() -> None:
    loaded = load_config_text(
        BASE + "wyoming: {idle_timeout: 2m, max_event_bytes: 2MiB, end_of_speech_silence: 700ms}"
    )
    wyoming = loaded.config.wyoming
    assert (wyoming.idle_timeout, wyoming.max_event_bytes) == (120.0, 2 * 1024 * 1024)
    assert wyoming.end_of_speech_silence == pytest.approx(0.7)
    with pytest.raises(ConfigError) as bad:
        load_config_text(BASE + "wyoming: {allowed_clients: [192.168.1.0/24, my-laptop]}")
    assert "wyoming.allowed_clients" in str(bad.value)
    with pytest.raises(ConfigError):
        load_config_text(BASE + "wyoming: {enabled: true, auth: none}")  # a typo is an error


def test_a_listener_open_to_every_address_is_warned_about() -> None:
    open_to_all = "wyoming: {enabled: true, host: 0.0.0.0, allowed_clients: [0.0.0.0/0]}"
    assert any("wyoming.host 0.0.0.0" in w for w in warnings(open_to_all))
    listed = "wyoming: {enabled: true, host: 0.0.0.0, allowed_clients: [192.168.1.20]}"
    assert not any("wyoming" in w for w in warnings(listed))
    loopback = "wyoming: {enabled: true, allowed_clients: ['::/0']}"
    assert not any("wyoming" in w for w in warnings(loopback))
