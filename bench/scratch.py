"""The scratch folder of one bench run: engines and daemons keep their data there, never in the
user's data folder, and it is gone when the run ends."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from core.observability.logging import configure_logging


@contextlib.contextmanager
def scratch_folder() -> Iterator[Path]:
    """A temporary folder whose ``data`` is the data folder of everything the bench starts;
    logging is set to warnings only, so the figures stand out."""
    configure_logging("warning")
    previous = os.environ.get("VOXGATE_DATA_DIR")
    with tempfile.TemporaryDirectory(prefix="voxgate-bench-") as tmp:
        folder = Path(tmp)
        os.environ["VOXGATE_DATA_DIR"] = str(folder / "data")
        try:
            yield folder
        finally:
            if previous is None:
                os.environ.pop("VOXGATE_DATA_DIR", None)
            else:
                os.environ["VOXGATE_DATA_DIR"] = previous
