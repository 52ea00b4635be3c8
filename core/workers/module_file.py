"""Loading a Python file as a module, for code that runs where only voxgate's ``core`` imports.

Worker processes see ``core`` and their own environment's libraries, not the ``plugins``
package (whose ``__init__`` modules import the daemon's dependencies): a plugin's worker-side
code is therefore loaded by path.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType


def load_module_file(file: str | Path, name: str) -> ModuleType:
    """Import ``file`` as module ``name`` (once: a second call returns the same module)."""
    loaded = sys.modules.get(name)
    if loaded is not None:
        return loaded
    spec = importlib.util.spec_from_file_location(name, file)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {file} as a module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and pickling look the module up while it runs
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module
