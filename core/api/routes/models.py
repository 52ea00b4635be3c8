"""``GET /v1/models``: routes, aliases and engines, each with its capability and location."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from core.api.context import generation_of
from core.api.errors import ApiError
from core.config.resolve import alias_targets, is_pattern
from core.runtime.generation import Generation


def model_entries(generation: Generation) -> list[dict[str, Any]]:
    config = generation.config
    created = int(generation.created_at)
    entries: list[dict[str, Any]] = []
    for capability, chain in config.chains.items():
        entries.append(
            {
                "id": capability.value,
                "object": "model",
                "created": created,
                "owned_by": "voxgate",
                "kind": "route",
                "capability": capability.value,
                "chain": chain,
            }
        )
    for alias, target in config.config.aliases.items():
        capabilities = [
            served.value
            for name in alias_targets(target)
            if (served := config.target_capability(name)) is not None
        ]
        entries.append(
            {
                "id": alias,
                "object": "model",
                "created": created,
                "owned_by": "voxgate",
                "kind": "alias_pattern" if is_pattern(alias) else "alias",
                # One capability, or one per target of an alias that lists several.
                "capability": capabilities[0] if isinstance(target, str) else capabilities,
                "target": target,
            }
        )
    for name, engine in config.engines.items():
        entries.append(
            {
                "id": name,
                "object": "model",
                "created": created,
                "owned_by": engine.entry.plugin,
                "kind": "engine",
                "capability": engine.capability.value,
                "location": engine.location,
                "engine": engine.spec.engine,
                "state": generation.slots[name].status()["state"],
            }
        )
    return entries


async def list_models(request: Request) -> Response:
    return JSONResponse({"object": "list", "data": model_entries(generation_of(request))})


async def get_model(request: Request) -> Response:
    model_id = request.path_params["model"]
    for entry in model_entries(generation_of(request)):
        if entry["id"] == model_id:
            return JSONResponse(entry)
    raise ApiError(404, f"model {model_id!r} not found", param="model", code="model_not_found")


routes = [
    Route("/v1/models", list_models, methods=["GET"]),
    Route("/v1/models/{model:path}", get_model, methods=["GET"]),
]
