"""`tools.builtin.memory.MemoryStore` on Postgres, for one app's schema.

Like `PostgresSessionService`, the store names its schema on every hop (`in_schema`), so it
works the same in a request, a streaming body and a Celery worker. Ranking is
`tools.builtin.memory.rank_memories` applied to the rows matching any query word, so both stores
answer a recall identically; the database only narrows the candidates.
"""

from __future__ import annotations

import uuid
from functools import reduce
from operator import or_

from django.db.models import Q
from django.utils import timezone

from apps.conversations.models import Memory
from apps.tenancy.context import in_schema
from tools.builtin.memory import MemoryEntry, rank_memories, search_terms

__all__ = ["PostgresMemoryStore"]

#: Rows ranked per recall, newest first. Past this many matches the oldest are not considered.
MAX_CANDIDATES = 1000


class PostgresMemoryStore:
    """Memories of the app whose schema is `schema`."""

    def __init__(self, schema: str) -> None:
        self.schema = schema

    async def add(self, *, user_id: str, content: str) -> MemoryEntry:
        return await in_schema(self.schema, _add, user_id=user_id, content=content)

    async def search(self, *, user_id: str, query: str, limit: int) -> list[MemoryEntry]:
        return await in_schema(self.schema, _search, user_id=user_id, query=query, limit=limit)

    async def delete(self, *, user_id: str, memory_id: str) -> bool:
        return await in_schema(self.schema, _delete, user_id=user_id, memory_id=memory_id)


def _entry(row: Memory) -> MemoryEntry:
    return MemoryEntry(str(row.id), row.user_id, row.content, row.created_at)


def _add(*, user_id: str, content: str) -> MemoryEntry:
    row = Memory.objects.create(user_id=user_id, content=content, created_at=timezone.now())
    return _entry(row)


def _search(*, user_id: str, query: str, limit: int) -> list[MemoryEntry]:
    rows = Memory.objects.filter(user_id=user_id)
    terms = search_terms(query)
    if terms:
        rows = rows.filter(reduce(or_, (Q(content__icontains=term) for term in terms)))
        rows = rows.order_by("-created_at", "-id")[:MAX_CANDIDATES]
    else:
        rows = rows.order_by("-created_at", "-id")[:limit]
    return rank_memories((_entry(row) for row in rows), query, limit)


def _delete(*, user_id: str, memory_id: str) -> bool:
    try:
        key = uuid.UUID(memory_id)
    except ValueError:
        return False  # not an id this store could have given out
    deleted, _ = Memory.objects.filter(user_id=user_id, id=key).delete()
    return deleted > 0
