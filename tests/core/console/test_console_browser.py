"""The web console end to end: a real daemon on the shipped config, driven in headless Chromium.

Chromium is Debian's (``make browser-tools``), driven by Playwright; its fake microphone plays a
WAV of real speech, so the live conversation goes through /v1/realtime like a person talking.
Screenshots of each section are kept beside the daemon's log: in pytest's temporary folder, or
under ``$VOXGATE_TEST_ARTIFACTS/console`` when that is set (for CI to keep).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from playwright.sync_api import (
    Browser,
    ConsoleMessage,
    Page,
    WebSocketRoute,
    expect,
    sync_playwright,
)

from tests.support.daemon import Daemon
from tests.support.plugin_dist import REPO_ROOT
from tests.support.speech import at_rate, joined, quiet, speech

SHIPPED = REPO_ROOT / "config" / "ai_backend.yaml"
#: Only in the daemon's environment: the page must never show it.
SECRET = "sk-console-test-not-shown-0451"
QUESTION = "What is the capital of France?"
#: Chromium plays its fake microphone at this rate.
MIC_RATE = 48_000


def _write_wav(path: Path, samples: np.ndarray, rate: int) -> Path:
    pcm = (np.clip(samples, -1, 1) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(pcm.tobytes())
    return path


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Screenshots and the daemon's log; CI keeps them from $VOXGATE_TEST_ARTIFACTS."""
    artifacts = os.environ.get("VOXGATE_TEST_ARTIFACTS")
    if artifacts:
        kept = Path(artifacts) / "console"
        kept.mkdir(parents=True, exist_ok=True)
        return kept
    return tmp_path_factory.mktemp("console")


@pytest.fixture(scope="module")
def daemon(folder: Path) -> Iterator[Daemon]:
    env = {"VOXGATE_DATA_DIR": str(folder / "data"), "OPENAI_API_KEY": SECRET}
    running = Daemon(SHIPPED, env, log=folder / "daemon.log")
    try:
        yield running
    finally:
        assert running.stop() == 0


@pytest.fixture(scope="module")
def browser(folder: Path) -> Iterator[Browser]:
    chromium = shutil.which("chromium")
    assert chromium, "Debian's chromium is missing: run `make browser-tools`"
    # The fake microphone: a pause, the question, then silence long enough for the reply.
    mic = joined(quiet(1.0, MIC_RATE), at_rate(speech(QUESTION), MIC_RATE), quiet(20.0, MIC_RATE))
    wav = _write_wav(folder / "microphone.wav", mic.samples, MIC_RATE)
    # Engines load on first use (embeddings, documents): waits are long, none is a timing test.
    expect.set_options(timeout=60_000)
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=chromium,
            args=[
                "--use-fake-ui-for-media-stream",
                "--use-fake-device-for-media-stream",
                f"--use-file-for-fake-audio-capture={wav}%noloop",
                "--autoplay-policy=no-user-gesture-required",
            ],
        )
        try:
            yield launched
        finally:
            launched.close()


class Console:
    """One page of the console, recording every console error the page logs."""

    def __init__(self, page: Page, url: str, folder: Path) -> None:
        self.page = page
        self.url = url
        self.folder = folder
        self.errors: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.errors.append(f"pageerror: {error}"))

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.errors.append(message.text)

    def open(self, section: str) -> Page:
        self.page.goto(self.url + "/")
        self.page.get_by_role("tab", name=section).click()
        return self.page

    def shot(self, name: str) -> None:
        self.page.screenshot(path=str(self.folder / f"{name}.png"), full_page=True)


@pytest.fixture
def console(browser: Browser, daemon: Daemon, folder: Path) -> Iterator[Console]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(60_000)
    opened = Console(page, daemon.url, folder)
    try:
        yield opened
        assert opened.errors == [], f"console errors: {opened.errors}"
    finally:
        context.close()


def _unlabelled(page: Page) -> list[Any]:
    """Form controls that a screen reader could not name (no <label for>, no aria-label)."""
    found: list[Any] = page.evaluate(
        """() => [...document.querySelectorAll('input, select, textarea')]
            .filter((node) => !(node.labels && node.labels.length)
                && !node.getAttribute('aria-label') && !node.closest('label'))
            .map((node) => node.id || node.outerHTML)"""
    )
    return found


def test_root_redirects_and_status_tables_fill_in(console: Console, daemon: Daemon) -> None:
    page = console.open("Status")
    assert page.url == daemon.url + "/console/#status"
    engines = page.locator("#engines tbody tr")
    for name in ("whisper", "hibari", "smollm2"):
        row = page.locator(f'#engines tbody tr[data-engine="{name}"]')
        expect(row).to_contain_text("ready")
    expect(engines.filter(has_text="openai_chat")).to_contain_text("cloud")
    tts = page.locator('#chains tbody tr[data-capability="tts"]')
    expect(tts).to_contain_text("hibari")
    expect(tts).to_contain_text("edge")
    # Live updates: a request made elsewhere shows up in traffic and routing without a reload.
    page.request.post(daemon.url + "/v1/embeddings", data={"model": "embeddings", "input": "hello"})
    expect(page.locator("#decisions tbody")).to_contain_text("minilm", timeout=15_000)
    expect(page.locator("#traffic tbody")).to_contain_text("/v1/embeddings", timeout=15_000)
    assert _unlabelled(page) == []
    console.shot("status")


def test_sections_switch_from_the_keyboard(console: Console) -> None:
    page = console.open("Status")
    page.get_by_role("tab", name="Status").focus()
    page.keyboard.press("ArrowRight")
    configuration = page.get_by_role("tab", name="Configuration")
    expect(configuration).to_be_focused()
    expect(configuration).to_have_attribute("aria-selected", "true")
    expect(page.locator("#config")).to_be_visible()
    expect(page.locator("#status")).to_be_hidden()
    page.keyboard.press("End")
    expect(page.get_by_role("tab", name="Playground")).to_be_focused()
    expect(page.locator("#playground")).to_be_visible()


def test_phone_width_keeps_the_page_usable(console: Console) -> None:
    page = console.page
    page.set_viewport_size({"width": 390, "height": 844})
    console.open("Playground")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page scrolls sideways on a phone ({width}px)"
    console.shot("playground-phone")


def test_config_check_points_at_the_broken_line_and_reload_reports(console: Console) -> None:
    page = console.open("Configuration")
    editor = page.get_by_label("Configuration text (YAML)")
    expect(editor).not_to_have_value("")
    text = editor.input_value()
    lines = text.splitlines()
    broken = next(n for n, line in enumerate(lines, 1) if line.strip() == "port: 8765")
    editor.fill(text.replace("  port: 8765", "  prot: 8765", 1))
    page.get_by_role("button", name="Check").click()
    issue = page.locator(f'#config-result li[data-line="{broken}"]')
    expect(issue).to_contain_text(f"line {broken}")
    expect(issue).to_contain_text("server.prot")
    # Jumping to the line selects it in the editor.
    issue.get_by_role("button").click()
    selected = page.evaluate(
        "() => { const t = document.getElementById('config-text');"
        " return t.value.slice(t.selectionStart, t.selectionEnd); }"
    )
    assert selected.strip() == "prot: 8765"
    console.shot("config-error")

    page.get_by_role("button", name="Revert to the file").click()
    page.get_by_role("button", name="Check").click()
    expect(page.locator("#config-result")).to_contain_text("OK (mode hybrid)")
    page.get_by_role("button", name="Reload the daemon from its file").click()
    expect(page.locator("#config-result")).to_contain_text("Reloaded")
    assert SECRET not in page.content()
    page.locator("summary", has_text="Resolved values").click()
    expect(page.locator("#resolved")).to_contain_text('"api_key_env": "OPENAI_API_KEY"')
    assert SECRET not in page.locator("#resolved").inner_text()


def test_speak_plays_streamed_audio(console: Console) -> None:
    page = console.open("Playground")
    page.get_by_label("Engine", exact=True).select_option("hibari")
    voice = page.get_by_label("Voice", exact=True)
    voice.select_option(index=1)
    chosen = voice.input_value()
    assert chosen
    page.get_by_role("button", name="Speak").click()
    audio = page.locator("#speak-audio")
    expect(audio).to_have_attribute("data-state", "ready")
    expect(audio).to_have_attribute("data-engine", "hibari")
    # The element holds seconds of audio and its playback moves.
    page.wait_for_function(
        "() => { const a = document.getElementById('speak-audio');"
        " return a.buffered.length > 0 && a.buffered.end(0) > 1 && a.currentTime > 0.2; }"
    )
    expect(page.locator("#speak-info")).to_contain_text(f"voice {chosen};")
    expect(page.locator("#speak-info")).to_contain_text("(streamed)")


def test_transcribe_an_uploaded_wav(console: Console, folder: Path) -> None:
    sentence = "The weather is lovely today, so we are going to the park."
    chunk = speech(sentence)
    wav = _write_wav(folder / "upload.wav", chunk.samples, chunk.sample_rate)
    page = console.open("Playground")
    page.get_by_label("Audio file").set_input_files(str(wav))
    page.get_by_role("button", name="Transcribe").click()
    expect(page.locator("#transcript")).to_contain_text("weather")
    expect(page.locator("#transcribe-info")).to_contain_text("whisper")


def test_record_from_the_microphone_and_transcribe(console: Console) -> None:
    page = console.open("Playground")
    page.get_by_role("button", name="Record").click()
    expect(page.locator("#transcribe-info")).to_contain_text("Recording")
    page.wait_for_timeout(4_000)  # the fake microphone's pause and question
    page.get_by_role("button", name="Stop recording").click()
    expect(page.locator("#transcribe-info")).to_contain_text("Recorded")
    page.get_by_role("button", name="Transcribe").click()
    expect(page.locator("#transcript")).to_contain_text("capital")


def test_chat_streams_a_reply(console: Console) -> None:
    page = console.open("Playground")
    page.get_by_label("Message", exact=True).fill("Say hello in one short sentence.")
    page.get_by_role("button", name="Send").click()
    expect(page.locator("#chat-info")).to_contain_text("first token after")
    expect(page.locator("#chat-info")).to_contain_text("smollm2")
    reply = page.locator("#chat-log .message.assistant .text")
    assert reply.inner_text().strip()


def test_documents_answer_with_citations(console: Console) -> None:
    page = console.open("Playground")
    page.get_by_label("Document id").fill("lighthouse")
    page.get_by_label("Document text").fill(
        "The old lighthouse on Gull Island was painted green in 1987 by the harbour volunteers."
    )
    page.get_by_role("button", name="Add document").click()
    expect(page.locator("#rag-info")).to_contain_text("Added lighthouse")
    page.get_by_label("Question", exact=True).fill("What colour is the lighthouse on Gull Island?")
    page.get_by_role("button", name="Ask").click()
    citation = page.locator("#rag-citations li").first
    expect(citation).to_contain_text("lighthouse")
    expect(citation).to_contain_text("green")
    expect(page.locator("#rag-info")).to_contain_text("answered by smollm2")
    assert page.locator("#rag-answer").inner_text().strip()
    console.shot("playground")


def test_live_conversation_over_realtime_with_barge_in(console: Console) -> None:
    page = console.page
    # Watch what the page sends (all of it still reaches the daemon) so barge-in can be seen.
    sent: list[dict[str, Any]] = []
    sockets: list[WebSocketRoute] = []

    def relay(socket: WebSocketRoute) -> None:
        server = socket.connect_to_server()

        def from_page(message: str | bytes) -> None:
            event = json.loads(message)
            if event["type"] != "input_audio_buffer.append":
                sent.append(event)
            server.send(message)

        socket.on_message(from_page)
        sockets.append(socket)

    page.route_web_socket(re.compile(r".*/v1/realtime.*"), relay)
    console.open("Playground")
    page.get_by_role("button", name="Start").click()
    turn = page.locator("#live-turns tbody tr.turn").first
    expect(turn.locator(".user")).to_contain_text("capital", timeout=90_000)
    expect(turn.locator(".reply")).not_to_be_empty(timeout=90_000)
    expect(turn.locator(".latency")).to_contain_text("ms", timeout=90_000)
    expect(turn.locator(".engines")).to_contain_text("llm: smollm2", timeout=30_000)
    expect(turn.locator(".engines")).to_contain_text("tts: hibari")
    console.shot("live")

    # The user starts speaking while the reply plays: the page stops playback at once and tells
    # the daemon how much of the reply was heard. (The event is the daemon's, sent on its behalf:
    # real overlapping speech would depend on how fast this machine answers.)
    page.wait_for_function(
        "() => document.getElementById('live-state').textContent.startsWith('Answering')"
    )
    page.wait_for_timeout(300)  # some of the reply has been heard
    sockets[0].send(
        json.dumps(
            {
                "type": "input_audio_buffer.speech_started",
                "event_id": "event_console_test",
                "item_id": "item_console_test",
                "audio_start_ms": 0,
            }
        )
    )
    expect(turn).to_have_class(re.compile("interrupted"))
    truncate = next(e for e in sent if e["type"] == "conversation.item.truncate")
    assert truncate["content_index"] == 0
    assert truncate["item_id"].startswith("item")
    assert truncate["audio_end_ms"] > 0
    page.get_by_role("button", name="Stop").click()
    expect(page.locator("#live-state")).to_contain_text("Stopped")
