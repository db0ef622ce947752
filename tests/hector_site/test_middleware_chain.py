"""The ASGI middleware chain stays async from top to bottom.

One sync-only middleware anywhere turns every middleware above it synchronous, so each async view
(A2A JSON-RPC, SSE streams) would run behind a thread and an `async_to_sync` hop per request:
slower, and the request's thread keeps its database connection while the view waits.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.core.handlers.asgi import ASGIHandler
from django.test import override_settings


def test_no_middleware_adapts_the_async_handler_to_sync(caplog: pytest.LogCaptureFixture) -> None:
    with override_settings(DEBUG=True), caplog.at_level(logging.DEBUG, "django.request"):
        ASGIHandler()  # builds the chain; DEBUG logs every sync/async adaptation it makes
    adapted = [r.getMessage() for r in caplog.records if "adapted" in r.getMessage()]
    assert adapted == []


@pytest.mark.parametrize(
    ("path", "lean"),
    [
        ("/agents/assistant", True),
        ("/apps/default/agents/assistant", True),
        ("/.well-known/agent-card.json", True),
        ("/studio/", False),
        ("/admin/apps", False),
        ("/no/such/route", False),
    ],
)
def test_only_lean_routes_skip_the_request_thread_machinery(path: str, lean: bool) -> None:
    from hector_site.lean_asgi import HectorASGIHandler

    assert HectorASGIHandler()._is_lean(path) is lean


def test_lean_routes_are_resolved_once_per_path_and_urlconf(settings: Any) -> None:
    """Requests of one path share a match; another urlconf (a new resolver) resolves again."""
    from hector_site.lean import lean_route

    first = lean_route("/agents/assistant")
    assert first is not None
    assert lean_route("/agents/assistant") is first
    assert lean_route("/studio/") is None
    settings.ROOT_URLCONF = "tests.apps.tenancy.probe_urls"  # has no A2A routes
    assert lean_route("/agents/assistant") is None


@pytest.mark.parametrize(("path", "lean"), [("/agents/assistant", True), ("/studio/", False)])
def test_the_handler_serves_lean_routes_on_its_lean_path(
    path: str, lean: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without it every A2A request takes Django's per-request thread (one per open stream)."""
    from asgiref.sync import async_to_sync

    from hector_site.lean_asgi import HectorASGIHandler

    taken: list[str] = []

    async def lean_path(self: Any, scope: dict[str, Any], receive: Any, send: Any) -> None:
        taken.append("lean")

    async def full_path(self: Any, scope: dict[str, Any], receive: Any, send: Any) -> None:
        taken.append("full")

    monkeypatch.setattr(HectorASGIHandler, "_handle_lean", lean_path)
    monkeypatch.setattr(ASGIHandler, "__call__", full_path)
    scope = {"type": "http", "path": path, "method": "POST", "headers": []}
    async_to_sync(HectorASGIHandler().__call__)(scope, None, None)
    assert taken == ["lean" if lean else "full"]


@pytest.mark.parametrize(
    "chunks",
    [[b'{"jsonrpc": "2.0"}'], [b'{"jsonrpc"', b': "2.0"', b"}"], []],
    ids=["one message", "three messages", "no body"],
)
def test_a_lean_body_arrives_whole_however_it_was_sent(chunks: list[bytes]) -> None:
    from hector_site.lean_asgi import HectorASGIHandler

    messages = [
        {"type": "http.request", "body": chunk, "more_body": index < len(chunks) - 1}
        for index, chunk in enumerate(chunks)
    ] or [{"type": "http.request"}]

    async def receive() -> dict[str, Any]:
        return messages.pop(0)

    body = async_to_sync(HectorASGIHandler()._read_lean_body)(receive)
    assert body.read() == b"".join(chunks)
    assert messages == []


def test_a_client_gone_before_its_body_is_an_aborted_request() -> None:
    from django.core.exceptions import RequestAborted

    from hector_site.lean_asgi import HectorASGIHandler

    async def receive() -> dict[str, Any]:
        return {"type": "http.disconnect"}

    with pytest.raises(RequestAborted):
        async_to_sync(HectorASGIHandler()._read_lean_body)(receive)
