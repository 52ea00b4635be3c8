"""``POST /v1/embeddings``: a string or a list of strings (or OpenAI ``cl100k_base`` token ids,
decoded back to text), floats or base64; an optional ``input_type`` (query | document) for models
that embed questions and passages differently."""

from __future__ import annotations

import asyncio
import base64
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from core.api.bodies import read_json
from core.api.context import generation_of, limits_of
from core.api.errors import ApiError
from core.api.routing_headers import engine_headers
from core.config.schema import LimitsConfig
from core.engines.base import Capability
from core.engines.embeddings import Embeddings, EmbeddingsEngine
from core.engines.input_type import InputType
from core.text.openai_tokens import TokenInputError, decode_cl100k


class EmbeddingsBody(BaseModel):
    model_config = ConfigDict(extra="allow")
    input: str | list[str] | list[int] | list[list[int]]
    model: str | None = None
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: int | None = Field(None, ge=1)
    #: voxgate extension (as in several OpenAI-compatible servers): ``query`` for search
    #: questions, ``document`` (or ``passage``) for what is searched; asymmetric models use it.
    input_type: Literal["query", "document", "passage"] | None = None

    def purpose(self) -> InputType | None:
        return "document" if self.input_type == "passage" else self.input_type

    def token_inputs(self) -> list[list[int]] | None:
        """The inputs as token ids, when they came as ids (one list, or a list of lists)."""
        value = self.input
        if isinstance(value, str) or not value or isinstance(value[0], str):
            return None
        if all(isinstance(item, int) for item in value):
            return [[int(item) for item in value]]  # type: ignore[arg-type]
        return [[int(i) for i in item] for item in value]  # type: ignore[union-attr]

    async def texts(self, limits: LimitsConfig) -> list[str]:
        tokens = self.token_inputs()
        if tokens is not None:
            if len(tokens) > limits.max_embedding_inputs:
                raise ApiError(
                    400, f"at most {limits.max_embedding_inputs} inputs per request", param="input"
                )
            texts = await asyncio.to_thread(_decode_all, tokens)
        elif isinstance(self.input, str):
            texts = [self.input]
        else:
            texts = [str(item) for item in self.input]
        if not texts:
            raise ApiError(400, "input must not be empty", param="input")
        if len(texts) > limits.max_embedding_inputs:
            raise ApiError(
                400, f"at most {limits.max_embedding_inputs} inputs per request", param="input"
            )
        if any(not t for t in texts):
            raise ApiError(400, "input strings must not be empty", param="input")
        chars = sum(len(t) for t in texts)
        if chars > limits.max_embedding_chars:
            raise ApiError(
                413,
                f"the inputs hold {chars} characters; the limit per request is "
                f"{limits.max_embedding_chars} (send them in several requests)",
                param="input",
                code="input_too_large",
            )
        return texts


def _decode_all(inputs: list[list[int]]) -> list[str]:
    try:
        return [decode_cl100k(ids) for ids in inputs]
    except TokenInputError as exc:
        raise ApiError(400, str(exc), param="input", code="invalid_value") from None


async def create_embeddings(request: Request) -> Response:
    limits = limits_of(request)
    body = await read_json(request, EmbeddingsBody, limits.max_request_bytes)
    texts = await body.texts(limits)
    purpose = body.purpose()

    async def run(engine: EmbeddingsEngine) -> Embeddings:
        return await engine.embed(texts, purpose)

    routed = await generation_of(request).router.call(Capability.EMBEDDINGS, body.model, run)
    vectors = np.asarray(routed.value.vectors, dtype=np.float32)
    if body.dimensions is not None:
        if body.dimensions > vectors.shape[1]:
            raise ApiError(
                400,
                f"dimensions {body.dimensions} is more than the {vectors.shape[1]} that "
                f"{routed.engine!r} makes: ask for at most {vectors.shape[1]}",
                param="dimensions",
            )
        # Shortened embeddings are re-normalised, as Matryoshka-style truncation expects.
        vectors = vectors[:, : body.dimensions]
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        vectors = (vectors / np.where(norms == 0, 1, norms)).astype(np.float32)
    data = []
    for index, vector in enumerate(vectors):
        embedding: list[float] | str
        if body.encoding_format == "base64":
            embedding = base64.b64encode(vector.astype("<f4").tobytes()).decode()
        else:
            embedding = vector.tolist()
        data.append({"object": "embedding", "index": index, "embedding": embedding})
    tokens = routed.value.prompt_tokens
    return JSONResponse(
        {
            "object": "list",
            "data": data,
            "model": body.model or routed.engine,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        },
        headers=engine_headers(routed.engine, routed.attempts),
    )


routes = [Route("/v1/embeddings", create_embeddings, methods=["POST"])]
