"""``POST /v1/responses``: OpenAI's Responses API over the same chat engines and chain.

A thin front door: the body becomes a ``ChatRequest`` (responses_body.py), the chain runs it
exactly as chat completions do (chat_calls.py), and the reply is written back as a response
object, or as the Responses event stream (created, output items with their text or call-argument
deltas, completed). Nothing is stored: ``store`` is accepted, but a response cannot be fetched
or continued by id.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterable, AsyncIterator
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from core.api.bodies import read_json
from core.api.chat_calls import Choice, chat_call, check_message_count, gather
from core.api.context import generation_of, limits_of
from core.api.errors import as_api_error, error_body
from core.api.logprobs import logprob_items
from core.api.responses_body import ResponsesBody
from core.api.routing_headers import engine_headers
from core.api.sse import sse_response
from core.engines.base import Capability
from core.engines.llm import ChatDelta, ChatRequest, TokenLogprob, ToolCall


class ResponseWriter:
    """Builds one response object and, for streams, the events that lead to it."""

    def __init__(self, body: ResponsesBody, request: ChatRequest, model: str) -> None:
        self.body = body
        self.request = request
        self.model = model
        self.id = f"resp_{uuid.uuid4().hex}"
        self.created = int(time.time())
        self._sequence = 0
        self.message_id = f"msg_{uuid.uuid4().hex[:24]}"

    # -- the response object -------------------------------------------------------------------

    def response(
        self, status: str, output: list[dict[str, Any]], choice: Choice | None
    ) -> dict[str, Any]:
        body = self.body
        usage = None
        incomplete = None
        if choice is not None and choice.usage is not None:
            usage = {
                "input_tokens": choice.usage.prompt_tokens,
                "input_tokens_details": {"cached_tokens": 0},
                "output_tokens": choice.usage.completion_tokens,
                "output_tokens_details": {"reasoning_tokens": 0},
                "total_tokens": choice.usage.total_tokens,
            }
        if status == "incomplete":
            incomplete = {"reason": "max_output_tokens"}
        return {
            "id": self.id,
            "object": "response",
            "created_at": self.created,
            "status": status,
            "model": self.model,
            "output": output,
            "error": None,
            "incomplete_details": incomplete,
            "instructions": body.instructions,
            "metadata": body.metadata or {},
            "parallel_tool_calls": self.request.parallel_tool_calls,
            "temperature": body.temperature,
            "top_p": body.top_p,
            "max_output_tokens": body.max_output_tokens,
            "tool_choice": body.tool_choice if body.tool_choice is not None else "auto",
            "tools": body.tools or [],
            "text": {"format": (body.text.format if body.text else None) or {"type": "text"}},
            "store": False,
            "usage": usage,
        }

    def status_of(self, choice: Choice) -> str:
        return "incomplete" if choice.finish == "length" else "completed"

    def message_item(self, text: str, logprobs: list[TokenLogprob], done: bool) -> dict[str, Any]:
        part = self.text_part(text, logprobs)
        return {
            "type": "message",
            "id": self.message_id,
            "status": "completed" if done else "in_progress",
            "role": "assistant",
            "content": [part] if done else [],
        }

    def text_part(self, text: str, logprobs: list[TokenLogprob]) -> dict[str, Any]:
        return {
            "type": "output_text",
            "text": text,
            "annotations": [],
            "logprobs": logprob_items(logprobs),
        }

    @staticmethod
    def call_item(call: ToolCall, item_id: str, done: bool) -> dict[str, Any]:
        return {
            "type": "function_call",
            "id": item_id,
            "call_id": call.id,
            "name": call.name,
            "arguments": call.arguments if done else "",
            "status": "completed" if done else "in_progress",
        }

    def output(self, choice: Choice) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        if choice.text or not choice.calls:
            items.append(self.message_item(choice.content, choice.logprobs, done=True))
        items += [
            self.call_item(call, f"fc_{uuid.uuid4().hex[:24]}", done=True)
            for call in choice.tool_calls
        ]
        return items

    # -- events --------------------------------------------------------------------------------

    def event(self, kind: str, **fields: Any) -> bytes:
        data = {"type": kind, "sequence_number": self._sequence, **fields}
        self._sequence += 1
        payload = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
        return f"event: {kind}\ndata: {payload}\n\n".encode()

    async def events(self, deltas: AsyncIterable[ChatDelta]) -> AsyncIterator[bytes]:
        """The Responses event stream for one streamed reply."""
        started = self.response("in_progress", [], None)
        yield self.event("response.created", response=started)
        yield self.event("response.in_progress", response=started)
        choice = Choice(0)
        output: list[dict[str, Any]] = []
        text_index: int | None = None
        calls: dict[int, tuple[int, str]] = {}  # call index -> (output index, item id)
        try:
            async for delta in deltas:
                choice.add(delta)
                if delta.text:
                    if text_index is None:
                        text_index = len(output)
                        output.append({})
                        item = self.message_item("", [], done=False)
                        yield self.event(
                            "response.output_item.added", output_index=text_index, item=item
                        )
                        yield self.event(
                            "response.content_part.added",
                            item_id=self.message_id,
                            output_index=text_index,
                            content_index=0,
                            part=self.text_part("", []),
                        )
                    yield self.event(
                        "response.output_text.delta",
                        item_id=self.message_id,
                        output_index=text_index,
                        content_index=0,
                        delta=delta.text,
                        logprobs=logprob_items(delta.logprobs),
                    )
                for piece in delta.tool_calls:
                    if piece.index not in calls:
                        index, item_id = len(output), f"fc_{uuid.uuid4().hex[:24]}"
                        calls[piece.index] = (index, item_id)
                        output.append({})
                        call = ToolCall(piece.id or "", piece.name or "", "")
                        yield self.event(
                            "response.output_item.added",
                            output_index=index,
                            item=self.call_item(call, item_id, done=False),
                        )
                    index, item_id = calls[piece.index]
                    if piece.arguments:
                        yield self.event(
                            "response.function_call_arguments.delta",
                            item_id=item_id,
                            output_index=index,
                            delta=piece.arguments,
                        )
        except Exception as exc:  # the stream has started: report in-band, then end
            error = as_api_error(exc)
            failure = error_body(error.status, error.message, error.param, error.code)
            yield self.event("error", **failure["error"], error=failure["error"])
            return
        if text_index is not None:
            text = choice.content
            yield self.event(
                "response.output_text.done",
                item_id=self.message_id,
                output_index=text_index,
                content_index=0,
                text=text,
                logprobs=logprob_items(choice.logprobs),
            )
            yield self.event(
                "response.content_part.done",
                item_id=self.message_id,
                output_index=text_index,
                content_index=0,
                part=self.text_part(text, choice.logprobs),
            )
            output[text_index] = self.message_item(text, choice.logprobs, done=True)
            yield self.event(
                "response.output_item.done", output_index=text_index, item=output[text_index]
            )
        for call_index, call in zip(sorted(calls), choice.tool_calls, strict=True):
            index, item_id = calls[call_index]
            yield self.event(
                "response.function_call_arguments.done",
                item_id=item_id,
                output_index=index,
                name=call.name,
                arguments=call.arguments,
            )
            output[index] = self.call_item(call, item_id, done=True)
            yield self.event("response.output_item.done", output_index=index, item=output[index])
        if not output:  # an empty reply is still a message
            output.append(self.message_item("", [], done=True))
        status = self.status_of(choice)
        final = "response.incomplete" if status == "incomplete" else "response.completed"
        yield self.event(final, response=self.response(status, output, choice))


async def create_response(request: Request) -> Response:
    limits = limits_of(request)
    body = await read_json(request, ResponsesBody, limits.max_request_bytes)
    chat_request = body.to_request()
    check_message_count(len(chat_request.messages), limits)
    router = generation_of(request).router
    run = chat_call(chat_request)
    if not body.streaming:
        routed = await router.gather(Capability.LLM, body.model, run)
        (choice,) = gather(routed.value)
        writer = ResponseWriter(body, chat_request, body.model or routed.engine)
        return JSONResponse(
            writer.response(writer.status_of(choice), writer.output(choice), choice),
            headers=engine_headers(routed.engine, routed.attempts),
        )
    stream = await router.stream(Capability.LLM, body.model, run)
    writer = ResponseWriter(body, chat_request, body.model or stream.engine)
    return sse_response(writer.events(stream), engine_headers(stream.engine, stream.attempts))


routes = [Route("/v1/responses", create_response, methods=["POST"])]
