"""memorytool (SPEC 6, 9.3): `remember`, `recall`, `forget`, long-term memory per user.

Memories belong to one user of one app and outlive sessions. They reach the tool through the
`MemoryStore` protocol: one store instance serves one app (as a `SessionService` does), and
every call names the user. `InMemoryMemoryStore` is for tests and single-process use;
`apps.conversations.memory.PostgresMemoryStore` keeps them in the app's schema.

Recall is keyword matching (the `keyword` backend of SPEC 6): the query's words are matched
case-insensitively as substrings, entries are ranked by how many distinct words they contain,
newest first among equals; an empty query lists the newest. `rank_memories` is that rule, and
both stores use it so they answer the same.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from pydantic import Field

from tools.base import ToolContext
from tools.builtin.base import Arguments, ToolRefusal

__all__ = [
    "DEFAULT_RECALL_LIMIT",
    "InMemoryMemoryStore",
    "MemoryEntry",
    "MemoryStore",
    "MemoryTools",
    "rank_memories",
    "search_terms",
]

DEFAULT_RECALL_LIMIT = 5
MAX_RECALL_LIMIT = 50
MAX_MEMORY_CHARS = 10_000
_TICK = timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class MemoryEntry:
    id: str
    user_id: str
    content: str
    created_at: datetime


class MemoryStore(Protocol):
    """Long-term memory of one app, per user."""

    async def add(self, *, user_id: str, content: str) -> MemoryEntry: ...

    async def search(self, *, user_id: str, query: str, limit: int) -> list[MemoryEntry]:
        """Entries of `user_id` ranked by `rank_memories`, at most `limit`."""

    async def delete(self, *, user_id: str, memory_id: str) -> bool:
        """False when `user_id` has no memory `memory_id` (another user's counts as none)."""


def search_terms(query: str) -> list[str]:
    """Distinct lower-case words of `query`, in order."""
    return list(dict.fromkeys(re.findall(r"\w+", query.lower())))


def rank_memories(entries: Iterable[MemoryEntry], query: str, limit: int) -> list[MemoryEntry]:
    """Most matching words first, then newest; entries matching no word are dropped."""
    newest_first = sorted(entries, key=lambda e: (e.created_at, e.id), reverse=True)
    terms = search_terms(query)
    if not terms:
        return newest_first[:limit]
    scored = [(sum(term in e.content.lower() for term in terms), e) for e in newest_first]
    hits = sorted((pair for pair in scored if pair[0] > 0), key=lambda pair: -pair[0])
    return [entry for _, entry in hits[:limit]]


class InMemoryMemoryStore:
    """`MemoryStore` in a dict: one process, gone on restart."""

    def __init__(self) -> None:
        self._entries: dict[str, list[MemoryEntry]] = {}
        self._last_created_at = datetime.min.replace(tzinfo=UTC)

    async def add(self, *, user_id: str, content: str) -> MemoryEntry:
        # Strictly increasing: two adds within one clock tick still sort in the order made.
        created_at = max(datetime.now(UTC), self._last_created_at + _TICK)
        self._last_created_at = created_at
        entry = MemoryEntry(str(uuid.uuid4()), user_id, content, created_at)
        self._entries.setdefault(user_id, []).append(entry)
        return entry

    async def search(self, *, user_id: str, query: str, limit: int) -> list[MemoryEntry]:
        return rank_memories(self._entries.get(user_id, []), query, limit)

    async def delete(self, *, user_id: str, memory_id: str) -> bool:
        entries = self._entries.get(user_id, [])
        kept = [e for e in entries if e.id != memory_id]
        self._entries[user_id] = kept
        return len(kept) < len(entries)


# --- the tools --------------------------------------------------------------------------------


class RememberArgs(Arguments):
    content: str = Field(
        min_length=1,
        max_length=MAX_MEMORY_CHARS,
        description="A self-contained fact worth keeping across conversations.",
    )


class RecallArgs(Arguments):
    query: str = Field(default="", description="Words to look for; empty lists the newest.")
    limit: int = Field(default=DEFAULT_RECALL_LIMIT, ge=1, le=MAX_RECALL_LIMIT)


class ForgetArgs(Arguments):
    memory_id: str = Field(min_length=1, description="The id returned by remember or recall.")


class MemoryTools:
    """Handlers of one memorytool toolset; the user is always the caller's (`context.user_id`)."""

    def __init__(self, store: MemoryStore) -> None:
        self.store = store

    async def remember(self, args: RememberArgs, context: ToolContext) -> dict[str, Any]:
        entry = await self.store.add(user_id=context.user_id, content=args.content)
        return {"id": entry.id, "remembered": entry.content}

    async def recall(self, args: RecallArgs, context: ToolContext) -> dict[str, Any]:
        entries = await self.store.search(
            user_id=context.user_id, query=args.query, limit=args.limit
        )
        memories = [
            {"id": e.id, "content": e.content, "created_at": e.created_at.isoformat()}
            for e in entries
        ]
        return {"memories": memories, "count": len(memories)}

    async def forget(self, args: ForgetArgs, context: ToolContext) -> dict[str, Any]:
        if not await self.store.delete(user_id=context.user_id, memory_id=args.memory_id):
            raise ToolRefusal(f"no memory with id {args.memory_id}")
        return {"forgotten": args.memory_id}
