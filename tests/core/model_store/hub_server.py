"""A local HTTP server speaking the parts of the Hugging Face hub API a download uses.

``huggingface_hub`` is pointed at it with its endpoint override, so the real download code runs
against real HTTP: the repository listing (``/api/models/<repo>``, with sizes and LFS sha256)
and file downloads (``/<repo>/resolve/<revision>/<file>``, HEAD and GET with byte ranges).
Switches let a test cut a transfer short (to exercise resuming) or corrupt a file.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.core.model_store.file_serving import (
    FileFaults,
    range_start,
    send_range_headers,
    write_body,
)
from tests.support.loopback_http import StateServer, serving

COMMIT = "0123456789abcdef0123456789abcdef01234567"


@dataclass
class HubRepo:
    files: dict[str, bytes]
    #: Files served as LFS objects (the listing carries their sha256).
    lfs: set[str] = field(default_factory=set)


@dataclass(kw_only=True)
class HubState(FileFaults):
    repos: dict[str, HubRepo]
    #: file path -> bytes of filler sent after its content, with no Content-Length on GET.
    overlong: dict[str, int] = field(default_factory=dict)
    #: file path -> bytes of an overlong file the client took before it hung up.
    overlong_sent: dict[str, int] = field(default_factory=dict)
    #: (method, path, range header) of every request, in order.
    requests: list[tuple[str, str, str | None]] = field(default_factory=list)


class _Handler(BaseHTTPRequestHandler):
    server: StateServer[HubState]

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        self._serve(body=True)

    def do_HEAD(self) -> None:
        self._serve(body=False)

    def _serve(self, body: bool) -> None:
        state = self.server.state
        state.requests.append((self.command, self.path, self.headers.get("Range")))
        path = self.path.split("?", 1)[0]
        api = re.fullmatch(r"/api/models/([^/]+/[^/]+)(?:/revision/[^/]+)?", path)
        if api:
            self._listing(api.group(1), body)
            return
        resolve = re.fullmatch(r"/([^/]+/[^/]+)/resolve/([^/]+)/(.+)", path)
        if resolve:
            self._file(resolve.group(1), resolve.group(3), body)
            return
        self._error(404, "EntryNotFound")

    def _error(self, status: int, code: str) -> None:
        self.send_response(status)
        self.send_header("X-Error-Code", code)
        self.send_header("X-Repo-Commit", COMMIT)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _listing(self, repo_id: str, body: bool) -> None:
        repo = self.server.state.repos.get(repo_id)
        if repo is None:
            self._error(404, "RepoNotFound")
            return
        siblings = []
        for name, data in sorted(repo.files.items()):
            entry: dict[str, Any] = {"rfilename": name, "size": len(data)}
            if name in repo.lfs:
                entry["lfs"] = {
                    "size": len(data),
                    "sha256": hashlib.sha256(data).hexdigest(),
                    "pointerSize": 130,
                }
            siblings.append(entry)
        payload = json.dumps({"id": repo_id, "sha": COMMIT, "siblings": siblings}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if body:
            self.wfile.write(payload)

    def _file(self, repo_id: str, name: str, body: bool) -> None:
        state = self.server.state
        repo = state.repos.get(repo_id)
        if repo is None or name not in repo.files:
            self._error(404, "EntryNotFound")
            return
        data = state.content(name, repo.files[name])
        etag = (
            hashlib.sha256(data).hexdigest() if name in repo.lfs else hashlib.sha1(data).hexdigest()
        )
        if name in state.overlong and self.command == "GET":
            self._overlong(name, data, etag, name in repo.lfs)
            return
        start = range_start(self.headers.get("Range"))
        self.send_response(206 if start else 200)
        self.send_header("X-Repo-Commit", COMMIT)
        self.send_header("ETag", f'"{etag}"')
        if name in repo.lfs:
            self.send_header("X-Linked-Etag", f'"{etag}"')
            self.send_header("X-Linked-Size", str(len(data)))
        send_range_headers(self, len(data), start)
        self.end_headers()
        if not body or self.command == "HEAD":
            return
        write_body(self, data, start, state.take_cut(name))

    def _overlong(self, name: str, data: bytes, etag: str, lfs: bool) -> None:
        """The file's content, then filler, as a body without a declared length (it ends only
        when the connection closes)."""
        state = self.server.state
        self.send_response(200)
        self.send_header("X-Repo-Commit", COMMIT)
        self.send_header("ETag", f'"{etag}"')
        if lfs:
            self.send_header("X-Linked-Etag", f'"{etag}"')
            self.send_header("X-Linked-Size", str(len(data)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        chunk = b"\0" * 65536
        # Counted as it goes: the client may read this while the writes are still failing.
        state.overlong_sent[name] = 0
        with contextlib.suppress(OSError):
            self.wfile.write(data)
            state.overlong_sent[name] = len(data)
            while state.overlong_sent[name] < len(data) + state.overlong[name]:
                self.wfile.write(chunk)
                state.overlong_sent[name] += len(chunk)


def serve_hub(state: HubState) -> contextlib.AbstractContextManager[str]:
    """Run the server on a free loopback port; the context yields its base URL."""
    return serving(_Handler, state)
