"""End to end under a real systemd (the host's, booted in a container): `voxgate service
install` writes the unit and starts it, and systemd's own view shows what the daemon told it:
ready only after a preload longer than the start timeout, reload confirmed, a stalled event loop
killed by the watchdog and restarted, a clean stop, and socket activation on first connection."""

from __future__ import annotations

import contextlib
import json
import os
import sys
from pathlib import Path

import pytest

from core.service.systemd_units import NOTIFY_RELOAD_SINCE
from tests.core.service.container import Container, booted_container, host_paths_for_python
from tests.support.plugin_dist import REPO_ROOT, write_dist_info
from tests.support.systemd_tools import system_manager

WORK = Path("/srv/voxgate-test")  # the work folder, inside the container
CONFIG = """\
reload: {{watch: false}}
server: {{port: 8765, drain_timeout: 5}}
data_dir: {work}/data
engines:
  talk:
    capability: llm
    engine: fake
    preload: true
    settings: {{reply: "{reply}", load_delay: {load}}}
  stall: {{capability: embeddings, engine: fake, settings: {{block_loop: 8.0}}}}
routes: {{llm: [talk], embeddings: [stall]}}
"""
#: For the test only: the fake engines' plugin on the path, and a start timeout shorter than the
#: first preload (the daemon must push it back with EXTEND_TIMEOUT_USEC to start at all).
DROP_IN = """\
[Service]
Environment=PYTHONPATH={work}/site:{repo}
TimeoutStartSec=6
"""

pytestmark = pytest.mark.skipif(
    sys.platform.startswith("linux") and os.geteuid() != 0,
    reason="booting a container with systemd-nspawn needs root",
)


def service_container(
    log: Path, units: Path, work: Path, manager: Path | None = None
) -> contextlib.AbstractContextManager[Container]:
    """A booted container where ``units`` is the system unit folder and ``work`` is ``WORK``;
    the host's /etc, the interpreter and the checkout are read-only."""
    read_only = [Path("/etc"), *host_paths_for_python(), REPO_ROOT]
    writable = {units: Path("/etc/systemd/system"), work: WORK}
    return booted_container(log, read_only=read_only, writable=writable, manager=manager)


def voxgate(box: Container, *args: str) -> str:
    result = box.run(sys.executable, "-m", "core.cli.main", *args, cwd=REPO_ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def install_system_service(box: Container, *options: str) -> str:
    """``voxgate service install --system`` for the config in the work folder."""
    return voxgate(
        box, "service", "install", "--system", "--config", f"{WORK}/config.yaml", *options
    )


def request(box: Container, path: str, body: dict[str, object] | None = None) -> str:
    """An HTTP request from inside the container's network; the reply body, or the error."""
    code = (
        "import httpx, json, sys\n"
        "url, body = sys.argv[1], json.loads(sys.argv[2])\n"
        "try:\n"
        "    r = httpx.post(url, json=body, timeout=30) if body else httpx.get(url, timeout=30)\n"
        "    print(r.status_code, r.text)\n"
        "except httpx.HTTPError as exc:\n"
        "    print('error', type(exc).__name__)\n"
    )
    url = "http://127.0.0.1:8765" + path
    return box.on_its_network(sys.executable, "-c", code, url, json.dumps(body)).stdout.strip()


def chat(box: Container) -> str:
    reply = request(box, "/v1/chat/completions", {"messages": [{"role": "user", "content": "x"}]})
    assert reply.startswith("200 "), reply
    return str(json.loads(reply[4:])["choices"][0]["message"]["content"])


@pytest.mark.parametrize("unit_type", ["notify", "notify-reload"])
def test_systemd_runs_the_installed_service(tmp_path: Path, unit_type: str) -> None:
    # notify-reload needs systemd 253: where the host's is older, an unpacked newer build boots.
    manager = system_manager(NOTIFY_RELOAD_SINCE if unit_type == "notify-reload" else 0)
    units, work = tmp_path / "units", tmp_path / "work"
    (units / "voxgate.service.d").mkdir(parents=True)
    (units / "voxgate.service.d" / "test.conf").write_text(
        DROP_IN.format(work=WORK, repo=REPO_ROOT)
    )
    write_dist_info(
        work / "site", "voxgate-test-fakes", {"fakes": "tests.support.fake_plugin:PLUGIN"}
    )
    config = work / "config.yaml"
    config.write_text(CONFIG.format(work=WORK, reply="from systemd", load=9.0))
    with service_container(tmp_path / "boot.log", units, work, manager) as box:
        # `enable --now` returns once the daemon sent READY=1: after a 9 s preload, past a
        # 6 s start timeout that EXTEND_TIMEOUT_USEC kept pushing back.
        out = install_system_service(box, "--watchdog", "3", "--type", unit_type)
        assert "run systemctl enable --now voxgate.service" in out
        shown = box.show("voxgate.service", "ActiveState", "Type", "StatusText", "NRestarts")
        assert shown == {
            "ActiveState": "active",
            "Type": unit_type,
            "StatusText": "Ready: 1/2 engines loaded; routes llm, embeddings; generation 1",
            "NRestarts": "0",
        }
        status = box.run("systemctl", "status", "--no-pager", "voxgate.service").stdout
        assert 'Status: "Ready: 1/2 engines loaded' in status
        assert chat(box) == "from systemd"

        # systemctl reload: SIGHUP, RELOADING=1, READY=1; the status line says how it went.
        # With notify-reload systemctl waits for READY=1, so the outcome shows at once.
        def reload(outcome: str) -> None:
            assert box.run("systemctl", "reload", "voxgate.service").returncode == 0
            if unit_type == "notify-reload":
                status = box.show("voxgate.service", "StatusText")["StatusText"]
                assert status.startswith(ready + outcome)
            box.wait_until(
                "voxgate.service",
                StatusText=lambda status: status.startswith(ready + outcome),
                ActiveState="active",
            )

        ready = "Ready: 1/2 engines loaded; routes llm, embeddings; "
        config.write_text(CONFIG.format(work=WORK, reply="reloaded", load=0.2))
        reload("generation 2; last reload (sighup) ok")
        assert chat(box) == "reloaded"
        config.write_text("engines: {talk: {capability: llm, engine: no_such_engine}}\n")
        reload(
            "generation 2; last reload (sighup) FAILED: "
            "engines.talk.engine: no llm engine named 'no_such_engine'"
        )
        assert chat(box) == "reloaded"  # the old configuration goes on serving
        config.write_text(CONFIG.format(work=WORK, reply="reloaded", load=0.2))
        if unit_type == "notify-reload":
            return  # what follows does not depend on the unit type: the notify run covers it

        # Loading "stall" blocks the event loop for 8 s: the pings stop, the 3 s watchdog fires,
        # systemd kills the daemon and (Restart=on-failure) starts it again.
        assert request(box, "/v1/embeddings", {"model": "stall", "input": "x"}).startswith("error")
        box.wait_until("voxgate.service", NRestarts="1", ActiveState="active")
        journal = box.run("journalctl", "--no-pager", "-u", "voxgate.service").stdout
        assert "Watchdog timeout (limit 3s)!" in journal
        assert "Failed with result 'watchdog'" in journal
        assert chat(box) == "reloaded"

        # systemctl stop: STOPPING=1, drain, exit 0.
        assert box.run("systemctl", "stop", "voxgate.service").returncode == 0
        shown = box.show("voxgate.service", "ActiveState", "Result", "ExecMainStatus")
        assert shown == {"ActiveState": "inactive", "Result": "success", "ExecMainStatus": "0"}
        out = voxgate(box, "service", "uninstall", "--system")
        assert "remove /etc/systemd/system/voxgate.service" in out
        assert not (units / "voxgate.service").exists()

        # Socket activation: systemd holds the port; the first request starts the daemon.
        out = install_system_service(box, "--socket")
        assert "run systemctl enable --now voxgate.socket" in out
        assert box.show("voxgate.service", "ActiveState") == {"ActiveState": "inactive"}
        assert box.show("voxgate.socket", "ActiveState") == {"ActiveState": "active"}
        assert chat(box) == "reloaded"
        assert box.show("voxgate.service", "ActiveState") == {"ActiveState": "active"}
        journal = box.run("journalctl", "--no-pager", "-u", "voxgate.service").stdout
        assert '"sockets": ["127.0.0.1:8765"]' in journal
        voxgate(box, "service", "uninstall", "--system")
        assert sorted(p.name for p in units.iterdir()) == ["voxgate.service.d"]


ROUND_TRIP = """\
import httpx
url = "http://127.0.0.1:8765"
speech = httpx.post(url + "/v1/audio/speech", timeout=120,
                    json={"input": "Hello from a hardened service.", "response_format": "wav"})
text = httpx.post(url + "/v1/audio/transcriptions", timeout=120,
                  files={"file": ("hello.wav", speech.content, "audio/wav")})
chat = httpx.post(url + "/v1/chat/completions", timeout=120,
                  json={"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 8})
stored = httpx.post(url + "/v1/rag/documents", timeout=120,
                    json={"id": "d1", "text": "The review is on Friday."})
found = httpx.post(url + "/v1/rag/query", timeout=120, json={"question": "When is the review?"})
print(text.json()["text"])
print(chat.status_code, stored.status_code, found.json()["data"][0]["document_id"])
"""


def test_the_shipped_engines_work_inside_the_sandbox(tmp_path: Path) -> None:
    """The shipped config's real engines (Whisper, hibari, SmolLM2, MiniLM + Chroma) under the
    system unit's sandbox: models are read from the environment, the store writes to the data
    directory, and nothing else is writable."""
    units, work = tmp_path / "units", tmp_path / "work"
    units.mkdir()
    work.mkdir()
    (work / "config.yaml").write_text((REPO_ROOT / "config" / "ai_backend.yaml").read_text())
    with service_container(tmp_path / "boot.log", units, work) as box:
        install_system_service(box, "--data-dir", f"{WORK}/data")
        shown = box.show("voxgate.service", "ActiveState", "StatusText")
        assert shown["ActiveState"] == "active"
        assert shown["StatusText"].startswith("Ready: 3/8 engines loaded; routes stt, tts, llm")
        out = box.on_its_network(sys.executable, "-c", ROUND_TRIP, timeout=600)
        assert out.stdout.splitlines() == ["Hello from a hardened service.", "200 201 d1"], (
            out.stdout + out.stderr
        )
        assert any((work / "data").rglob("chroma.sqlite3"))  # the store wrote its data dir
        assert box.run("systemctl", "stop", "voxgate.service").returncode == 0
        assert box.show("voxgate.service", "Result") == {"Result": "success"}
