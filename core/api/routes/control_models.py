"""The model manager over HTTP (loopback or control token only, like all of ``/control``).

- ``GET /control/models``: every model plugins declare, its folder, status and any download.
- ``POST /control/models/{key}/download``: start (or join) a download; the answer is a stream of
  server-sent events with progress (bytes and files) ending in ``done`` or ``error``. A client
  that disconnects does not stop the download; asking again joins it.
- ``POST /control/models/{key}/validate``: what is missing or damaged (``{"checksums": true}``
  also verifies sha256 sums).
- ``GET /control/models/{key}/path``: the folder (for "open folder" buttons and manual copies).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from core.api.bodies import read_json
from core.api.context import runtime_of
from core.api.errors import ApiError
from core.api.sse import event, sse_response
from core.model_store.download import (
    DownloadError,
    DownloadProgress,
    default_providers,
    download_model,
)
from core.model_store.paths import model_dir
from core.model_store.registry import ModelRegistry, ModelSpec, UnknownModelKey
from core.model_store.validate import validate_model


@dataclass
class DownloadJob:
    key: str
    last: dict[str, Any] | None = None
    outcome: dict[str, Any] | None = None
    listeners: list[asyncio.Queue[dict[str, Any]]] = field(default_factory=list)
    task: asyncio.Task[None] | None = None

    def publish(self, message: dict[str, Any]) -> None:
        if message["type"] == "progress":
            self.last = message
        else:
            self.outcome = message
        for queue in self.listeners:
            queue.put_nowait(message)


class DownloadJobs:
    """The downloads one app is running, by model key (kept on ``app.state``)."""

    def __init__(self) -> None:
        self.jobs: dict[str, DownloadJob] = {}

    def running(self, key: str) -> DownloadJob | None:
        job = self.jobs.get(key)
        return job if job is not None and job.outcome is None else None

    def start(self, spec: ModelSpec, root: Path, provider: str, force: bool) -> DownloadJob:
        job = DownloadJob(spec.key)
        self.jobs[spec.key] = job
        loop = asyncio.get_running_loop()

        def progress(update: DownloadProgress) -> None:  # called in the download thread
            loop.call_soon_threadsafe(job.publish, {"type": "progress", **update.as_dict()})

        async def run() -> None:
            try:
                path = await asyncio.to_thread(
                    download_model,
                    spec,
                    root,
                    provider=provider,
                    force=force,
                    progress=progress,
                    # Endpoints come from the daemon's environment (HF_ENDPOINT,
                    # MODELSCOPE_ENDPOINT) only: a request must not make it contact a server.
                    providers=default_providers(),
                )
            except DownloadError as exc:
                job.publish({"type": "error", "key": spec.key, "message": str(exc)})
            except Exception as exc:  # reported to the client; the daemon keeps serving
                job.publish({"type": "error", "key": spec.key, "message": repr(exc)})
            else:
                job.publish({"type": "done", "key": spec.key, "path": str(path)})

        job.task = asyncio.create_task(run(), name=f"model-download:{spec.key}")
        return job


def _jobs(request: Request) -> DownloadJobs:
    state = request.app.state
    jobs = getattr(state, "model_downloads", None)
    if jobs is None:
        jobs = state.model_downloads = DownloadJobs()
    return jobs


def _registry(request: Request) -> tuple[ModelRegistry, Path]:
    runtime = runtime_of(request)
    return ModelRegistry.from_catalog(runtime.catalog), runtime.config.models_dir


def _spec(request: Request) -> tuple[ModelSpec, Path]:
    registry, root = _registry(request)
    try:
        return registry.get(request.path_params["key"]), root
    except UnknownModelKey as exc:
        raise ApiError(404, str(exc), param="key", code="model_not_found") from None


def _describe(spec: ModelSpec, root: Path, jobs: DownloadJobs) -> dict[str, Any]:
    report = validate_model(spec, model_dir(spec, root))
    job = jobs.running(spec.key)
    return {
        "key": spec.key,
        "plugin": spec.plugin,
        "description": spec.description,
        "hf_repo": spec.hf_repo,
        "modelscope_id": spec.modelscope_id,
        "size_bytes": spec.size_bytes,
        "path": report.path,
        "status": "ok" if report.ok else ("incomplete" if report.exists else "missing"),
        "missing": report.missing,
        "download": job.last if job is not None else None,
    }


async def list_models(request: Request) -> Response:
    registry, root = _registry(request)
    jobs = _jobs(request)
    models = await asyncio.to_thread(lambda: [_describe(s, root, jobs) for s in registry.all()])
    return JSONResponse({"models_dir": str(root), "models": models, "problems": registry.problems})


class DownloadBody(BaseModel):
    """No endpoint here on purpose: which servers the daemon contacts is configuration."""

    model_config = ConfigDict(extra="forbid")
    provider: Literal["auto", "hf", "modelscope"] = "auto"
    force: bool = False


async def _optional_json(request: Request, model: type[BaseModel]) -> Any:
    length = request.headers.get("content-length")
    chunked = "chunked" in request.headers.get("transfer-encoding", "")
    if (length is None or length == "0") and not chunked:
        return model()  # no body: every field takes its default
    return await read_json(request, model, 16_000)


async def download(request: Request) -> Response:
    spec, root = _spec(request)
    body: DownloadBody = await _optional_json(request, DownloadBody)
    jobs = _jobs(request)
    job = jobs.running(spec.key) or jobs.start(spec, root, body.provider, body.force)
    queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    job.listeners.append(queue)
    if job.last is not None:
        queue.put_nowait(job.last)

    async def stream() -> AsyncIterator[bytes]:
        try:
            while True:
                message = await queue.get()
                yield event(message)
                if message["type"] != "progress":
                    return
        finally:
            with contextlib.suppress(ValueError):
                job.listeners.remove(queue)

    return sse_response(stream(), {"x-voxgate-model": spec.key})


class ValidateBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    checksums: bool = False


async def validate(request: Request) -> Response:
    spec, root = _spec(request)
    body: ValidateBody = await _optional_json(request, ValidateBody)
    report = await asyncio.to_thread(
        validate_model, spec, model_dir(spec, root), checksums=body.checksums
    )
    return JSONResponse(report.as_dict())


async def path(request: Request) -> Response:
    spec, root = _spec(request)
    folder = model_dir(spec, root)
    return JSONResponse({"key": spec.key, "path": str(folder), "exists": folder.is_dir()})


routes = [
    Route("/control/models", list_models, methods=["GET"]),
    Route("/control/models/{key}/download", download, methods=["POST"]),
    Route("/control/models/{key}/validate", validate, methods=["POST"]),
    Route("/control/models/{key}/path", path, methods=["GET"]),
]
