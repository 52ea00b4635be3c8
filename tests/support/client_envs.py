"""Voice-bot frameworks that talk to voxgate through their OpenAI services (pipecat, LiveKit
Agents), each in an environment of its own: they pin versions of soundfile, soxr, protobuf and
more that differ from the project's. Each is built once from the package registry into a cache
folder and reused (400-500 MB); ``$VOXGATE_TEST_PIPECAT_PYTHON`` or
``$VOXGATE_TEST_LIVEKIT_PYTHON`` names an existing interpreter instead."""

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
LIVEKIT = WorkerEnvironment(
    name="livekit-client",
    requirements=("livekit-agents[openai]==1.8.9", "livekit-plugins-openai==1.8.9"),
    imports=("livekit.plugins.openai", "livekit.plugins.openai.realtime"),
    description="LiveKit Agents 1.8 and its OpenAI plugin, as a client of the daemon",
)

#: Run with the environment's Python: ``<script> BASE_URL CHECK``.
PIPECAT_CHECKS = Path(__file__).with_name("pipecat_checks.py")
LIVEKIT_CHECKS = Path(__file__).with_name("livekit_checks.py")


def client_python(env: WorkerEnvironment, variable: str) -> Path:
    """The interpreter ``variable`` names, or ``env`` built (once) in the test cache."""
    given = given_python(variable)
    return given or install_environment(env, cached_env_folder(env.name))
