"""`voxgate ctl status|reload` against servers that are not (or not quite) a voxgate daemon."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler

import pytest

from tests.support.loopback_http import serving


class _NotVoxgate(BaseHTTPRequestHandler):
    """Answers every request with a web page, as a wrong --url would."""

    def _page(self) -> None:
        body = b"<html>a router's login page</html>"
        status = 200 if self.path == "/control/status" else 404
        self.send_response(status)
        self.send_header("content-type", "text/html")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        self._page()

    def do_POST(self) -> None:
        self._page()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def wrong_url() -> Iterator[str]:
    with serving(_NotVoxgate, None) as url:
        yield url


def ctl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "core.cli.main", "ctl", *args],
        capture_output=True,
        text=True,
        env=os.environ,
        check=False,
        timeout=120,
    )


def test_reload_reports_what_a_server_that_is_no_daemon_said(wrong_url: str) -> None:
    result = ctl("--url", wrong_url, "reload")
    assert result.returncode == 1
    assert result.stderr == "voxgate: reload failed (404): <html>a router's login page</html>\n"


def test_status_from_a_server_that_is_no_daemon_is_one_line(wrong_url: str) -> None:
    result = ctl("--url", wrong_url, "status")
    assert result.returncode == 1
    assert result.stderr == (f"voxgate: {wrong_url} answered, but not as a voxgate daemon does\n")


@pytest.mark.parametrize("action", ["status", "reload"])
def test_a_malformed_url_is_a_usage_error(action: str) -> None:
    result = ctl("--url", "http://[::1", action)
    assert result.returncode == 2
    assert result.stderr.startswith("voxgate: invalid daemon URL: ")
    assert "Traceback" not in result.stderr
