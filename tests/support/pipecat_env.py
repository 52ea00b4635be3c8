"""pipecat, a voice-bot framework that talks to voxgate through its OpenAI services, in an
environment of its own: it pins versions of soundfile, soxr and protobuf that differ from the
project's. Built once from the package registry into a cache folder and reused (about 500 MB);
``$VOXGATE_TEST_PIPECAT_PYTHON`` names an existing interpreter instead."""

from __future__ import annotations

from pathlib import Path

from core.workers.environment import WorkerEnvironment
from core.workers.install import install_environment
from tests.support.cached_envs import cached_env_folder, given_python

PIPECAT = WorkerEnvironment(
    name="pipecat-client",
    requirements=("pipecat-ai[openai]==1.14.0",),
    imports=("pipecat.services.openai.llm", "pipecat.services.openai.realtime.llm"),
    description="pipecat 1.14 and its OpenAI services, as a client of the daemon",
)

#: Run with the environment's Python: ``pipecat_checks.py BASE_URL CHECK``.
CHECKS = Path(__file__).with_name("pipecat_checks.py")


def pipecat_python() -> Path:
    given = given_python("VOXGATE_TEST_PIPECAT_PYTHON")
    return given or install_environment(PIPECAT, cached_env_folder(PIPECAT.name))
