"""Real agent and framework clients against a real daemon with the shipped models (SmolLM2,
MiniLM): openai-agents (an Agent with a function tool, over the Responses and the Chat
Completions APIs, whole and streamed), langchain-openai (structured output, the default
OpenAIEmbeddings that sends token ids), litellm, and chromadb's OpenAI embedding function. A
135M model picks tools badly, so calls are forced through the clients' own settings and only
structure is checked."""

from __future__ import annotations

import asyncio
import importlib.util
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import openai
import pytest
from pydantic import BaseModel

from tests.support.daemon import serving

CONFIG = """\
reload: {watch: false}
engines:
  smollm2: {capability: llm, engine: llama_cpp, preload: true}
  minilm:
    capability: embeddings
    engine: sentence_transformers
    preload: true
    settings: {cache_dir: "%s"}
routes: {llm: [smollm2], embeddings: [minilm]}
aliases:
  "*": llm
  text-embedding-ada-002: embeddings
  text-embedding-3-small: embeddings
"""


class Person(BaseModel):
    name: str
    age: int


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("clients")
    with serving(folder, CONFIG % (folder / "onnx")) as base:
        yield base


@pytest.fixture
def offline_tiktoken(monkeypatch: pytest.MonkeyPatch) -> None:
    """tiktoken (LangChain's tokenizer) downloads cl100k_base on first use; litellm ships that
    very file under tiktoken's cache name, so tiktoken finds it there and stays offline."""
    spec = importlib.util.find_spec("litellm")
    assert spec is not None and spec.submodule_search_locations
    folder = Path(spec.submodule_search_locations[0]) / "litellm_core_utils" / "tokenizers"
    assert (folder / "9b5ad71b2ce5302211f9c61530b329a4922fc6a4").is_file()
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(folder))


# -- openai-agents -----------------------------------------------------------------------------


@pytest.mark.parametrize("api", ["responses", "chat_completions"])
@pytest.mark.parametrize("streamed", [False, True])
def test_an_agent_calls_its_function_tool_and_answers(url: str, api: str, streamed: bool) -> None:
    from agents import (
        Agent,
        ModelSettings,
        OpenAIChatCompletionsModel,
        OpenAIResponsesModel,
        RunConfig,
        Runner,
        function_tool,
    )
    from agents.items import MessageOutputItem, ToolCallItem, ToolCallOutputItem

    calls: list[str] = []

    @function_tool
    def get_weather(city: str) -> str:
        """The current weather in a city."""
        calls.append(city)
        return f"It is 22 degrees and sunny in {city}."

    async def run() -> Any:
        client = openai.AsyncOpenAI(base_url=url + "/v1", api_key="unused", max_retries=0)
        model = (
            OpenAIResponsesModel("gpt-4o-mini", client)
            if api == "responses"
            else OpenAIChatCompletionsModel("gpt-4o-mini", client)
        )
        agent = Agent(
            name="weather",
            instructions="Answer weather questions: call the tool, then answer in one sentence.",
            tools=[get_weather],
            model=model,
            # Forced on the first turn; the agent resets it after the call, so the second turn
            # (with the tool's result) may answer.
            model_settings=ModelSettings(tool_choice="get_weather", temperature=0, max_tokens=80),
        )
        config = RunConfig(tracing_disabled=True)
        question = "What is the weather in Paris?"
        try:
            if not streamed:
                return await Runner.run(agent, question, run_config=config, max_turns=4)
            result = Runner.run_streamed(agent, question, run_config=config, max_turns=4)
            async for _event in result.stream_events():
                pass
            return result
        finally:
            await client.close()

    result = asyncio.run(run())
    assert len(calls) == 1 and isinstance(calls[0], str) and calls[0]
    kinds = [type(item) for item in result.new_items]
    assert kinds == [ToolCallItem, ToolCallOutputItem, MessageOutputItem]
    assert result.new_items[1].output == f"It is 22 degrees and sunny in {calls[0]}."
    # The second turn was asked with the tool's result and answered in text.
    sent = result.to_input_list()
    outputs = [i for i in sent if isinstance(i, dict) and i.get("type") == "function_call_output"]
    assert outputs and outputs[0]["output"] == result.new_items[1].output
    assert isinstance(result.final_output, str) and result.final_output.strip()
    assert len(result.raw_responses) == 2


# -- langchain-openai --------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["json_schema", "function_calling"])
def test_langchain_structured_output(url: str, method: str) -> None:
    from langchain_openai import ChatOpenAI

    llm = ChatOpenAI(
        model="gpt-4o-mini",
        base_url=url + "/v1",
        api_key="unused",  # type: ignore[arg-type]
        temperature=0,
        max_tokens=80,  # type: ignore[call-arg]
        max_retries=0,
    )
    person = llm.with_structured_output(Person, method=method).invoke(  # type: ignore[arg-type]
        "Invent a person: a name and an age."
    )
    assert isinstance(person, Person)
    assert person.name.strip()


def test_langchain_default_embeddings_send_token_ids(url: str, offline_tiktoken: None) -> None:
    from langchain_openai import OpenAIEmbeddings

    sent: list[Any] = []

    def record(request: httpx.Request) -> None:
        sent.append(json.loads(request.content)["input"])

    with httpx.Client(event_hooks={"request": [record]}) as http:
        embeddings = OpenAIEmbeddings(
            base_url=url + "/v1",
            api_key="unused",  # type: ignore[arg-type]
            max_retries=0,
            http_client=http,
        )
        long_text = "The quick brown fox jumps over the lazy dog. " * 200
        documents = embeddings.embed_documents(["hello world", long_text])
        query = embeddings.embed_query("hello world")
    # The client tokenised (cl100k_base) and sent ids, not text.
    assert all(isinstance(batch, list) and isinstance(batch[0], list) for batch in sent)
    assert isinstance(sent[0][0][0], int)
    assert [len(vector) for vector in documents] == [384, 384]
    # The ids were decoded back to the same words: the query and the document agree.
    assert float(np.dot(query, documents[0])) == pytest.approx(1.0, abs=1e-4)


# -- litellm -----------------------------------------------------------------------------------


@pytest.fixture
def litellm_offline(monkeypatch: pytest.MonkeyPatch) -> Any:
    # litellm fetches its model price list at import unless told to use the bundled copy.
    monkeypatch.setenv("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    import litellm

    return litellm


def test_litellm_chat_tools_streaming_and_embeddings(url: str, litellm_offline: Any) -> None:
    litellm = litellm_offline
    common: dict[str, Any] = {"api_base": url + "/v1", "api_key": "unused"}
    tools = [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "parameters": {
                    "type": "object",
                    "properties": {"city": {"type": "string"}},
                    "required": ["city"],
                },
            },
        }
    ]
    reply = litellm.completion(
        model="openai/gpt-4o-mini",
        messages=[{"role": "user", "content": "What is the weather in Paris?"}],
        tools=tools,
        tool_choice="required",
        temperature=0,
        max_tokens=60,
        **common,
    )
    choice = reply.choices[0]
    assert choice.finish_reason == "tool_calls"
    (call,) = choice.message.tool_calls
    assert call.function.name == "get_weather"
    assert isinstance(json.loads(call.function.arguments)["city"], str)
    chunks = litellm.completion(
        model="openai/gpt-4o-mini",
        messages=[{"role": "user", "content": "Say hello."}],
        stream=True,
        max_tokens=12,
        **common,
    )
    assert "".join(c.choices[0].delta.content or "" for c in chunks).strip()
    embedded = litellm.embedding(model="openai/text-embedding-3-small", input=["hello"], **common)
    assert len(embedded.data[0]["embedding"]) == 384


# -- chromadb ----------------------------------------------------------------------------------


def test_chromadb_openai_embedding_function_fills_and_queries_a_collection(
    url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import chromadb
    from chromadb.utils.embedding_functions import OpenAIEmbeddingFunction

    # Chroma stores the function's config with the collection and reads the key from here.
    monkeypatch.setenv("CHROMA_OPENAI_API_KEY", "unused")
    embed = OpenAIEmbeddingFunction(model_name="text-embedding-3-small", api_base=url + "/v1")
    client = chromadb.PersistentClient(path=str(tmp_path / "chroma"))
    collection = client.create_collection("notes", embedding_function=embed)  # type: ignore[arg-type]
    collection.add(
        ids=["boil", "tide", "bees"],
        documents=[
            "Water boils at 100 degrees Celsius at sea level.",
            "The tides are raised by the pull of the moon.",
            "Honey bees make honey from the nectar of flowers.",
        ],
    )
    found = collection.query(query_texts=["What does the moon do to the sea?"], n_results=1)
    assert found["ids"] == [["tide"]]
    stored = collection.get(ids=["bees"], include=["embeddings"])
    assert stored["embeddings"] is not None and len(stored["embeddings"][0]) == 384
