"""A readiness probe for container health checks: ``python -m core.service.probe [URL]``.

Asks the local daemon's ``/readyz`` and exits 0 when it is ready, 1 when it is not (or does not
answer), printing one line that says why. It runs every few seconds for the life of a container,
so it uses the standard library only: importing the CLI (pydantic, httpx) would cost a second of
CPU each time.
"""

from __future__ import annotations

import json
import os
import sys
import urllib.error
import urllib.request
from collections.abc import Sequence

#: The daemon's address inside its own container (the image sets ``VOXGATE_URL`` to it too).
DEFAULT_URL = "http://127.0.0.1:8765"


def check(base_url: str, timeout: float = 5.0) -> tuple[bool, str]:
    """Whether the daemon at ``base_url`` is ready, and a line saying so (or why not)."""
    url = base_url.rstrip("/") + "/readyz"
    try:
        # The URL is the operator's own daemon (argument or VOXGATE_URL), never client input.
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310
            return True, f"ready ({response.status})"
    except urllib.error.HTTPError as error:
        return False, f"not ready ({error.code}): {_reasons(error.read())}"
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        return False, f"no answer from {url}: {reason}"


def _reasons(body: bytes) -> str:
    try:
        reasons = json.loads(body).get("reasons") or []
    except (ValueError, AttributeError):
        return body[:200].decode("utf-8", "replace")
    return "; ".join(str(r) for r in reasons) or "no reason given"


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    base_url = args[0] if args else os.environ.get("VOXGATE_URL", DEFAULT_URL)
    ready, line = check(base_url)
    print(line)  # noqa: T201  (a health check's output is its log line)
    return 0 if ready else 1


if __name__ == "__main__":
    sys.exit(main())
