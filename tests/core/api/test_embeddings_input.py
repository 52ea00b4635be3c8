"""/v1/embeddings input as cl100k_base token ids, and dimensions beyond the model's (fake engine:
the API's own logic)."""

from __future__ import annotations

import openai
import pytest

from tests.support import WriteConfig
from tests.support.daemon import openai_gateway

CONFIG = """\
engines:
  embed: {capability: embeddings, engine: fake}
routes: {embeddings: [embed]}
aliases: {text-embedding-ada-002: embeddings}
"""
HELLO_WORLD = [9906, 1917]  # "Hello world" in cl100k_base


async def test_token_ids_embed_like_their_text(write_config: WriteConfig) -> None:
    async with openai_gateway(write_config(CONFIG)) as client:
        as_text = await client.embeddings.create(
            model="text-embedding-ada-002", input=["Hello world", "Hello"]
        )
        as_ids = await client.embeddings.create(
            model="text-embedding-ada-002", input=[HELLO_WORLD, [9906]]
        )
        one = await client.embeddings.create(model="text-embedding-ada-002", input=HELLO_WORLD)
    assert [d.embedding for d in as_ids.data] == [d.embedding for d in as_text.data]
    assert one.data[0].embedding == as_text.data[0].embedding


@pytest.mark.parametrize(
    ("value", "said"),
    [
        ([[9906, 999_999]], "token id 999999 is not in cl100k_base"),
        ([[100270]], "token id 100270 is not in the vocabulary"),
        ([[]], "input strings must not be empty"),
    ],
)
async def test_bad_token_input_is_a_400(
    write_config: WriteConfig, value: list[list[int]], said: str
) -> None:
    async with openai_gateway(write_config(CONFIG)) as client:
        with pytest.raises(openai.BadRequestError) as caught:
            await client.embeddings.create(model="text-embedding-ada-002", input=value)
    assert caught.value.param == "input"
    assert said in caught.value.message


async def test_dimensions_beyond_the_model_state_its_size(write_config: WriteConfig) -> None:
    async with openai_gateway(write_config(CONFIG)) as client:
        with pytest.raises(openai.BadRequestError) as caught:
            await client.embeddings.create(
                model="text-embedding-ada-002", input="hello", dimensions=1536
            )
        shorter = await client.embeddings.create(
            model="text-embedding-ada-002", input="hello", dimensions=2
        )
    assert caught.value.param == "dimensions"
    assert "more than the 3 that 'embed' makes" in caught.value.message
    assert len(shorter.data[0].embedding) == 2


@pytest.mark.parametrize(
    ("value", "param"),
    [(["hello", 5], "input.1"), ([1, [2]], "input.0"), ({"text": "hello"}, "input")],
)
async def test_input_of_no_accepted_shape_names_the_item_at_fault(
    write_config: WriteConfig, value: object, param: str
) -> None:
    # Each accepted shape (text, texts, ids, lists of ids) fails on its own: the param names a
    # place in the body, never one of the shapes ("input.str").
    async with openai_gateway(write_config(CONFIG)) as client:
        with pytest.raises(openai.BadRequestError) as caught:
            await client.embeddings.create(model="text-embedding-ada-002", input=value)  # type: ignore[arg-type]
    assert caught.value.param == param
    assert f"'{param}'" in caught.value.message
