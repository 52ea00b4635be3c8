"""The daemon runs numpy's BLAS on one thread, unless the user chose a thread count."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.support.plugin_dist import REPO_ROOT

_CHILD = """
import json
import numpy
from threadpoolctl import threadpool_info
from core.blas_threads import one_blas_thread
limited = one_blas_thread()
blas = [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]
print(json.dumps({"limited": limited, "threads": blas}))
"""


def run_child(**env: str) -> dict[str, object]:
    clean = {k: v for k, v in os.environ.items() if not k.endswith("_NUM_THREADS")}
    done = subprocess.run(
        [sys.executable, "-c", _CHILD],
        capture_output=True,
        text=True,
        timeout=60,
        env={**clean, "PYTHONPATH": str(REPO_ROOT), **env},
        check=True,
    )
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_blas_runs_on_one_thread() -> None:
    result = run_child()
    assert result["limited"] is True
    assert result["threads"] and set(result["threads"]) == {1}  # type: ignore[arg-type]


def test_a_users_own_thread_count_is_kept() -> None:
    result = run_child(OPENBLAS_NUM_THREADS="2")
    assert result["limited"] is False
    assert result["threads"] == [2]
