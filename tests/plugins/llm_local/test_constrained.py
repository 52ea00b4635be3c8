"""Grammar-held decoding on SmolLM2: the JSON-schema grammars, and the cheaper constrained pick
checked token for token against llama-cpp-python's own grammar sampler."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import jsonschema
import pytest

from core.engines.errors import Unsupported
from core.engines.llm import ChatRequest, FunctionTool, ResponseFormat, ToolChoice
from plugins.llm_local import grammars, samplers
from plugins.llm_local.engine import LlamaCppEngine
from plugins.llm_local.loaded_model import LoadedModel
from plugins.llm_local.sampling_params import sampling_for
from plugins.llm_local.settings import LlamaCppSettings
from tests.plugins.llm_local.support import ask, collect, loaded_engine

PERSON: dict[str, Any] = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "maxLength": 30},
        "age": {"type": "integer"},
        "pets": {"type": "array", "items": {"enum": ["cat", "dog", "fish"]}, "maxItems": 3},
        "nickname": {"type": ["string", "null"], "maxLength": 20},
    },
    "required": ["name", "age", "pets", "nickname"],
    "additionalProperties": False,
}


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaCppEngine]:
    with loaded_engine({}, tmp_path_factory.mktemp("constrained")) as engine:
        yield engine


def model_of(engine: LlamaCppEngine) -> LoadedModel:
    assert engine._model is not None
    return engine._model


def test_strings_in_the_grammar_cannot_hold_raw_control_characters() -> None:
    grammar = grammars.schema_grammar({"type": "string"}, strict=True, what="s")
    (char,) = [line for line in grammar.splitlines() if line.startswith("char ::=")]
    assert r"\x00-\x1F" in char


def test_keywords_the_grammar_cannot_hold_are_refused_when_strict() -> None:
    schema = {
        "type": "object",
        "properties": {
            "minimum": {"type": "integer", "minimum": 3},  # a property named like a keyword
            "tags": {"type": "array", "uniqueItems": True},
        },
        "$defs": {"x": {"not": {"type": "null"}}},
    }
    assert grammars.unenforced_keywords(schema) == {"minimum", "uniqueItems", "not"}
    with pytest.raises(Unsupported, match="cannot enforce minimum, not, uniqueItems in s"):
        grammars.schema_grammar(schema, strict=True, what="s")
    assert "root ::=" in grammars.schema_grammar(schema, strict=False, what="s")


def test_a_schema_the_converter_cannot_read_is_unsupported() -> None:
    with pytest.raises(Unsupported, match=r"cannot be turned into a llama\.cpp grammar"):
        grammars.schema_grammar({"$ref": "elsewhere.json"}, strict=False, what="the schema")


@pytest.mark.parametrize(
    ("schema", "named"),
    [
        ({"type": "array", "items": {"type": "integer"}, "minItems": 10**9}, "minItems"),
        ({"type": "string", "maxLength": 100_000}, "maxLength"),
        ({"properties": {"a": {"type": "string", "pattern": "^a{5000000}$"}}}, "pattern"),
    ],
)
def test_repetition_counts_past_the_limit_are_refused_before_conversion(
    schema: dict[str, Any], named: str
) -> None:
    # Converted, these would take minutes and gigabytes, or crash llama.cpp's grammar parser.
    with pytest.raises(Unsupported, match=f"repeats too much.*{named}"):
        grammars.schema_grammar(schema, strict=False, what="the schema")


def test_a_grammar_too_long_to_parse_quickly_is_refused() -> None:
    with pytest.raises(Unsupported, match="characters, more than"):
        grammars.schema_grammar({"enum": list(range(50_000))}, strict=False, what="the schema")


@pytest.mark.parametrize(
    "schema",
    [{"type": "object", "properties": [1]}, {"type": "array", "items": 5}],
)
def test_a_keyword_holding_the_wrong_kind_of_value_is_unsupported(schema: dict[str, Any]) -> None:
    with pytest.raises(Unsupported, match=r"cannot be turned into a llama\.cpp grammar"):
        grammars.schema_grammar(schema, strict=False, what="the schema")


def generated(model: LoadedModel, request: ChatRequest, grammar: str) -> list[int]:
    prompt = model.template.render(request.messages)
    tokens = model.tokenize(prompt.text, prompt.add_bos)
    sampling = sampling_for(LlamaCppSettings(), request)
    out = []
    for token in model.generate(tokens, sampling, grammar):
        if token is None or len(out) >= 120:
            break
        out.append(token)
    return out


def library_generated(model: LoadedModel, request: ChatRequest, grammar: str) -> list[int]:
    """The same with llama-cpp-python's sampler chain, which runs the grammar over the whole
    vocabulary at every step."""
    del model.llama._init_sampler  # the instance's override: the class method again
    try:
        return generated(model, request, grammar)
    finally:
        samplers.install(model.llama)


@pytest.mark.parametrize(
    "grammar",
    [
        grammars.schema_grammar(PERSON, strict=True, what="person"),
        grammars.schema_grammar(grammars.ANY_OBJECT, strict=False, what="object"),
        grammars.choice_grammar(["get_weather", "get_time", "get_news"]),
    ],
    ids=["schema", "any-object", "names"],
)
def test_greedy_constrained_picks_match_llama_cpp_token_for_token(
    engine: LlamaCppEngine, grammar: str
) -> None:
    model = model_of(engine)
    request = ask("Describe a person with pets, as JSON.", temperature=0)
    ours = generated(model, request, grammar)
    assert len(ours) > 2
    assert ours == library_generated(model, request, grammar)


@pytest.mark.parametrize("seed", [1, 2])
async def test_sampled_json_is_valid_for_its_schema(engine: LlamaCppEngine, seed: int) -> None:
    request = ask(
        "Describe a person with pets.",
        temperature=0.9,
        seed=seed,
        max_tokens=200,
        response_format=ResponseFormat("json_schema", PERSON, "person", strict=True),
    )
    deltas = await collect(engine, request)
    assert deltas[-1].finish_reason == "stop"
    jsonschema.validate(json.loads("".join(d.text for d in deltas)), PERSON)


async def test_a_forced_call_streams_its_arguments(engine: LlamaCppEngine) -> None:
    tool = FunctionTool("set_alarm", "Set an alarm", PERSON)
    request = ask(
        "Wake me at seven.",
        temperature=0,
        max_tokens=120,
        tools=(tool,),
        tool_choice=ToolChoice("required"),
    )
    deltas = await collect(engine, request)
    pieces = [piece for d in deltas for piece in d.tool_calls]
    assert pieces[0].name == "set_alarm" and pieces[0].id
    assert len(pieces) > 3, "the arguments should stream in pieces"
    arguments = "".join(p.arguments for p in pieces)
    assert arguments == arguments.strip()
    jsonschema.validate(json.loads(arguments), PERSON)
    assert deltas[-1].finish_reason == "tool_calls"
    assert not "".join(d.text for d in deltas)


async def test_a_reply_cut_by_max_tokens_mid_call_says_length(engine: LlamaCppEngine) -> None:
    request = ask(
        "Wake me at seven.",
        temperature=0,
        max_tokens=4,
        tools=(FunctionTool("set_alarm", None, PERSON),),
        tool_choice=ToolChoice("required", "set_alarm"),
    )
    deltas = await collect(engine, request)
    assert deltas[-1].finish_reason == "length"
    assert deltas[-1].usage is not None and deltas[-1].usage.completion_tokens == 4


def test_the_engine_refuses_an_unholdable_strict_tool_before_any_output(
    engine: LlamaCppEngine,
) -> None:
    tool = FunctionTool(
        "count", None, {"type": "object", "properties": {"n": {"minimum": 1}}}, strict=True
    )
    request = ask("Count.", tools=(tool,), tool_choice=ToolChoice("required"))
    model = model_of(engine)
    replies = model.reply(
        request, sampling_for(engine.settings, request), threading.Event(), engine="t"
    )
    with pytest.raises(Unsupported, match="parameters of function 'count'"):
        next(iter(replies))
