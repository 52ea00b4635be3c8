"""The extension path: a separately packaged plugin, pip-installed, serves through the daemon."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import openai
import pytest

from tests.support.daemon import daemon_process

PYPROJECT = """\
[build-system]
requires = ["setuptools>=69"]
build-backend = "setuptools.build_meta"

[project]
name = "voxgate-shout"
version = "1.0.0"

[project.entry-points.voxgate]
shout = "voxgate_shout"
"""

INIT = '''\
"""A third-party voxgate plugin: an LLM engine that shouts the last user message back."""
from core.hookspecs import hookimpl


@hookimpl
def voxgate_llm_engines():
    from voxgate_shout.engine import ShoutEngine

    return {"shout": ShoutEngine}
'''

ENGINE = """\
from core.engines import ChatDelta, EngineSettings, LLMEngine, Usage


class ShoutSettings(EngineSettings):
    suffix: str = "!"


class ShoutEngine(LLMEngine):
    Settings = ShoutSettings
    description = "shouts back"

    async def chat(self, request):
        text = request.messages[-1].content.upper() + self.settings.suffix
        for word in text.split(" "):
            yield ChatDelta(text=word + " ")
        yield ChatDelta(finish_reason="stop", usage=Usage(1, len(text.split(" "))))
"""


@pytest.fixture(scope="module")
def plugin_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Build and pip-install the package into its own target folder."""
    root = tmp_path_factory.mktemp("shout")
    package = root / "src" / "voxgate_shout"
    package.mkdir(parents=True)
    (root / "src" / "pyproject.toml").write_text(PYPROJECT)
    (package / "__init__.py").write_text(INIT)
    (package / "engine.py").write_text(ENGINE)
    site = root / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--target",
            str(site),
            str(root / "src"),
        ],
        check=True,
    )
    assert list(site.glob("voxgate_shout-1.0.0.dist-info"))
    return site


def test_installed_plugin_is_listed(plugin_site: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(plugin_site)}
    out = subprocess.run(
        [sys.executable, "-m", "core.cli.main", "plugins", "--json"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    listing = json.loads(out.stdout)
    shout = next(p for p in listing["plugins"] if p["name"] == "shout")
    assert shout["distribution"] == "voxgate-shout"
    assert shout["engines"][0]["engine"] == "shout"


def test_daemon_serves_the_third_party_engine(plugin_site: Path, write_config) -> None:  # type: ignore[no-untyped-def]
    config = write_config(
        textwrap.dedent("""\
        mode: local
        reload: {watch: false}
        engines:
          loud: {capability: llm, engine: shout, settings: {suffix: "!!"}}
        routes: {llm: [loud]}
        aliases: {gpt-4o-mini: llm}
        """)
    )
    with daemon_process(config, env={"PYTHONPATH": str(plugin_site)}) as url:
        client = openai.OpenAI(base_url=url + "/v1", api_key="unused")
        response = client.chat.completions.with_raw_response.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "hello plugin"}]
        )
        assert response.headers["x-voxgate-engine"] == "loud"
        completion = response.parse()
        assert completion.choices[0].message.content.strip() == "HELLO PLUGIN!!"
