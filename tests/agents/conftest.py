"""Domain tests run without Django: the Python API must use in-memory sessions here, even though
the Django side (loaded in the same pytest process) registers Postgres sessions as the default."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import agents.sessions as sessions


@pytest.fixture(autouse=True)
def in_memory_sessions() -> Iterator[None]:
    previous = sessions._default_session_factory
    sessions.set_default_session_factory(None)
    yield
    sessions.set_default_session_factory(previous)
