"""A2A push notifications (SPEC 7.8): one background POST per config, retried with backoff,
SSRF-checked on every attempt. The receiver is a real HTTP server on 127.0.0.1, reachable only
because the tests list it in HECTOR_PUSH_ALLOWED_HOSTS."""

from __future__ import annotations

import asyncio
import importlib
import logging
import threading
import time
import types
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, Literal

import pytest
from prometheus_client import REGISTRY

from agents.content import TextPart
from agents.tasks import InvalidParams, PushConfig, Task, TaskArtifact, TaskStatus
from apps.tasks import push
from tests.fakes.http import FakeHTTPServer, RecordedRequest, Response

TOKEN = "push-token-s3cret"


class Receiver(FakeHTTPServer):
    """Answers with the scripted statuses in order (then 200), noting when each POST came."""

    def __init__(self, statuses: list[int] | None = None, **headers: str) -> None:
        super().__init__()
        self.statuses = list(statuses or [])
        self.headers = headers
        self.arrived_at: list[float] = []
        self.release = threading.Event()
        self.release.set()

    def handle(self, request: RecordedRequest) -> Response:
        self.arrived_at.append(time.monotonic())
        self.release.wait(5)
        status = self.statuses.pop(0) if self.statuses else 200
        return Response(status, {"ok": status < 300}, headers=self.headers)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as server:
        yield server


@pytest.fixture(autouse=True)
def allow_loopback(settings: Any) -> None:
    settings.HECTOR_PUSH_ALLOWED_HOSTS = ["127.0.0.1"]


@pytest.fixture
def delays(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Retries run at once; the delays they would have waited are recorded."""
    waited: list[float] = []

    async def record(seconds: float) -> None:
        waited.append(seconds)

    monkeypatch.setattr(push, "sleep", record)
    return waited


@pytest.fixture(autouse=True)
def wire(monkeypatch: pytest.MonkeyPatch) -> None:
    """Until `apps.a2a_server.wire` exists, a stand-in renders the task (shape tests skip)."""
    try:
        importlib.import_module("apps.a2a_server.wire")
    except ImportError:
        stub = types.ModuleType("apps.a2a_server.wire")

        def task_json(task: Task, version: str) -> dict[str, Any]:
            return {"id": task.id, "contextId": task.context_id, "stub_version": version}

        stub.task_json = task_json  # type: ignore[attr-defined]
        monkeypatch.setitem(__import__("sys").modules, "apps.a2a_server.wire", stub)


def make_task(state: Literal["completed", "failed", "input-required"] = "completed") -> Task:
    now = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    return Task(
        id="task-1",
        context_id="ctx-1",
        agent="assistant",
        user_id="ann",
        status=TaskStatus(state=state, timestamp=now),
        artifacts=(TaskArtifact(artifact_id="response", parts=(TextPart("done"),)),),
        created_at=now,
        updated_at=now,
    )


def make_config(url: str, **overrides: Any) -> PushConfig:
    fields: dict[str, Any] = {"id": "cfg-1", "task_id": "task-1", "url": url, "token": TOKEN}
    return PushConfig(**(fields | overrides))


def count(result: str) -> float:
    return REGISTRY.get_sample_value("hector_push_notifications_total", {"result": result}) or 0.0


async def deliver(task: Task, *configs: PushConfig) -> None:
    await push.notify(task, configs, app_id="app-1")
    async with asyncio.timeout(10):
        await push.drain()


# --- delivery ------------------------------------------------------------------------------------


async def test_completed_task_is_posted_once_with_both_token_headers(receiver: Receiver) -> None:
    before = count("delivered")
    await deliver(make_task(), make_config(f"{receiver.url}/hook"))

    (request,) = receiver.requests
    assert (request.method, request.path) == ("POST", "/hook")
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert request.headers["x-a2a-notification-token"] == TOKEN
    assert request.headers["content-type"] == "application/json"
    assert request.body["id"] == "task-1"
    assert count("delivered") == before + 1


async def test_no_token_means_no_auth_headers(receiver: Receiver) -> None:
    await deliver(make_task(), make_config(receiver.url, token=None))

    (request,) = receiver.requests
    assert "authorization" not in request.headers
    assert "x-a2a-notification-token" not in request.headers


async def test_authentication_credentials_go_under_their_scheme(receiver: Receiver) -> None:
    auth = {"schemes": ["Basic"], "credentials": "dXNlcjpwdw=="}
    await deliver(make_task(), make_config(receiver.url, authentication=auth))

    (request,) = receiver.requests
    assert request.headers["authorization"] == "Basic dXNlcjpwdw=="
    assert request.headers["x-a2a-notification-token"] == TOKEN


async def test_each_config_gets_its_own_post(receiver: Receiver) -> None:
    configs = [make_config(f"{receiver.url}/{n}", id=f"cfg-{n}") for n in range(3)]
    await deliver(make_task(), *configs)

    assert sorted(r.path for r in receiver.requests) == ["/0", "/1", "/2"]


async def test_notify_returns_before_the_receiver_answers(receiver: Receiver) -> None:
    receiver.release.clear()
    started = time.monotonic()
    await push.notify(make_task(), [make_config(receiver.url)])
    assert time.monotonic() - started < 0.5
    assert push._in_flight  # the delivery is held, so it cannot be garbage-collected

    receiver.release.set()
    async with asyncio.timeout(10):
        await push.drain()
    assert len(receiver.requests) == 1


async def test_token_never_reaches_the_logs(
    receiver: Receiver, delays: list[float], caplog: pytest.LogCaptureFixture
) -> None:
    receiver.statuses = [500, 404]
    with caplog.at_level(logging.DEBUG):
        await deliver(make_task(), make_config(receiver.url))

    assert "task=task-1 app=app-1" in caplog.text
    assert TOKEN not in caplog.text


# --- retries -------------------------------------------------------------------------------------


async def test_500_twice_then_200_makes_three_posts_with_growing_delays(
    receiver: Receiver, delays: list[float]
) -> None:
    receiver.statuses = [500, 500, 200]
    await deliver(make_task(), make_config(receiver.url))

    assert len(receiver.requests) == 3
    first, second = delays
    assert 0.8 <= first <= 1.2
    assert 1.6 <= second <= 2.4


async def test_retry_waits_about_one_second_for_real(receiver: Receiver) -> None:
    receiver.statuses = [503]
    await deliver(make_task(), make_config(receiver.url))

    assert len(receiver.requests) == 2
    gap = receiver.arrived_at[1] - receiver.arrived_at[0]
    assert 0.75 <= gap <= 2.0


async def test_gives_up_after_three_retries(receiver: Receiver, delays: list[float]) -> None:
    before = count("failed")
    receiver.statuses = [502, 503, 504, 500, 200]
    await deliver(make_task(), make_config(receiver.url))

    assert len(receiver.requests) == 4
    assert len(delays) == 3
    assert count("failed") == before + 1


@pytest.mark.parametrize("status", [408, 429])
async def test_408_and_429_are_retried(
    receiver: Receiver, delays: list[float], status: int
) -> None:
    receiver.statuses = [status]
    await deliver(make_task(), make_config(receiver.url))

    assert len(receiver.requests) == 2


async def test_retry_after_is_honoured(delays: list[float]) -> None:
    with Receiver([429], **{"Retry-After": "7"}) as server:
        await deliver(make_task(), make_config(server.url))

    assert delays == [7.0]


@pytest.mark.parametrize("status", [400, 401, 404, 410])
async def test_other_4xx_is_not_retried(
    receiver: Receiver, delays: list[float], status: int
) -> None:
    before = count("rejected")
    receiver.statuses = [status]
    await deliver(make_task(), make_config(receiver.url))

    assert len(receiver.requests) == 1
    assert delays == []
    assert count("rejected") == before + 1


async def test_network_errors_are_retried(delays: list[float]) -> None:
    with Receiver() as gone:
        url = gone.url  # a port nobody listens on once the server stopped
    before = count("failed")
    await deliver(make_task(), make_config(url))

    assert len(delays) == 3
    assert count("failed") == before + 1


# --- SSRF ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url", ["http://10.0.0.7/hook", "http://169.254.169.254/latest", "http://[fd00::1]/"]
)
async def test_private_url_is_refused_without_a_request(url: str, delays: list[float]) -> None:
    before = count("blocked")
    await deliver(make_task(), make_config(url))

    assert delays == []
    assert count("blocked") == before + 1


async def test_loopback_is_refused_unless_allowed(
    receiver: Receiver, settings: Any, delays: list[float]
) -> None:
    settings.HECTOR_PUSH_ALLOWED_HOSTS = []
    await deliver(make_task(), make_config(receiver.url))

    assert receiver.requests == []


async def test_validate_push_url_refuses_with_invalid_params() -> None:
    for url in ("http://192.168.0.10/hook", "file:///etc/passwd", "http://localhost:9/"):
        with pytest.raises(InvalidParams) as caught:
            await push.validate_push_url(url)
        assert caught.value.code == -32602
        assert caught.value.data == {"fields": ["url"]}
        assert "blocked by SSRF policy" in caught.value.message


async def test_validate_push_url_accepts_allowed_and_public_urls() -> None:
    await push.validate_push_url("http://127.0.0.1:8080/hook")
    await push.validate_push_url("https://93.184.215.14/hook")


# --- body shape per wire version (needs apps.a2a_server.wire) -------------------------------------


@pytest.mark.parametrize(
    ("version", "state"), [("0.3", "completed"), ("1.0", "TASK_STATE_COMPLETED")]
)
async def test_body_is_the_task_in_the_version_that_created_the_config(
    receiver: Receiver, version: Literal["0.3", "1.0"], state: str
) -> None:
    from apps.a2a_server import wire

    task = make_task()
    await deliver(task, make_config(receiver.url, wire_version=version))

    (request,) = receiver.requests
    assert request.body == wire.task_json(task, version)
    assert request.body["id"] == "task-1"
    assert request.body["contextId"] == "ctx-1"
    assert request.body["status"]["state"] == state
    assert ("kind" in request.body) == (version == "0.3")
