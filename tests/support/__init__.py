"""Test helpers shared across the suite."""

from collections.abc import Callable
from pathlib import Path

#: The ``write_config`` fixture: YAML text (and optional file name) in, file path out.
WriteConfig = Callable[..., Path]
#: A fixture that builds a config file from a few keyword knobs.
MakeConfig = Callable[..., Path]
