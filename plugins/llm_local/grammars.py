"""llama.cpp grammars (GBNF) that hold a reply to JSON: a schema's, any object's, or a name list.

The JSON Schema conversion is llama-cpp-python's (``llama_cpp.llama_grammar.SchemaConverter``).
It enforces structure (types, properties, required, enum, const, unions, arrays, string patterns
and lengths, date/time formats) but not numeric bounds and a few rarer keywords: a schema that
relies on those is refused for a ``strict`` request (the chain may find an engine that honours
it) and treated as a hint otherwise. Imported only when an engine loads (it imports llama_cpp).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from llama_cpp.llama_grammar import SchemaConverter

from core.engines.errors import Unsupported

#: Keywords that constrain values but that the conversion does not enforce.
_NOT_ENFORCED = frozenset(
    {
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "multipleOf",
        "uniqueItems",
        "minProperties",
        "maxProperties",
        "patternProperties",
        "propertyNames",
        "dependentRequired",
        "dependentSchemas",
        "not",
        "if",
        "then",
        "else",
        "contains",
        "minContains",
        "maxContains",
        "unevaluatedProperties",
        "unevaluatedItems",
    }
)
#: Keys whose values are maps of names to schemas (the names are not keywords).
_SCHEMA_MAPS = frozenset({"properties", "$defs", "definitions"})

#: The converter's string character allows raw control characters, which JSON forbids inside a
#: string (a raw newline there makes the output unparseable): this one does not.
_JSON_CHAR = r'char ::= [^"\\\x7F\x00-\x1F] | "\\" (["\\/bfnrt] | "u" [0-9a-fA-F]{4})'

#: The most a repetition count (minItems, maxLength, a pattern's ``{n}``...) may ask for. The
#: converter writes each repetition out in full, and llama.cpp refuses repeats past about 2000
#: (and crashes parsing one nested tens of thousands deep): larger counts are refused up front.
MAX_REPEAT = 1000
_REPEAT_KEYWORDS = ("minItems", "maxItems", "minLength", "maxLength")
_QUANTIFIER = re.compile(r"\{\s*(\d+)\s*(?:,\s*(\d*)\s*)?\}")
#: The longest grammar handed to llama.cpp: parsing one costs time that grows faster than its
#: length (a 100,000-value enum takes tens of seconds), and the engine is busy meanwhile.
MAX_GRAMMAR_CHARS = 100_000

#: Any JSON object (``response_format: json_object``).
ANY_OBJECT: Mapping[str, Any] = {"type": "object"}
#: A function declared without parameters takes none.
NO_ARGUMENTS: Mapping[str, Any] = {"type": "object", "properties": {}}


def unenforced_keywords(schema: Any) -> set[str]:
    """The value-constraining keywords in ``schema`` that the grammar would not enforce."""
    return set(_walk(schema))


def _walk(node: Any) -> Iterator[str]:
    if isinstance(node, list):
        for item in node:
            yield from _walk(item)
    elif isinstance(node, dict):
        for key, value in node.items():
            if key in _NOT_ENFORCED:
                yield key
            if key in _SCHEMA_MAPS and isinstance(value, dict):
                for child in value.values():
                    yield from _walk(child)
            elif key not in ("enum", "const", "default", "examples"):
                yield from _walk(value)


def schema_grammar(schema: Mapping[str, Any], *, strict: bool, what: str) -> str:
    """The GBNF for JSON valid against ``schema``; ``what`` names the schema in refusals."""
    if strict:
        missing = unenforced_keywords(schema)
        if missing:
            raise Unsupported(
                f"llama.cpp grammars cannot enforce {', '.join(sorted(missing))} in {what}: "
                "drop strict, or drop those keywords"
            )
    converter = SchemaConverter(  # type: ignore[no-untyped-call]
        prop_order={}, allow_fetch=False, dotall=False, raw_pattern=False
    )
    try:
        oversized = sorted(set(_oversized_repeats(schema)))
        if oversized:
            raise Unsupported(
                f"{what} repeats too much for a llama.cpp grammar ({', '.join(oversized)}): "
                f"counts above {MAX_REPEAT} are not held"
            )
        resolved = converter.resolve_refs(json.loads(json.dumps(schema)), "input")
        converter.visit(resolved, "")  # type: ignore[no-untyped-call]
    except (
        AssertionError,
        ValueError,
        KeyError,
        TypeError,
        AttributeError,  # a keyword holding the wrong kind of value (properties: [1])
        RecursionError,
    ) as exc:
        raise Unsupported(f"{what} cannot be turned into a llama.cpp grammar: {exc}") from exc
    grammar = _safe_strings(converter.format_grammar())  # type: ignore[no-untyped-call]
    if len(grammar) > MAX_GRAMMAR_CHARS:
        raise Unsupported(
            f"{what} makes a llama.cpp grammar of {len(grammar)} characters, more than "
            f"{MAX_GRAMMAR_CHARS}: shorten its enums or simplify it"
        )
    return grammar


def _oversized_repeats(node: Any) -> Iterator[str]:
    """The repetition keywords (and pattern quantifiers) in ``node`` that ask for more than
    :data:`MAX_REPEAT`."""
    if isinstance(node, list):
        for item in node:
            yield from _oversized_repeats(item)
    elif isinstance(node, dict):
        for key, value in node.items():
            if key in _REPEAT_KEYWORDS and _is_count_over(value):
                yield f"{key}: {value}"
            elif key == "pattern" and isinstance(value, str) and _repeats_over(value):
                yield f"pattern {value[:40]!r}"
            elif key not in ("enum", "const", "default", "examples"):
                yield from _oversized_repeats(value)


def _is_count_over(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value > MAX_REPEAT


def _repeats_over(pattern: str) -> bool:
    return any(
        int(low) > MAX_REPEAT or (high and int(high) > MAX_REPEAT)
        for low, high in _QUANTIFIER.findall(pattern)
    )


def _safe_strings(grammar: str) -> str:
    lines = [_JSON_CHAR if line.startswith("char ::= ") else line for line in grammar.splitlines()]
    return "\n".join(lines)


def choice_grammar(names: Iterable[str]) -> str:
    """Exactly one of ``names`` (function names: letters, digits, ``_`` and ``-``)."""
    return "root ::= " + " | ".join(json.dumps(name) for name in names)
