"""memorytool (SPEC 6, 9.3) on both `MemoryStore`s: one suite, the in-memory store and Postgres.

Tests are sync functions driving async scenarios through `async_to_sync`, as the contract tests
do: the Postgres store's thread-sensitive ORM hops then run on this thread, inside the test's
transaction, and roll back with it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django_tenants.utils import schema_context

from agents.sessions import InMemorySessionService
from tools.base import ToolContext
from tools.builtin import BuiltinEnvironment, BuiltinTool, build_builtin_tools
from tools.builtin.memory import InMemoryMemoryStore, MemoryStore
from tools.config import MemoryToolConfig

DEFAULT_SCHEMA = "app_default"


def drive(scenario: Callable[[], Awaitable[None]]) -> None:
    async_to_sync(scenario)()


@pytest.fixture(params=["memory", "postgres"])
def store(request: pytest.FixtureRequest) -> MemoryStore:
    if request.param == "memory":
        return InMemoryMemoryStore()
    request.getfixturevalue("db")
    from apps.conversations.memory import PostgresMemoryStore

    return PostgresMemoryStore(DEFAULT_SCHEMA)


def memory_tools(store: MemoryStore) -> dict[str, BuiltinTool[Any]]:
    config = MemoryToolConfig.model_validate({"type": "memorytool"})
    env = BuiltinEnvironment(app="default", workspace=Path("unused"), memory=store)
    return {tool.name: tool for tool in build_builtin_tools("memory", config, env)}


async def context_of(user_id: str) -> ToolContext:
    """A fresh session each time: memories must outlive sessions."""
    sessions = InMemorySessionService()
    session = await sessions.create(user_id=user_id, agent="assistant")
    return ToolContext(
        agent="assistant", user_id=user_id, session=session, invocation_id="i", store=sessions
    )


async def recall(tools: dict[str, BuiltinTool[Any]], user_id: str, **arguments: Any) -> list[str]:
    out = await tools["recall"].call(arguments, await context_of(user_id))
    assert not out.is_error, out.content
    return [memory["content"] for memory in out.content["memories"]]


def test_remembered_facts_are_recalled_in_a_later_session(store: MemoryStore) -> None:
    async def scenario() -> None:
        tools = memory_tools(store)
        saved = await tools["remember"].call(
            {"content": "Ann prefers tea over coffee"}, await context_of("ann")
        )
        assert saved.content["remembered"] == "Ann prefers tea over coffee"
        assert await recall(tools, "ann", query="TEA") == ["Ann prefers tea over coffee"]
        assert await recall(tools, "ann", query="whisky") == []

    drive(scenario)


def test_memories_are_per_user(store: MemoryStore) -> None:
    async def scenario() -> None:
        tools = memory_tools(store)
        saved = await tools["remember"].call({"content": "ann's secret"}, await context_of("ann"))
        assert await recall(tools, "bob", query="secret") == []
        assert await recall(tools, "bob") == []
        stolen = await tools["forget"].call(
            {"memory_id": saved.content["id"]}, await context_of("bob")
        )
        assert stolen.is_error
        assert await recall(tools, "ann") == ["ann's secret"]

    drive(scenario)


def test_forget_removes_a_memory(store: MemoryStore) -> None:
    async def scenario() -> None:
        tools = memory_tools(store)
        keep = await tools["remember"].call({"content": "keep me"}, await context_of("ann"))
        drop = await tools["remember"].call({"content": "drop me"}, await context_of("ann"))
        out = await tools["forget"].call({"memory_id": drop.content["id"]}, await context_of("ann"))
        assert out.content == {"forgotten": drop.content["id"]}
        assert await recall(tools, "ann") == ["keep me"]
        again = await tools["forget"].call(
            {"memory_id": drop.content["id"]}, await context_of("ann")
        )
        assert again.is_error
        assert keep.content["id"] != drop.content["id"]

    drive(scenario)


@pytest.mark.parametrize(
    "memory_id", ["not-a-uuid", "00000000-0000-0000-0000-000000000000", "x" * 300]
)
def test_forgetting_an_unknown_id_is_an_error(store: MemoryStore, memory_id: str) -> None:
    async def scenario() -> None:
        out = await memory_tools(store)["forget"].call(
            {"memory_id": memory_id}, await context_of("ann")
        )
        assert out.is_error
        assert "no memory with id" in out.content

    drive(scenario)


def test_recall_ranks_by_matching_words_then_newest(store: MemoryStore) -> None:
    async def scenario() -> None:
        for content in ["apple and banana", "apple", "cherry pie", "banana, apple, cherry", "kiwi"]:
            await store.add(user_id="ann", content=content)
        ranked = await store.search(user_id="ann", query="Apple cherry BANANA", limit=10)
        assert [e.content for e in ranked] == [
            "banana, apple, cherry",
            "apple and banana",
            "cherry pie",
            "apple",
        ]
        top = await store.search(user_id="ann", query="apple", limit=2)
        assert [e.content for e in top] == ["banana, apple, cherry", "apple"]

    drive(scenario)


def test_an_empty_query_lists_the_newest_up_to_the_limit(store: MemoryStore) -> None:
    async def scenario() -> None:
        tools = memory_tools(store)
        for n in range(7):
            await store.add(user_id="ann", content=f"fact {n}")
        assert await recall(tools, "ann") == [f"fact {n}" for n in (6, 5, 4, 3, 2)]
        assert await recall(tools, "ann", limit=2) == ["fact 6", "fact 5"]

    drive(scenario)


def test_like_wildcards_in_a_query_are_plain_text(store: MemoryStore) -> None:
    async def scenario() -> None:
        await store.add(user_id="ann", content="100% sure")
        await store.add(user_id="ann", content="anything")
        found = await store.search(user_id="ann", query="%", limit=5)
        assert [e.content for e in found] == ["anything", "100% sure"]  # no words: newest
        assert [e.content for e in await store.search(user_id="ann", query="100%", limit=5)] == [
            "100% sure"
        ]

    drive(scenario)


def test_postgres_memories_live_in_the_app_schema(db: None) -> None:
    from apps.conversations.memory import PostgresMemoryStore
    from apps.conversations.models import Memory

    entry = async_to_sync(PostgresMemoryStore(DEFAULT_SCHEMA).add)(user_id="ann", content="stored")
    with schema_context(DEFAULT_SCHEMA):
        row = Memory.objects.get(id=entry.id)
    assert (row.user_id, row.content) == ("ann", "stored")
