"""Accessors for what a handler needs: the runtime and the generation its request leased."""

from __future__ import annotations

from typing import cast

from starlette.requests import HTTPConnection

from core.config.schema import LimitsConfig
from core.runtime.generation import Generation
from core.runtime.runtime import Runtime


def runtime_of(request: HTTPConnection) -> Runtime:
    return cast(Runtime, request.app.state.runtime)


def generation_of(request: HTTPConnection) -> Generation:
    """The configuration generation leased for this request by the middleware."""
    return cast(Generation, request.state.generation)


def limits_of(request: HTTPConnection) -> LimitsConfig:
    return generation_of(request).config.config.limits
