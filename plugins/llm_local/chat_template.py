"""Turning chat messages into the model's prompt text.

By default the Jinja chat template stored in the GGUF is used, as the model's authors wrote it.
``chat_format`` may instead name another template stored in the GGUF
(``tokenizer.chat_template.<name>``) or one of llama-cpp-python's named chat formats, for GGUFs
that carry no template. Imported only when an engine loads (it imports llama_cpp).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import jinja2
import llama_cpp
from llama_cpp import llama_chat_format

from core.engines.errors import EngineUnavailable, InvalidRequest
from core.engines.llm import ChatMessage

Formatter = Callable[..., Any]  # llama_chat_format.ChatFormatter: messages=... -> response


@dataclass(frozen=True, slots=True)
class ChatPrompt:
    text: str
    #: Whether the tokenizer must add BOS (the template did not write it).
    add_bos: bool
    #: Text stops the format asks for, such as its end-of-turn marker written as plain text.
    stops: tuple[str, ...]


class ChatTemplate:
    def __init__(self, formatter: Formatter, source: str) -> None:
        self._formatter = formatter
        #: Where the template came from, for status pages.
        self.source = source

    def render(self, messages: Sequence[ChatMessage]) -> ChatPrompt:
        try:
            result = self._formatter(messages=[_as_dict(m) for m in messages])
        except (ValueError, jinja2.TemplateError) as exc:
            # Templates reject what the model was not trained on (e.g. roles not alternating).
            raise InvalidRequest(
                f"the model's chat template rejected the messages: {exc}", param="messages"
            ) from exc
        stop = result.stop
        stops = (stop,) if isinstance(stop, str) else tuple(stop or ())
        return ChatPrompt(text=result.prompt, add_bos=not result.added_special, stops=stops)


def _as_dict(message: ChatMessage) -> dict[str, str]:
    # Templates know the system role; OpenAI's newer "developer" role means the same.
    role = "system" if message.role == "developer" else message.role
    entry = {"role": role, "content": message.content}
    if message.name is not None:
        entry["name"] = message.name
    return entry


def chat_template(llama: llama_cpp.Llama, chat_format: str | None) -> ChatTemplate:
    """The template for a loaded model, or EngineUnavailable naming what is available."""
    metadata: dict[str, str] = llama.metadata
    if chat_format is None:
        template = metadata.get("tokenizer.chat_template")
        if template is None:
            raise EngineUnavailable(
                f"the GGUF {llama.model_path} has no chat template: set `chat_format:` to one "
                f"of {', '.join(_named_formats())}"
            )
        return ChatTemplate(_jinja(llama, template), "gguf")
    stored = metadata.get(f"tokenizer.chat_template.{chat_format}")
    if stored is not None:
        return ChatTemplate(_jinja(llama, stored), f"gguf:{chat_format}")
    formatter = _named_formatter(chat_format)
    if formatter is None:
        raise EngineUnavailable(
            f"unknown chat_format {chat_format!r}: use one of {', '.join(_named_formats())}, "
            "a template stored in the GGUF, or leave it unset for the GGUF's own template"
        )
    return ChatTemplate(formatter, chat_format)


def _jinja(llama: llama_cpp.Llama, template: str) -> Formatter:
    vocab = llama_cpp.llama_model_get_vocab(llama.model)

    def text_of(token: int) -> str:
        if token < 0:
            return ""
        return bytes(llama_cpp.llama_vocab_get_text(vocab, token)).decode("utf-8", "replace")

    return llama_chat_format.Jinja2ChatFormatter(
        template=template,
        eos_token=text_of(llama.token_eos()),
        bos_token=text_of(llama.token_bos()),
        add_generation_prompt=True,
    )


def _named_formats() -> list[str]:
    registry = llama_chat_format.LlamaChatCompletionHandlerRegistry()  # type: ignore[no-untyped-call]
    handlers: dict[str, Any] = registry._chat_handlers
    return [name for name in handlers if _named_formatter(name) is not None]


def _named_formatter(name: str) -> Formatter | None:
    """The prompt formatter behind one of llama-cpp-python's named chat formats.

    The library registers each format only as a complete chat handler (formatting plus
    generation) that closes over its formatter; the formatter alone is what is needed here, so it
    is read from that closure. Handlers that are not plain formatters (function calling,
    multimodal) have no such closure and are not offered.
    """
    try:
        handler = llama_chat_format.get_chat_completion_handler(name)
    except Exception:  # the library's own "not found" exception
        return None
    code = getattr(handler, "__code__", None)
    closure = getattr(handler, "__closure__", None)
    if code is None or closure is None or code.co_freevars != ("chat_formatter",):
        return None
    formatter: Formatter = closure[0].cell_contents
    return formatter
