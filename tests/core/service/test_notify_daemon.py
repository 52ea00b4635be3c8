"""The daemon under a (test) service manager: what it notifies, in which order, and when.

A unix datagram socket stands in for systemd's end of $NOTIFY_SOCKET; the daemon is a real
process on loopback serving the fake test plugin, so each test runs in seconds.
"""

from __future__ import annotations

import itertools
import signal
import statistics
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from core.service.notify import monotonic_usec
from tests.core.service.support import ServiceDaemon
from tests.support import WriteConfig
from tests.support.notify_listener import Notification, notify_listener

CONFIG = """\
reload: {{watch: {watch}, debounce: 0.1}}
engines:
  talk:
    capability: llm
    engine: fake
    preload: true
    settings: {{reply: "{reply}", load_delay: 0.5}}
routes: {{llm: [talk]}}
"""
BROKEN = "engines: {talk: {capability: llm, engine: no_such_engine}}\nroutes: {llm: [talk]}\n"


def kind_is(kind: str) -> Callable[[Notification], bool]:
    return lambda note: note.kind == kind


def chat(daemon: ServiceDaemon) -> str:
    body = {"messages": [{"role": "user", "content": "hi"}]}
    reply = httpx.post(daemon.url + "/v1/chat/completions", json=body, timeout=30).json()
    return str(reply["choices"][0]["message"]["content"])


def test_start_file_change_sighup_and_stop_in_order(write_config: WriteConfig) -> None:
    config = write_config(CONFIG.format(watch="true", reply="first"))
    with notify_listener() as listener:  # an abstract-namespace socket, "@voxgate-test-..."
        daemon = ServiceDaemon(config, {"NOTIFY_SOCKET": listener.address})
        try:
            listener.wait_for(lambda n: n.kind == "READY")
            # READY=1 comes once the preload finished and the port accepts: /readyz agrees.
            assert daemon.get("/readyz").status_code == 200
            status = daemon.get("/control/status").json()
            assert status["engines"]["talk"]["state"] == "ready"

            seen = len(listener.received)
            config.write_text(CONFIG.format(watch="true", reply="edited"))
            listener.wait_for(lambda n: n.kind == "READY", after=seen)
            assert chat(daemon) == "edited"

            seen = len(listener.received)
            before = monotonic_usec()
            daemon.send(signal.SIGHUP)
            listener.wait_for(lambda n: n.kind == "READY", after=seen)
            after = monotonic_usec()
            assert daemon.stop() == 0
        finally:
            daemon.stop()
        events = listener.events()
    assert [e.kind for e in events] == [
        "STATUS",
        "READY",
        "RELOADING",
        "READY",
        "RELOADING",
        "READY",
        "STOPPING",
    ]
    starting, ready, file_reload, file_done, hup_reload, hup_done, stopping = events
    assert starting.status.startswith("Starting:")
    assert "EXTEND_TIMEOUT_USEC" in starting.fields
    assert ready.status == "Ready: 1/1 engines loaded; routes llm; generation 1"
    assert file_reload.status == "Reloading (file_change)"
    assert file_done.status.endswith("generation 2; last reload (file_change) ok")
    assert hup_reload.status == "Reloading (sighup)"
    assert before <= int(hup_reload.fields["MONOTONIC_USEC"]) <= after
    assert hup_done.status.endswith("generation 3; last reload (sighup) ok")
    assert stopping.status == "Stopping: draining 0 request(s) for up to 30s"


def test_failed_reloads_keep_serving_and_say_why(write_config: WriteConfig, tmp_path: Path) -> None:
    good = CONFIG.format(watch="false", reply="kept")
    config = write_config(good)
    with notify_listener(tmp_path) as listener:  # a socket file this time
        daemon = ServiceDaemon(config, {"NOTIFY_SOCKET": listener.address})
        try:
            listener.wait_for(kind_is("READY"))
            config.write_text(BROKEN)

            seen = len(listener.received)
            daemon.send(signal.SIGHUP)
            hup_failed = listener.wait_for(kind_is("READY"), after=seen)

            seen = len(listener.received)
            response = httpx.post(daemon.url + "/control/reload", timeout=30)
            assert response.status_code == 422
            control_failed = listener.wait_for(kind_is("READY"), after=seen)
            # The old configuration still serves, and the daemon is still ready.
            assert chat(daemon) == "kept"
            assert daemon.get("/readyz").status_code == 200

            config.write_text(good.replace("kept", "fixed"))
            seen = len(listener.received)
            assert httpx.post(daemon.url + "/control/reload", timeout=30).status_code == 200
            fixed = listener.wait_for(kind_is("READY"), after=seen)
            assert chat(daemon) == "fixed"
        finally:
            assert daemon.stop() == 0
        events = listener.events()
    kinds = [e.kind for e in events]
    assert kinds == ["STATUS", "READY"] + ["RELOADING", "READY"] * 3 + ["STOPPING"]
    assert [e.status for e in events if e.kind == "RELOADING"] == [
        "Reloading (sighup)",
        "Reloading (control)",
        "Reloading (control)",
    ]
    problem = "engines.talk.engine: no llm engine named 'no_such_engine'"
    assert "generation 1; last reload (sighup) FAILED: " + problem in hup_failed.status
    assert "generation 1; last reload (control) FAILED: " + problem in control_failed.status
    assert fixed.status.endswith("generation 2; last reload (control) ok")


def test_a_daemon_that_cannot_serve_is_not_ready_and_says_why(write_config: WriteConfig) -> None:
    broken = (
        "reload: {watch: false}\n"
        "engines: {talk: {capability: llm, engine: fake, preload: true, "
        "settings: {fail_load: %s}}}\n"
        "routes: {llm: [talk]}\n"
    )
    config = write_config(broken % "true")
    with notify_listener() as listener:
        daemon = ServiceDaemon(config, {"NOTIFY_SOCKET": listener.address})
        try:
            not_ready = listener.wait_for(lambda n: n.status.startswith("Not ready"))
            readyz = daemon.get("/readyz")
            assert readyz.status_code == 503
            reason = (
                "llm: no engine can serve "
                "(talk failed to load: EngineUnavailable: fake model file missing)"
            )
            assert readyz.json()["reasons"] == [reason]
            assert not_ready.status == "Not ready: " + reason
            assert "READY" not in [n.kind for n in listener.received]

            config.write_text(broken % "false")
            daemon.send(signal.SIGHUP)
            ready = listener.wait_for(kind_is("READY"))
            assert daemon.get("/readyz").status_code == 200
        finally:
            assert daemon.stop() == 0
        kinds = [e.kind for e in listener.events()]
    # Never ready before, so the reload is part of starting: no RELOADING=1.
    assert kinds == ["STATUS", "STATUS", "READY", "STOPPING"]
    assert ready.status.startswith("Ready: 1/1 engines loaded; routes llm; generation 2")


WATCHED = """\
reload: {watch: false}
engines:
  talk: {capability: llm, engine: fake}
  stall: {capability: embeddings, engine: fake, settings: {block_loop: 3.0}}
routes: {llm: [talk], embeddings: [stall]}
"""


def pings(notes: list[Notification], start: float, end: float) -> list[float]:
    return [n.at for n in notes if n.kind == "WATCHDOG" and start <= n.at <= end]


def test_watchdog_pings_at_half_the_interval_and_stop_while_the_loop_is_blocked(
    write_config: WriteConfig,
) -> None:
    config = write_config(WATCHED)
    env = {"WATCHDOG_USEC": "400000"}  # systemd's WatchdogSec=0.4: a ping every 0.2 s
    with notify_listener() as listener:
        daemon = ServiceDaemon(config, {"NOTIFY_SOCKET": listener.address, **env})
        try:
            ready = listener.wait_for(kind_is("READY"))
            time.sleep(1.5)
            steady_end = time.monotonic()

            # Loading "stall" holds the event loop for 3 s (time.sleep inside the loop).
            blocked_from = time.monotonic()
            call = threading.Thread(
                target=httpx.post,
                args=(daemon.url + "/v1/embeddings",),
                kwargs={"json": {"model": "stall", "input": "x"}, "timeout": 30},
            )
            call.start()
            call.join(30)
            blocked_to = time.monotonic()
            time.sleep(1.0)
            end = time.monotonic()
        finally:
            assert daemon.stop() == 0
        notes = listener.received

    # Arrival times carry this process's own scheduling delays on a busy machine, so the
    # interval is judged by the median gap, and the stall by a gap far longer than any delay.
    steady = pings(notes, ready.at, steady_end)
    gaps = [b - a for a, b in itertools.pairwise(steady)]
    assert len(steady) >= 5, gaps
    assert 0.15 <= statistics.median(gaps) <= 0.4, gaps  # half of WATCHDOG_USEC: 0.2 s

    every = pings(notes, ready.at, end)
    gaps = [b - a for a, b in itertools.pairwise(every)]
    longest = max(gaps)
    assert longest >= 2.5, f"pings went on while the loop was blocked: {gaps}"
    gap_start = every[gaps.index(longest)]
    assert blocked_from - 1.0 <= gap_start <= blocked_to, (blocked_from, gap_start, blocked_to)
    # Once the loop runs again, so do the pings.
    assert len(pings(notes, blocked_to, end)) >= 3, gaps


def test_an_invalid_config_fails_the_start_with_the_reason(write_config: WriteConfig) -> None:
    config = write_config(BROKEN)
    with notify_listener() as listener:
        daemon = ServiceDaemon(config, {"NOTIFY_SOCKET": listener.address})
        assert daemon.process.wait(60) == 78  # EX_CONFIG: the unit does not restart on it
        events = listener.events()
    assert [e.kind for e in events] == ["STATUS", "STATUS", "STOPPING"]
    assert events[1].status.startswith(
        f"Failed to start: invalid configuration {config}; "
        "line 1: engines.talk.engine: no llm engine named 'no_such_engine'"
    )
