"""Building the ASGI application from an explicit runtime (no module-level state)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect
from starlette.routing import BaseRoute

from core.api.errors import ApiError, handle_exception
from core.api.live_sessions import LiveSessions
from core.api.middleware import GatewayMiddleware
from core.api.routes import (
    chat,
    cloned_voices,
    console,
    control,
    control_console,
    control_models,
    conversation,
    embeddings,
    health,
    models,
    rag,
    realtime,
    responses,
    speech,
    transcription,
    transcription_stream,
    voice_list,
)
from core.api.routes.rag_jobs import job_limits
from core.cancellation import cancel_and_wait
from core.engines.errors import EngineError
from core.ingest.jobs import IngestJobs
from core.observability.memory import trim_when_idle
from core.routing.errors import RoutingError
from core.runtime.runtime import Runtime
from core.runtime.watcher import install_sighup, watch_config_file

#: How often an idle daemon hands free memory back (core.observability.memory).
_TRIM_EVERY_SECONDS = 30.0


def api_routes() -> list[BaseRoute]:
    return [
        *health.routes,
        *control.routes,
        *models.routes,
        *chat.routes,
        *responses.routes,
        *embeddings.routes,
        *speech.routes,
        *transcription.routes,
        *transcription_stream.routes,
        *realtime.routes,
        *voice_list.routes,
        *cloned_voices.routes,
        *control_models.routes,
        *control_console.routes,
        *console.routes,
        *conversation.routes,
        *rag.routes,
    ]


def create_app(
    runtime: Runtime, *, manage_runtime: bool = True, watch: bool | None = None
) -> Starlette:
    """The gateway's ASGI app, for a runtime that has been started.

    With ``manage_runtime`` the app's lifespan watches the config file, handles SIGHUP and, on
    shutdown, drains requests and closes engines. Tests that manage the runtime themselves pass
    ``manage_runtime=False``.
    """
    config = runtime.config.config

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if not manage_runtime:
            yield
            return
        stop = asyncio.Event()
        watcher: asyncio.Task[None] | None = None
        if watch if watch is not None else config.reload.watch:
            watcher = asyncio.create_task(
                watch_config_file(runtime, config.reload.debounce, stop), name="config-watch"
            )
        install_sighup(runtime)
        trimmer = asyncio.create_task(
            trim_when_idle(lambda: runtime.current.leases > 0, _TRIM_EVERY_SECONDS),
            name="memory-trim",
        )
        try:
            yield
        finally:
            stop.set()
            for task in (watcher, trimmer):
                await cancel_and_wait(task)
            await app.state.ingest_jobs.close()
            await runtime.shutdown(runtime.config.config.server.drain_timeout)

    middleware = [Middleware(GatewayMiddleware, runtime=runtime)]
    # ClientDisconnect among them: Starlette re-raises what only the catch-all handles.
    handled: list[type[Exception]] = [
        ApiError,
        EngineError,
        RoutingError,
        HTTPException,
        ClientDisconnect,
    ]
    app = Starlette(
        routes=api_routes(),
        middleware=middleware,
        exception_handlers={
            **{cls: handle_exception for cls in handled},
            Exception: handle_exception,
        },
        lifespan=lifespan,
    )
    app.state.runtime = runtime
    app.state.live_sessions = LiveSessions()
    app.state.ingest_jobs = IngestJobs(lambda: job_limits(runtime))
    return app
