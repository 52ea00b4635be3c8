"""The pieces of the failover tests: the upstream "cloud" (a second voxgate daemon), runtimes
that have the fake local engines and the cloud plugin, and small HTTP servers on loopback."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

import plugins.fallback_cloud
from core.runtime.runtime import Runtime
from tests.support.daemon import free_port

# The cloud engine tests import it from here.
from tests.support.engines import NoServices as NoServices
from tests.support.runtime import running_runtime

#: The API key the upstream daemon demands, and the variable the cloud engines read it from.
UPSTREAM_KEY = "upstream-test-key-5f2c"
KEY_ENV = "FALLBACK_CLOUD_TEST_KEY"

#: The "cloud": a voxgate daemon in mode local whose engines are named after what they do.
UPSTREAM_CONFIG = """\
mode: local
reload: {watch: false}
logging: {level: warning}
server: {drain_timeout: 1}
policy: {timeout: 20}
engines:
  chat_ok: {capability: llm, engine: fake, settings: {reply: "cloud says hi"}}
  chat_slow: {capability: llm, engine: fake, settings: {reply: "too late", delay: 30}}
  chat_broken: {capability: llm, engine: fake, settings: {fail_load: true}}
  tts_ok:
    capability: tts
    engine: fake
    settings: {voices: [cloud-f, cloud-m], language: en, chunks: 3}
  stt_ok: {capability: stt, engine: fake, settings: {reply: "cloud heard you"}}
  emb_ok: {capability: embeddings, engine: fake}
routes:
  llm: [chat_ok]
  tts: [tts_ok]
  stt: [stt_ok]
  embeddings: [emb_ok]
"""


def cloud_engines(base_url: str) -> str:
    """YAML for the cloud engines of a hybrid daemon, all pointing at ``base_url``."""
    return f"""\
  cloud_chat:
    capability: llm
    engine: openai_chat
    settings: {{base_url: "{base_url}/v1", api_key_env: {KEY_ENV}, model: chat_ok}}
  cloud_tts:
    capability: tts
    engine: openai_tts
    settings:
      base_url: "{base_url}/v1"
      api_key_env: {KEY_ENV}
      model: tts_ok
      voice: cloud-f
      voices:
        - {{id: cloud-f, language: en, gender: female}}
        - {{id: cloud-m, language: en, gender: male}}
  cloud_stt:
    capability: stt
    engine: openai_stt
    settings: {{base_url: "{base_url}/v1", api_key_env: {KEY_ENV}, model: stt_ok}}
  cloud_embeddings:
    capability: embeddings
    engine: openai_embeddings
    settings: {{base_url: "{base_url}/v1", api_key_env: {KEY_ENV}, model: emb_ok}}
"""


#: The fake local engines of a hybrid daemon: name, capability and their own settings.
LOCAL_ENGINES = (
    ("local_chat", "llm", 'reply: "local says hi"'),
    ("local_tts", "tts", "voices: [warm-f, deep-m], language: en"),
    ("local_stt", "stt", 'reply: "local heard you"'),
    ("local_embeddings", "embeddings", ""),
)


def hybrid_config(
    base_url: str,
    *,
    mode: str = "hybrid",
    local: Mapping[str, str] | None = None,
    timeout: float = 2.0,
    failures: int = 2,
    cooldown: float = 60.0,
    max_cooldown: float | None = None,
    extra_engines: str = "",
    routes: str | None = None,
) -> str:
    """A first daemon with fake local engines before the cloud ones.

    ``local`` adds settings to a local engine, e.g. ``{"local_chat": "fail_load: true"}``. Each
    local engine also answers to the fake plugin's switch of its own name. ``routes`` replaces
    the default route of each capability it names.
    """
    extra = dict(local or {})
    longest = max_cooldown or max(cooldown, 1)

    def engine(name: str, capability: str, base: str) -> str:
        parts = [base, f"switch: {name}", extra.get(name, "")]
        settings = "{" + ", ".join(p for p in parts if p) + "}"
        return f"  {name}: {{capability: {capability}, engine: fake, settings: {settings}}}\n"

    local_engines = "".join(engine(*fields) for fields in LOCAL_ENGINES)
    return f"""\
mode: {mode}
reload: {{watch: false}}
logging: {{level: warning}}
policy:
  timeout: {timeout}
  retries: 0
  breaker: {{failures: {failures}, cooldown: {cooldown}, max_cooldown: {longest}}}
engines:
{local_engines}{cloud_engines(base_url)}{extra_engines}
routes:
{_merged_routes(routes)}
aliases:
  "gpt-*": llm
  "tts-*": tts
  "whisper-*": stt
  "text-embedding-*": embeddings
"""


DEFAULT_ROUTES = """\
  llm: [local_chat, cloud_chat]
  tts: [local_tts, cloud_tts]
  stt: [local_stt, cloud_stt]
  embeddings: [local_embeddings, cloud_embeddings]
"""


def _merged_routes(routes: str | None) -> str:
    """The default routes with the lines of ``routes`` replacing those of their capability."""
    lines = {line.split(":")[0]: line for line in DEFAULT_ROUTES.splitlines()}
    for line in (routes or "").splitlines():
        lines[line.split(":")[0]] = line
    return "\n".join(lines.values()) + "\n"


def hybrid_runtime(config: Path) -> contextlib.AbstractAsyncContextManager[Runtime]:
    """A running runtime with the fake local engines plus this plugin, registered as its entry
    point would."""
    return running_runtime(config, plugins={"fallback_cloud": plugins.fallback_cloud})


@contextlib.asynccontextmanager
async def serving(app: ASGIApp) -> AsyncIterator[str]:
    """Serve an ASGI app with uvicorn on a free loopback port, in this event loop."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
            raise RuntimeError("server stopped before it started")
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@dataclass
class QuotaProxy:
    """A reverse proxy in front of the upstream that enforces a request quota, like a provider's
    rate limiter: over quota it answers 429 with ``Retry-After``; it counts what it sees."""

    upstream: str
    #: Requests let through before the quota is spent (None: unlimited).
    quota: int | None = None
    retry_after: str = "60"
    seen: int = 0
    limited: int = 0
    paths: list[str] = field(default_factory=list)

    def app(self) -> Starlette:
        async def forward(request: Request) -> Response:
            self.seen += 1
            self.paths.append(request.url.path)
            if self.quota is not None and self.seen > self.quota:
                self.limited += 1
                return JSONResponse(
                    {"error": {"message": "quota exceeded", "type": "rate_limit_error"}},
                    status_code=429,
                    headers={"retry-after": self.retry_after},
                )
            headers = {
                k: v
                for k, v in request.headers.items()
                if k in ("authorization", "content-type", "accept")
            }
            async with httpx.AsyncClient(base_url=self.upstream, timeout=30) as client:
                answer = await client.request(
                    request.method, request.url.path, content=await request.body(), headers=headers
                )
            keep = {k: v for k, v in answer.headers.items() if k.startswith("x-")}
            return Response(
                answer.content,
                status_code=answer.status_code,
                headers=keep,
                media_type=answer.headers.get("content-type"),
            )

        return Starlette(routes=[Route("/{path:path}", forward, methods=["GET", "POST"])])
