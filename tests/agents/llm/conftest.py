"""Fixtures every provider test module shares: a script, its wire fake, the LLM built on it.

A module names its provider with `PROVIDER = "<name>"` (the shared behaviour module parametrizes
`provider` instead); `tests/fakes/<name>_server.py` supplies `Fake` and `make_llm`.
"""

from __future__ import annotations

import importlib
from collections.abc import AsyncIterator, Iterator
from types import ModuleType
from typing import Any

import pytest

from tests.fakes.script import Script, SleepRecorder


@pytest.fixture
def provider(request: pytest.FixtureRequest) -> ModuleType:
    return importlib.import_module(f"tests.fakes.{request.module.PROVIDER}_server")


@pytest.fixture
def script() -> Script:
    return Script()


@pytest.fixture
def fake(provider: ModuleType, script: Script) -> Iterator[Any]:
    server = provider.Fake(script)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def sleeps() -> SleepRecorder:
    return SleepRecorder()


@pytest.fixture
async def llm(provider: ModuleType, fake: Any, sleeps: SleepRecorder) -> AsyncIterator[Any]:
    client = provider.make_llm(fake, max_retries=2, sleep=sleeps)
    yield client
    await client.aclose()
