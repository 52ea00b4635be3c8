"""A local HTTP server speaking the parts of the ModelScope hub API a download uses.

The ModelScope client is pointed at it with its endpoint override, so the real client code runs
against real HTTP. It answers the legacy ``/api/v1`` routes the client calls:

- the file listing, ``GET /api/v1/models/<owner>/<name>/repo/files?Revision=&Recursive=``, in
  the hub's envelope (``{"Code": 200, "Data": {"Files": [...]}, "Success": true}``) with
  ``Path``/``Type``/``Size``/``Sha256`` per entry and ``tree`` entries for folders. An unknown
  revision is answered as the hub does: HTTP 200 with ``Files: null``.
- file downloads, ``GET /api/v1/models/<owner>/<name>/repo?Revision=&FilePath=``, with byte
  ranges for resuming.

Anything else (an unknown repository, the client's cloud-region probe) gets the hub's 404.
Switches let a test cut a transfer short, corrupt a file or make its download fail.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.core.model_store.file_serving import (
    FileFaults,
    range_start,
    send_range_headers,
    write_body,
)
from tests.support.loopback_http import StateServer, serving

COMMIT = "89abcdef0123456789abcdef0123456789abcdef"
#: The hub's business code for a model or file it does not have.
_NOT_FOUND_CODE = 10010205001
_REPO_ROUTE = re.compile(r"/api/v1/models/([^/]+/[^/]+)/repo(/files)?")


@dataclass
class MsRepo:
    files: dict[str, bytes]
    #: Branches and tags the listing knows.
    revisions: set[str] = field(default_factory=lambda: {"master"})


@dataclass(kw_only=True)
class MsState(FileFaults):
    repos: dict[str, MsRepo]
    #: file path -> HTTP status its download answers with instead of the content.
    fail: dict[str, int] = field(default_factory=dict)
    #: (path, query, range header) of every request, in order.
    requests: list[tuple[str, dict[str, str], str | None]] = field(default_factory=list)


def listing_entries(files: dict[str, bytes], root: str = "", recursive: bool = True) -> list[Any]:
    """The hub's entries for ``files``: each folder once as a tree, then the blobs."""
    prefix = f"{root.strip('/')}/" if root.strip("/") else ""
    entries: list[dict[str, Any]] = []
    folders: set[str] = set()
    for path, data in sorted(files.items()):
        if not path.startswith(prefix):
            continue
        rest = path[len(prefix) :].split("/")
        for depth in range(1, len(rest)):
            folder = prefix + "/".join(rest[:depth])
            if folder not in folders and (recursive or depth == 1):
                folders.add(folder)
                entries.append(_entry(folder, "tree", 0, None))
        if recursive or len(rest) == 1:
            entries.append(_entry(path, "blob", len(data), hashlib.sha256(data).hexdigest()))
    return entries


def _entry(path: str, kind: str, size: int, sha256: str | None) -> dict[str, Any]:
    return {
        "Path": path,
        "Name": path.rsplit("/", 1)[-1],
        "Type": kind,
        "Size": size,
        "Sha256": sha256,
        "IsLFS": bool(sha256) and size > 1_000_000,
        "Mode": "040000" if kind == "tree" else "100644",
        "Revision": COMMIT,
    }


class _Handler(BaseHTTPRequestHandler):
    server: StateServer[MsState]

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        state = self.server.state
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        state.requests.append((url.path, query, self.headers.get("Range")))
        route = _REPO_ROUTE.fullmatch(url.path)
        repo = state.repos.get(route.group(1)) if route else None
        if route is None or repo is None:
            self._refuse(404, "model not found")
        elif route.group(2):
            self._listing(repo, query)
        else:
            self._file(repo, query)

    def _json(self, status: int, payload: dict[str, Any], *, success: bool = True) -> None:
        body = json.dumps({**payload, "RequestId": "local", "Success": success}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _refuse(self, status: int, message: str) -> None:
        code = _NOT_FOUND_CODE if status == 404 else status
        self._json(status, {"Code": code, "Message": message}, success=False)

    def _listing(self, repo: MsRepo, query: dict[str, str]) -> None:
        files = None
        if query.get("Revision", "master") in repo.revisions:
            recursive = query.get("Recursive", "False").lower() == "true"
            files = listing_entries(repo.files, query.get("Root", ""), recursive)
        committer = {"Id": COMMIT, "ShortId": COMMIT[:8], "Name": "local"}
        data = {"Files": files, "IsVisual": 0, "LatestCommitter": committer if files else None}
        self._json(200, {"Code": 200, "Data": data, "Message": "success"})

    def _file(self, repo: MsRepo, query: dict[str, str]) -> None:
        state = self.server.state
        name = query.get("FilePath", "")
        if query.get("Revision") not in repo.revisions or name not in repo.files:
            self._refuse(404, f"file {name} not found")
            return
        if name in state.fail:
            self._refuse(state.fail[name], "refused")
            return
        data = state.content(name, repo.files[name])
        start = range_start(self.headers.get("Range"))
        self.send_response(206 if start else 200)
        self.send_header("Content-Type", "application/octet-stream")
        send_range_headers(self, len(data), start)
        self.end_headers()
        write_body(self, data, start, state.take_cut(name))


def serve_modelscope(state: MsState) -> contextlib.AbstractContextManager[str]:
    """Run the server on a free loopback port; the context yields its base URL."""
    return serving(_Handler, state)
