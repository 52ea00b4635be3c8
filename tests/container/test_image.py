"""The Containerfile, built with podman on a Debian base image made here (no registry), run as a
container and driven with the openai client: speech, transcription, chat and embeddings from the
shipped config, health from /readyz, a non-root daemon writing only to its data volume, and a
clean exit on ``podman stop``. Slow (minutes): ``make test-container`` runs it, ``make test``
leaves it out.
"""

from __future__ import annotations

import io
import json
import re
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import openai
import pytest
import soundfile as sf

from tests.container.podman import (
    Podman,
    base_image,
    ca_bundle,
    engine_config,
    require_tools,
    wheels_context,
)
from tests.support.daemon import free_port
from tests.support.plugin_dist import REPO_ROOT

# Building from nothing takes about 12 minutes on 2 cores (debootstrap, 2.4 GB of wheels).
pytestmark = [pytest.mark.container, pytest.mark.timeout(3600)]

IMAGE = "localhost/voxgate:test"
#: The shipped config preloads Whisper, hibari and SmolLM2 before /readyz says ready.
READY_TIMEOUT = 300.0
#: Longer than the daemon's drain (server.drain_timeout, 30 s): a stop that needs SIGKILL shows.
STOP_TIMEOUT = 40


def words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", text.lower())


@pytest.fixture(scope="module")
def podman(tmp_path_factory: pytest.TempPathFactory) -> Podman:
    require_tools()
    return Podman(engine_config(tmp_path_factory.mktemp("podman")))


@pytest.fixture(scope="module")
def image(podman: Podman, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The image, built from the checkout. It stays in podman's store (as the base image does),
    so the next run rebuilds only what changed; ``podman rmi localhost/voxgate:test`` drops it."""
    base = base_image(podman)
    work = tmp_path_factory.mktemp("build")
    wheels, llama_flags = wheels_context(work / "wheels")
    args = [
        "build",
        "--format=docker",  # OCI images have no HEALTHCHECK
        f"--tag={IMAGE}",
        f"--file={REPO_ROOT / 'Containerfile'}",
        f"--build-arg=BASE={base}",
        f"--build-arg=LLAMA_CMAKE_ARGS={llama_flags}",
        f"--build-context=wheels={wheels}",
    ]
    bundle = ca_bundle()
    if bundle is not None:
        args.append(f"--secret=id=ca_bundle,src={bundle}")
    log = work / "build.log"
    code = podman.logged([*args, str(REPO_ROOT)], log, timeout=3000)
    assert code == 0, f"podman build failed:\n{log.read_text(errors='replace')[-6000:]}"
    return IMAGE


@dataclass
class Running:
    name: str
    volume: str
    url: str


def _wait_ready(podman: Podman, running: Running) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    reason = "no answer yet"
    while time.monotonic() < deadline:
        state = podman("inspect", "--format={{.State.Status}}", running.name).stdout.strip()
        if state != "running":
            logs = podman("logs", running.name, check=False)
            pytest.fail(f"the container is {state}:\n{(logs.stdout + logs.stderr)[-4000:]}")
        try:
            ready = httpx.get(running.url + "/readyz", timeout=10)
        except httpx.HTTPError as error:
            reason = repr(error)
        else:
            if ready.status_code == 200:
                return
            reason = ready.text
        time.sleep(1)
    pytest.fail(f"not ready after {READY_TIMEOUT:.0f} s: {reason}")


@pytest.fixture(scope="module")
def running(podman: Podman, image: str) -> Iterator[Running]:
    """The image run as shipped: a named volume for the data, a read-only root file system (so
    a write anywhere but the volume fails), the API on a loopback port of this machine."""
    name = f"voxgate-test-{uuid.uuid4().hex[:8]}"
    started = Running(name, f"{name}-data", f"http://127.0.0.1:{free_port()}")
    podman(
        "run",
        "--detach",
        f"--name={name}",
        f"--volume={started.volume}:/var/lib/voxgate",
        "--read-only",
        f"--publish=127.0.0.1:{started.url.rsplit(':', 1)[1]}:8765",
        f"--stop-timeout={STOP_TIMEOUT}",
        image,
    )
    try:
        _wait_ready(podman, started)
        yield started
    finally:
        podman("rm", "--force", "--time=0", name, check=False)
        podman("volume", "rm", "--force", started.volume, check=False)


@pytest.fixture(scope="module")
def client(running: Running) -> openai.OpenAI:
    return openai.OpenAI(base_url=running.url + "/v1", api_key="unused", max_retries=0)


def test_the_image_runs_its_daemon_unprivileged_in_exec_form(podman: Podman, image: str) -> None:
    inspected = json.loads(podman("image", "inspect", image).stdout)[0]
    config = inspected["Config"]
    assert config["User"] == "voxgate"
    assert config["Entrypoint"] == ["/opt/voxgate/bin/voxgate"]  # no shell before the daemon
    assert config["Cmd"] == ["serve"]
    assert "/var/lib/voxgate" in config["Volumes"]
    assert inspected["Healthcheck"]["Test"] == [  # podman shows it beside Config
        "CMD",
        "/opt/voxgate/bin/python",
        "-m",
        "core.service.probe",
    ]


def test_the_daemon_is_pid_1_as_voxgate_and_healthy(podman: Podman, running: Running) -> None:
    status = podman("exec", running.name, "cat", "/proc/1/status").stdout
    assert re.search(r"^Uid:\s+10001\s", status, re.MULTILINE), status
    cmdline = podman("exec", running.name, "cat", "/proc/1/cmdline").stdout.split("\0")
    assert cmdline[1:3] == ["/opt/voxgate/bin/voxgate", "serve"]  # python running the script
    health = podman("healthcheck", "run", running.name, check=False)
    assert health.returncode == 0, health.stdout + health.stderr


def test_speech_transcription_and_chat(client: openai.OpenAI) -> None:
    sentence = "The quick brown fox jumps over the lazy dog."
    speech = client.audio.speech.create(
        model="tts-1", voice="alloy", input=sentence, response_format="wav"
    )
    audio, rate = sf.read(io.BytesIO(speech.content))
    assert rate == 24000 and len(audio) > rate
    text = client.audio.transcriptions.create(
        model="whisper-1", file=("fox.wav", speech.content, "audio/wav")
    ).text
    assert words(text) == words(sentence)
    reply = client.chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "Say hello."}], max_tokens=16
    )
    assert reply.headers["x-voxgate-engine"] == "smollm2"
    assert reply.parse().choices[0].message.content


def test_the_data_volume_takes_what_the_daemon_writes(
    podman: Podman, running: Running, client: openai.OpenAI
) -> None:
    # MiniLM's first use exports it for onnxruntime into the data directory, the one place the
    # read-only container may write.
    result = client.embeddings.create(model="text-embedding-3-small", input=["hello", "world"])
    assert [len(item.embedding) for item in result.data] == [384, 384]
    listing = podman("exec", running.name, "find", "/var/lib/voxgate", "-name", "*.onnx").stdout
    assert listing.strip(), "no exported model in the data volume"
    owners = podman(
        "exec", running.name, "find", "/var/lib/voxgate", "!", "-user", "voxgate"
    ).stdout
    assert owners == ""


def test_podman_stop_drains_and_exits_zero(
    podman: Podman, running: Running, client: openai.OpenAI
) -> None:
    """SIGTERM reaches the daemon (PID 1): a stream under way finishes, the daemon exits 0. A
    shell in between would ignore the signal until podman's SIGKILL: exit code 137."""
    stream = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "Count from one to fifty in words."}],
        max_tokens=200,
        stream=True,
    )
    chunks = iter(stream)
    first = next(chunks)
    stopper = threading.Thread(target=podman, args=("stop", running.name))
    stopper.start()
    rest = list(chunks)
    stopper.join(STOP_TIMEOUT + 30)
    finish = [c.choices[0].finish_reason for c in [first, *rest] if c.choices]
    assert finish[-1] in {"stop", "length"}
    state = json.loads(podman("inspect", running.name).stdout)[0]["State"]
    assert (state["Status"], state["ExitCode"]) == ("exited", 0)
    logs = podman("logs", running.name)
    assert "server.stopped" in logs.stdout + logs.stderr
