"""Hundreds of interleaved async requests of two apps never read each other's rows."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from apps.tenancy.services import create_app, delete_app

REQUESTS_PER_APP = 120
ROUTES = ("/probe/in-schema", "/probe/request-thread", "/probe/stream")


@pytest.fixture(scope="module")
def two_committed_apps(
    django_db_setup: None, django_db_blocker: Any
) -> Iterator[dict[str, tuple[str, list[str]]]]:
    """Committed rows: the ASGI handler's threads use their own connections, not the test's."""
    specs = {"iso-alpha": ["alpha-one", "alpha-two"], "iso-beta": ["beta-one"]}
    tokens: dict[str, tuple[str, list[str]]] = {}
    with django_db_blocker.unblock():
        for app_id, agents in specs.items():
            config = {
                "llms": {"default": {"provider": "ollama"}},
                "agents": {name: {"llm": "default"} for name in agents},
            }
            created = create_app(name=app_id, app_id=app_id, config=config, issuer="http://test")
            tokens[app_id] = (created.access_token, sorted(agents))
    try:
        yield tokens
    finally:
        with django_db_blocker.unblock():
            for app_id in specs:
                delete_app(app_id=app_id)


@pytest.mark.django_db(transaction=False)
async def test_interleaved_requests_of_two_apps_never_cross_read(
    two_committed_apps: dict[str, tuple[str, list[str]]], settings: Any
) -> None:
    settings.ROOT_URLCONF = "tests.apps.tenancy.probe_urls"
    from hector_site.asgi import application

    transport = httpx.ASGITransport(app=application)
    cross_reads: list[str] = []

    async def call(client: httpx.AsyncClient, app_id: str, index: int) -> None:
        token, expected = two_committed_apps[app_id]
        route = ROUTES[index % len(ROUTES)]
        response = await client.get(route, headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 200, response.text
        if route.endswith("stream"):
            payloads = [
                json.loads(line[6:])
                for line in response.text.splitlines()
                if line.startswith("data: ")
            ]
            assert len(payloads) == 3
        else:
            payloads = [response.json()]
        for payload in payloads:
            if payload["app"] != app_id or payload["agents"] != expected:
                cross_reads.append(f"{app_id} via {route} saw {payload}")

    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        calls = [
            call(client, app_id, index)
            for index in range(REQUESTS_PER_APP)
            for app_id in two_committed_apps
        ]
        await asyncio.gather(*calls)

    assert len(calls) >= 200
    assert cross_reads == []
