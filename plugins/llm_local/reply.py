"""One reply of a local model: free text, JSON held to a grammar, or a function call.

A function call is written in steps, each a generation that continues the prompt (llama.cpp keeps
the shared prefix in its cache, so a step costs only its new tokens): the opening of the call is
written for the model, then it picks the function's name (held to the names offered, skipped when
the request names the function), then writes the arguments held to that function's schema. With
``tool_choice: auto`` the model writes freely; if its reply opens with the call tag, the text is
dropped and the call continues in those steps. Runs in the generation thread.
"""

from __future__ import annotations

import codecs
import contextlib
import threading
import uuid
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from typing import Literal, Protocol

import structlog

from core.engines.errors import InvalidRequest
from core.engines.llm import ChatDelta, ChatRequest, TokenLogprob, ToolCallDelta, Usage
from plugins.llm_local import grammars
from plugins.llm_local.chat_template import ChatPrompt, ChatTemplate
from plugins.llm_local.sampling_params import Sampling
from plugins.llm_local.stops import StopMatcher
from plugins.llm_local.tool_prompt import CALL_HEAD, CALL_MIDDLE, CALL_OPEN, prompt_messages

log = structlog.get_logger(__name__)


class TokenModel(Protocol):
    """What a reply needs of the loaded model (loaded_model.LoadedModel)."""

    n_ctx: int
    template: ChatTemplate

    def check_grammar(self, grammar: str) -> None: ...

    def tokenize(self, text: str, add_bos: bool) -> list[int]: ...

    def generate(
        self, tokens: list[int], sampling: Sampling, grammar: str | None = None
    ) -> Generator[int | None, None, None]: ...

    def piece(self, token: int) -> bytes: ...

    def logprob(self, token: int, top: int) -> TokenLogprob: ...


class _Cancelled(Exception):
    """The client went away: the reply ends without a last delta."""


class CallOpening:
    """Watches the start of a free reply for the call tag: text is held back while it could
    still be the tag's beginning (leading whitespace aside), then released or recognised."""

    def __init__(self) -> None:
        self._held = ""
        #: None while undecided; True once the reply opened with the tag; False for prose.
        self.is_call: bool | None = None

    def feed(self, text: str) -> str:
        """The text that can be shown now (nothing while undecided or once it is a call)."""
        if self.is_call is False:
            return text
        self._held += text
        start = self._held.lstrip()
        if start.startswith(CALL_OPEN):
            self.is_call = True
            return ""
        if CALL_OPEN.startswith(start):
            return ""
        self.is_call = False
        held, self._held = self._held, ""
        return held

    def flush(self) -> str:
        """Held text when the reply ends undecided (it was prose after all)."""
        if self.is_call:
            return ""
        held, self._held = self._held, ""
        return held


# Compared by identity and shown without the model's and request's reprs.
@dataclass(eq=False, repr=False)
class Reply:
    model: TokenModel
    request: ChatRequest
    sampling: Sampling
    cancelled: threading.Event
    engine: str
    produced: int = field(default=0, init=False)
    limit: int = field(default=0, init=False)
    prompt_tokens: int = field(default=0, init=False)
    #: Whether the last generation step ended on the model's own end of turn.
    ended: bool = field(default=False, init=False)

    # -- the plan --------------------------------------------------------------------------------

    def run(self) -> Iterator[ChatDelta]:
        request = self.request
        # Grammars first: a schema this engine cannot hold the model to is refused before any
        # output, so the chain can still move on.
        content_grammar = self._content_grammar()
        call_grammars = self._call_grammars()
        for grammar in (content_grammar, *call_grammars.values()):
            if grammar is not None:
                self.model.check_grammar(grammar)
        prompt = self.model.template.render(prompt_messages(request))
        tokens = self.model.tokenize(prompt.text, prompt.add_bos)
        room = self.model.n_ctx - len(tokens)
        if room <= 0:
            raise InvalidRequest(
                f"the prompt is {len(tokens)} tokens but the model's context (n_ctx) holds "
                f"{self.model.n_ctx}: shorten the messages or raise n_ctx",
                param="messages",
                code="context_length_exceeded",
            )
        self.limit = min(self.sampling.max_tokens, room)
        self.prompt_tokens = len(tokens)
        try:
            if call_grammars and request.tool_choice.forced:
                yield from self._call(prompt, call_grammars)
                return
            opening = CallOpening() if call_grammars else None
            yield from self._content(prompt, tokens, content_grammar, opening)
            if opening is not None and opening.is_call:
                yield from self._call(prompt, call_grammars)
        except _Cancelled:
            self._log_cancelled()
        except GeneratorExit:  # closed by the thread bridge: the client went away
            self._log_cancelled()
            raise

    def _log_cancelled(self) -> None:
        log.info("llm.generation_cancelled", engine=self.engine, completion_tokens=self.produced)

    def _content_grammar(self) -> str | None:
        wanted = self.request.response_format
        if wanted is None:
            return None
        if wanted.type == "json_object" or wanted.schema is None:
            return grammars.schema_grammar(grammars.ANY_OBJECT, strict=False, what="json_object")
        what = f"response_format schema {wanted.name!r}" if wanted.name else "the schema"
        return grammars.schema_grammar(wanted.schema, strict=wanted.strict, what=what)

    def _call_grammars(self) -> dict[str, str]:
        """Each callable function's argument grammar (none when no call may be made)."""
        request = self.request
        if not request.uses_tools:
            return {}
        named = request.tool_choice.function
        tools = [tool for tool in request.tools if named is None or tool.name == named]
        return {
            tool.name: grammars.schema_grammar(
                tool.parameters or grammars.NO_ARGUMENTS,
                strict=tool.strict,
                what=f"the parameters of function {tool.name!r}",
            )
            for tool in tools
        }

    # -- text --------------------------------------------------------------------------------------

    def _content(
        self,
        prompt: ChatPrompt,
        tokens: list[int],
        grammar: str | None,
        opening: CallOpening | None,
    ) -> Iterator[ChatDelta]:
        """Free (or grammar-held) text, cut at stop sequences; with ``opening``, ends quietly
        as soon as the reply turns out to be a call."""
        stops = StopMatcher((*self.sampling.stop, *prompt.stops))
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        top = self.request.top_logprobs
        with contextlib.closing(self._tokens(tokens, grammar)) as stream:
            for token in stream:
                logprob = self.model.logprob(token, top) if self.request.logprobs else None
                text = decoder.decode(self.model.piece(token))
                if opening is not None:
                    text = opening.feed(text)
                    if opening.is_call:
                        return
                text = stops.feed(text)
                if stops.stopped:
                    yield ChatDelta(text=text, finish_reason="stop", usage=self._usage())
                    return
                if text or logprob is not None:
                    yield ChatDelta(text=text, logprobs=(logprob,) if logprob is not None else ())
        # Bytes of an unfinished character, and text held back for a stop sequence or the tag.
        tail = decoder.decode(b"", final=True)
        if opening is not None:
            tail = opening.feed(tail) + opening.flush()
        held = stops.feed(tail)
        finish: Literal["stop", "length"] = "stop" if self.ended or stops.stopped else "length"
        if not stops.stopped:
            held += stops.flush()
        yield ChatDelta(text=held, finish_reason=finish, usage=self._usage())

    # -- a function call ---------------------------------------------------------------------------

    def _call(self, prompt: ChatPrompt, call_grammars: dict[str, str]) -> Iterator[ChatDelta]:
        head = prompt.text + CALL_OPEN + CALL_HEAD
        names = list(call_grammars)
        if len(names) == 1:
            name = names[0]
        else:
            name = self._write(head, prompt.add_bos, grammars.choice_grammar(names))
            if not self.ended or name not in call_grammars:
                yield ChatDelta(finish_reason="length", usage=self._usage())
                return
        call_id = f"call_{uuid.uuid4().hex[:24]}"
        yield ChatDelta(tool_calls=(ToolCallDelta(0, id=call_id, name=name),))
        tokens = self.model.tokenize(head + name + CALL_MIDDLE, prompt.add_bos)
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        # The grammar lets a space follow the closing brace: whitespace is held back until more
        # text follows it, so the arguments never end in it.
        spaces = ""
        with contextlib.closing(self._tokens(tokens, call_grammars[name])) as stream:
            for token in stream:
                text = spaces + decoder.decode(self.model.piece(token))
                shown = text.rstrip()
                spaces = text[len(shown) :]
                if shown:
                    yield ChatDelta(tool_calls=(ToolCallDelta(0, arguments=shown),))
        tail = (spaces + decoder.decode(b"", final=True)).rstrip()
        if tail:
            yield ChatDelta(tool_calls=(ToolCallDelta(0, arguments=tail),))
        finish: Literal["tool_calls", "length"] = "tool_calls" if self.ended else "length"
        yield ChatDelta(finish_reason=finish, usage=self._usage())

    def _write(self, text: str, add_bos: bool, grammar: str) -> str:
        """A short grammar-held continuation of ``text``, returned whole."""
        tokens = self.model.tokenize(text, add_bos)
        with contextlib.closing(self._tokens(tokens, grammar)) as stream:
            written = b"".join(self.model.piece(token) for token in stream)
        return written.decode("utf-8", "replace")

    # -- tokens ------------------------------------------------------------------------------------

    def _tokens(self, tokens: list[int], grammar: str | None) -> Generator[int, None, None]:
        """The model's tokens after ``tokens`` until its end of turn (``ended``) or the reply's
        token budget runs out, counting each against the budget."""
        self.ended = False
        if self.produced >= self.limit:
            return
        room = self.model.n_ctx - len(tokens)
        with contextlib.closing(self.model.generate(tokens, self.sampling, grammar)) as sampled:
            for token in sampled:
                if token is None:
                    self.ended = True
                    return
                self.produced += 1
                room -= 1
                yield token
                if self.cancelled.is_set():
                    raise _Cancelled
                if self.produced >= self.limit or room <= 0:
                    return

    def _usage(self) -> Usage:
        return Usage(self.prompt_tokens, self.produced)
