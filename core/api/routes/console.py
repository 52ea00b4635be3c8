"""The web console's pages at ``/console`` (``/`` redirects there), when ``console.enabled``.

Plain files from the package, nothing fetched from elsewhere, so the page works offline. The
pages carry no data: everything they show comes from the API with the visitor's own
credentials (an API key for the data plane; loopback or the control token for ``/control``).
"""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response
from starlette.routing import Route

from core.api.context import runtime_of
from core.api.errors import ApiError
from core.console import static_dir

_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}

#: Only this origin's scripts; media from blobs (synthesized audio); the API over HTTP and
#: WebSocket on this origin; never framed by another site (clickjacking).
_SECURITY_HEADERS = {
    "content-security-policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "media-src 'self' blob:; connect-src 'self' ws: wss:; worker-src 'self'; "
        "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    ),
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "no-cache",
}


def _enabled(request: Request) -> bool:
    return runtime_of(request).current.config.config.console.enabled


def _not_found() -> ApiError:
    return ApiError(404, "the web console is switched off (console.enabled)", code="not_found")


async def to_console(request: Request) -> Response:
    if not _enabled(request):
        raise _not_found()
    return RedirectResponse("/console/", status_code=307)


async def page(request: Request) -> Response:
    if not _enabled(request):
        raise _not_found()
    name = request.path_params.get("name") or "index.html"
    path = _shipped_file(name)
    if path is None:
        raise ApiError(404, f"no console file {name!r}", code="not_found")
    return _file(path)


def _shipped_file(name: str) -> Path | None:
    """The file called ``name`` directly in the console's folder, of a kind it ships. The name
    is matched against the folder's entries and never opened as a path: a NUL byte or an
    overlong name would raise there, and '..' could leave the folder."""
    for path in static_dir().iterdir():
        if path.name == name and path.suffix in _TYPES and path.is_file():
            return path
    return None


def _file(path: Path) -> Response:
    return FileResponse(path, media_type=_TYPES[path.suffix], headers=_SECURITY_HEADERS)


routes = [
    Route("/", to_console, methods=["GET", "HEAD"]),
    Route("/console", to_console, methods=["GET", "HEAD"]),
    Route("/console/", page, methods=["GET", "HEAD"]),
    Route("/console/{name}", page, methods=["GET", "HEAD"]),
]
