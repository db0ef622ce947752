"""`agents.sessions.SessionService` on Postgres, for one app's schema.

The store is built with its schema name and names it on every hop (`in_schema`), so it behaves the
same in a request, in a streaming body that outlives the tenant middleware, and in a Celery worker.
Each method is exactly one hop: the sync function it calls in `services` runs its statements (and
its transaction, where it has one) on a single thread's connection.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from agents.sessions import Artifact, Event, Opened, Session
from apps.conversations import services
from apps.tenancy.context import in_schema


class PostgresSessionService:
    """Sessions, events, scoped state and artifacts of the app whose schema is `schema`."""

    def __init__(self, schema: str) -> None:
        self.schema = schema

    async def create(
        self,
        *,
        user_id: str,
        agent: str,
        session_id: str | None = None,
        state: Mapping[str, Any] | None = None,
    ) -> Session:
        return await in_schema(
            self.schema,
            services.create_session,
            user_id=user_id,
            agent=agent,
            session_id=session_id,
            state=state,
        )

    async def get(self, session_id: str, *, user_id: str | None = None) -> Session | None:
        return await in_schema(self.schema, services.get_session, session_id, user_id=user_id)

    async def open(self, session_id: str, *, user_id: str, agent: str) -> Session:
        return await in_schema(
            self.schema, services.open_session, session_id, user_id=user_id, agent=agent
        )

    async def open_or_start(
        self, session_id: str, *, user_id: str, agent: str, first: Event
    ) -> Opened:
        session, stored = await in_schema(
            self.schema,
            services.open_or_start,
            session_id,
            user_id=user_id,
            agent=agent,
            first=first,
        )
        return Opened(session, stored)

    async def append_event(self, session: Session, event: Event) -> Event:
        return await in_schema(
            self.schema, services.append_event, session_id=session.id, event=event
        )

    async def list_events(
        self, session_id: str, *, after: int = 0, limit: int | None = None
    ) -> list[Event]:
        return await in_schema(
            self.schema, services.list_events, session_id, after=after, limit=limit
        )

    async def list_sessions(
        self,
        *,
        user_id: str | None = None,
        agent: str | None = None,
        limit: int = 50,
        after: str | None = None,
    ) -> list[Session]:
        return await in_schema(
            self.schema,
            services.list_sessions,
            user_id=user_id,
            agent=agent,
            limit=limit,
            after=after,
        )

    async def delete(self, session_id: str) -> bool:
        return await in_schema(self.schema, services.delete_session, session_id)

    async def save_artifact(
        self, session: Session, *, name: str, data: bytes | str, mime_type: str
    ) -> int:
        return await in_schema(
            self.schema,
            services.save_artifact,
            session_id=session.id,
            user_id=session.user_id,
            name=name,
            data=data,
            mime_type=mime_type,
        )

    async def load_artifact(
        self, session: Session, *, name: str, version: int | None = None
    ) -> Artifact | None:
        return await in_schema(
            self.schema,
            services.load_artifact,
            session_id=session.id,
            user_id=session.user_id,
            name=name,
            version=version,
        )

    async def list_artifacts(self, session: Session) -> list[str]:
        return await in_schema(
            self.schema, services.list_artifacts, session_id=session.id, user_id=session.user_id
        )
