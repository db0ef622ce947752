"""The task bus across processes: Postgres LISTEN/NOTIFY always, Redis when REDIS_URL is set.

"Another process" is either a second `TaskBus` with its own backend connections and origin (what
a process has), or a real `python -c` child with Django set up that publishes or asks for a
cancel through the process-wide bus.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest
from django.db import connection

from agents.content import DataPart, FilePart, TextPart, ThinkingPart, ToolCallPart, ToolResultPart
from agents.llm.base import TextDelta
from agents.tasks import (
    ArtifactUpdate,
    StatusUpdate,
    Task,
    TaskArtifact,
    TaskMessage,
    TaskStatus,
    TaskUpdate,
)
from apps.conversations.stores import PostgresSessionService
from apps.tasks import bus
from apps.tasks.bus import Backend, PostgresBackend, RedisBackend, TaskBus, postgres_conninfo
from apps.tasks.codec import update_from_json, update_to_json
from apps.tasks.runtime import local_run, override_runtime
from apps.tasks.service import TaskService
from apps.tenancy.models import App
from tests.apps.tasks.helpers import PAUSE, GatedLLM, drive, eventually, text_turn, user_message

ROOT = Path(__file__).resolve().parents[3]
WHEN = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def status(state: str = "working", *, final: bool = False, text: str | None = None) -> StatusUpdate:
    message = (
        TaskMessage(message_id="m1", role="agent", parts=(TextPart(text),), task_id="t1")
        if text
        else None
    )
    return StatusUpdate("t1", "c1", TaskStatus(state, WHEN, message), final=final)  # type: ignore[arg-type]


def chunk(text: str, *, append: bool = True) -> ArtifactUpdate:
    artifact = TaskArtifact("response", (TextPart(text),), name="response")
    return ArtifactUpdate("t1", "c1", artifact, append=append)


# --- codec --------------------------------------------------------------------------------------


def test_every_update_kind_round_trips_through_json() -> None:
    message = TaskMessage(
        message_id="m",
        role="user",
        parts=(
            TextPart("hi"),
            DataPart({"a": [1, 2]}),
            FilePart("image/png", data=b"\x89PNG", name="p.png"),
            ThinkingPart("hmm", "sig"),
            ToolCallPart("c1", "lookup", {"q": "x"}),
            ToolResultPart("c1", "lookup", {"r": 1}, is_error=True),
        ),
        context_id="c1",
        task_id="t1",
        reference_task_ids=("t0",),
        metadata={"k": "v"},
        extensions=("urn:x",),
    )
    task = Task(
        id="t1",
        context_id="c1",
        agent="assistant",
        user_id="ann",
        status=TaskStatus("input-required", WHEN, message),
        history=(message,),
        artifacts=(TaskArtifact("response", (TextPart("x"),), name="response"),),
        metadata={"include_thinking": True},
        created_at=WHEN,
        updated_at=WHEN,
    )
    updates: list[TaskUpdate] = [task, status(final=True, text="done"), chunk("x", append=False)]

    assert [update_from_json(update_to_json(u)) for u in updates] == updates


# --- two buses in one test process --------------------------------------------------------------


def postgres_backend() -> Backend:
    return PostgresBackend(postgres_conninfo())


def redis_backend() -> Backend:
    return RedisBackend(os.environ["REDIS_URL"])


BACKENDS = [
    pytest.param(postgres_backend, id="postgres"),
    pytest.param(redis_backend, id="redis", marks=pytest.mark.redis),
]


@pytest.fixture(params=BACKENDS)
def two_buses(
    request: pytest.FixtureRequest, django_db_setup: None
) -> Iterator[tuple[TaskBus, TaskBus]]:
    factory: Callable[[], Backend] = request.param
    publisher, subscriber = TaskBus(factory), TaskBus(factory)
    yield publisher, subscriber
    publisher.shutdown()
    subscriber.shutdown()


async def receive(subscription: bus.Subscription, count: int) -> list[TaskUpdate]:
    received: list[TaskUpdate] = []
    async with asyncio.timeout(10):
        while len(received) < count:
            update = await subscription.get()
            assert update is not None
            received.append(update)
    return received


def test_updates_reach_another_bus_in_order(two_buses: tuple[TaskBus, TaskBus]) -> None:
    publisher, subscriber = two_buses
    sent = [status(), *(chunk(f"part {i} ") for i in range(40)), status("completed", final=True)]

    async def scenario() -> list[TaskUpdate]:
        async with await subscriber.subscribe("app_x", "t1") as subscription:
            assert await publisher.wait_followed("app_x", "t1")
            for update in sent:
                await publisher.publish("app_x", "t1", update)
            return await receive(subscription, len(sent))

    assert drive(scenario) == sent


def test_a_local_subscriber_takes_each_update_before_the_publisher_goes_on(
    django_db_setup: None,
) -> None:
    """A run publishing from a full buffer of model deltas never waits by itself: each publish
    lets the stream's reader write the update out first."""
    local = TaskBus(postgres_backend)
    order: list[str] = []

    async def scenario() -> None:
        subscription = await local.subscribe("app_x", "t1", remote=False)

        async def reader() -> None:
            for _ in range(3):
                update = await subscription.get()
                assert isinstance(update, ArtifactUpdate)
                order.append(f"read {update.artifact.parts[0].text}")  # type: ignore[union-attr]

        reading = asyncio.create_task(reader())
        await asyncio.sleep(0)  # the reader waits on its subscription
        for text in ("a", "b", "c"):
            await local.publish("app_x", "t1", chunk(text))
            order.append(f"published {text}")
        await reading
        subscription.close()

    try:
        drive(scenario)
    finally:
        local.shutdown()
    assert order == ["read a", "published a", "read b", "published b", "read c", "published c"]


def test_updates_stay_home_until_another_process_follows_the_task(
    two_buses: tuple[TaskBus, TaskBus],
) -> None:
    """Text deltas are most of a run's updates: sent to no one, they cost no round trip."""
    publisher, subscriber = two_buses

    async def scenario() -> list[TaskUpdate]:
        async with await subscriber.subscribe("app_x", "t1") as subscription:
            assert await publisher.wait_followed("app_x", "t1")
            assert not publisher.followed_elsewhere("app_x", "t2")
            # Nobody follows t2: only its final status is sent.
            await publisher.publish("app_x", "t2", chunk("unseen"))
            await publisher.publish("app_x", "t2", status(text="t2 progress"))
            await publisher.publish("app_x", "t2", status("completed", final=True))
            await publisher.publish("app_x", "t1", status(text="t1 progress"))
            await publisher.publish("app_x", "t1", chunk("seen"))
            await publisher.publish("app_x", "t1", status("completed", final=True))
            sent = publisher._worker._sequence  # type: ignore[union-attr]
            return [*await receive(subscription, 3), next(sent)]

    *received, next_sequence = drive(scenario)
    assert received == [
        status(text="t1 progress"),
        chunk("seen"),
        status("completed", final=True),
    ]
    # Frames sent: "who" at connect, t2's final status, then t1's three updates.
    assert next_sequence == 6


def test_a_bus_that_connects_later_learns_who_follows_what(
    two_buses: tuple[TaskBus, TaskBus],
) -> None:
    """A worker started after a follower subscribed still sends it the chunks."""
    late, subscriber = two_buses

    async def scenario() -> list[TaskUpdate]:
        async with await subscriber.subscribe("app_x", "t1") as subscription:
            assert await late.ready()  # connects now: asks, and the subscriber answers
            assert await late.wait_followed("app_x", "t1")
            await late.publish("app_x", "t1", chunk("late "))
            return await receive(subscription, 1)

    assert drive(scenario) == [chunk("late ")]


def test_an_update_larger_than_a_notify_payload_arrives_whole(
    two_buses: tuple[TaskBus, TaskBus],
) -> None:
    publisher, subscriber = two_buses
    big = chunk('é"quoted" ' * 4000)  # ~60 KB of JSON once escaped
    sent = [big, big, status("completed", final=True)]  # identical twins must both arrive

    async def scenario() -> list[TaskUpdate]:
        async with await subscriber.subscribe("app_x", "t1") as subscription:
            assert await publisher.wait_followed("app_x", "t1")
            for update in sent:
                await publisher.publish("app_x", "t1", update)
            return await receive(subscription, len(sent))

    assert drive(scenario) == sent


def test_a_bus_ignores_tasks_nobody_subscribed_to_and_its_own_echo(
    two_buses: tuple[TaskBus, TaskBus],
) -> None:
    publisher, subscriber = two_buses

    async def scenario() -> list[TaskUpdate]:
        async with (
            await subscriber.subscribe("app_x", "t1") as theirs,
            await publisher.subscribe("app_x", "t1") as ours,
        ):
            assert await publisher.wait_followed("app_x", "t1")
            await publisher.publish("app_x", "other-task", status(text="not for t1"))
            await publisher.publish("app_x", "t1", status(text="for t1"))
            await publisher.publish("app_x", "t1", status("completed", final=True))
            await receive(theirs, 2)
            # Local delivery only: the publisher's own frames coming back are dropped.
            mine = await receive(ours, 2)
            assert await ours.get(timeout_s=0.3) is None
            return mine

    assert [u.status.state for u in drive(scenario)] == ["working", "completed"]  # type: ignore[union-attr]


def notify(channel: str, payload: str) -> None:
    """What the statement writing a task's final state does, on a connection of its own."""
    with psycopg.connect(postgres_conninfo(), autocommit=True) as db:
        db.execute("SELECT pg_notify(%s, %s)", (channel, payload))


def test_a_final_update_can_ride_with_the_rows_statement(django_db_setup: None) -> None:
    """Its frame, NOTIFYed by the statement writing the final state, reaches a follower whose
    interest had not reached the publisher yet; published with `sent`, it goes out once."""
    publisher, subscriber = TaskBus(postgres_backend), TaskBus(postgres_backend)
    final = status("completed", final=True, text="done")

    async def scenario() -> list[TaskUpdate | None]:
        frame = publisher.row_frame("app_x", "t1", final)  # nobody follows t1 yet
        assert frame is not None
        async with await subscriber.subscribe("app_x", "t1") as subscription:
            await asyncio.to_thread(notify, *frame)
            await publisher.publish("app_x", "t1", final, sent=True)
            return [*await receive(subscription, 1), await subscription.get(timeout_s=0.3)]

    try:
        assert drive(scenario) == [final, None]
    finally:
        publisher.shutdown()
        subscriber.shutdown()


def test_the_bus_sends_a_final_update_itself_when_the_row_cannot_carry_it(
    two_buses: tuple[TaskBus, TaskBus],
) -> None:
    """Redis listens elsewhere; a followed task's final must come after its queued chunks; a
    notification holds at most ~8,000 bytes."""
    publisher, subscriber = two_buses
    on_postgres = publisher.row_frame("app_x", "t2", status("completed", final=True))
    oversized = publisher.row_frame("app_x", "t2", status("failed", final=True, text="x" * 8000))

    async def followed() -> tuple[str, str] | None:
        async with await subscriber.subscribe("app_x", "t1"):
            assert await publisher.wait_followed("app_x", "t1")
            return publisher.row_frame("app_x", "t1", status("completed", final=True))

    assert (on_postgres is not None) == isinstance(publisher._worker.backend, PostgresBackend)  # type: ignore[union-attr]
    assert oversized is None
    assert drive(followed) is None


def test_cancel_requests_reach_the_other_bus(two_buses: tuple[TaskBus, TaskBus]) -> None:
    publisher, subscriber = two_buses
    requested: list[tuple[str, str]] = []
    subscriber.set_cancel_handler(lambda schema, task_id: requested.append((schema, task_id)))

    async def scenario() -> None:
        assert await subscriber.ready()
        await publisher.request_cancel("app_x", "t9")

        async def arrived() -> bool:
            return bool(requested)

        await eventually(arrived)

    drive(scenario)
    assert requested == [("app_x", "t9")]


# --- a real second process ----------------------------------------------------------------------


def child_env(*, redis: bool) -> dict[str, str]:
    settings = connection.settings_dict
    user = quote(settings["USER"] or "")
    password = f":{quote(settings['PASSWORD'])}" if settings["PASSWORD"] else ""
    host = settings["HOST"] or "localhost"
    port = settings["PORT"] or "5432"
    if host.startswith("/"):
        url = f"postgresql://{user}{password}@/{settings['NAME']}?host={host}&port={port}"
    else:
        url = f"postgresql://{user}{password}@{host}:{port}/{settings['NAME']}"
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "DJANGO_SETTINGS_MODULE": "hector_site.settings",
        "HECTOR_DB_POOL_MAX": "0",
        "PYTHONPATH": str(ROOT),
    }
    if not redis:
        env.pop("REDIS_URL", None)
    return env


CHILD = """
import asyncio, sys, django
django.setup()
from apps.tasks import bus
from tests.apps.tasks.test_bus import chunk, status

async def main(schema, task_id, action):
    assert await bus.get_bus().ready(), "backend not reachable"
    if action == "cancel":
        await bus.request_cancel(schema, task_id)
        return
    assert await bus.get_bus().wait_followed(schema, task_id), "nobody follows the task"
    updates = [status(), chunk("from "), chunk("another "), chunk("x" * 20000)]
    for update in [*updates, status("completed", final=True)]:
        await bus.publish(schema, task_id, update)

asyncio.run(main(*sys.argv[1:]))
bus.shutdown()
"""


async def run_child(*args: str, redis: bool) -> None:
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        CHILD,
        *args,
        env=child_env(redis=redis),
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(child.communicate(), 60)
    assert child.returncode == 0, output.decode()


PROCESS_BACKENDS = [
    pytest.param(False, id="postgres"),
    pytest.param(True, id="redis", marks=pytest.mark.redis),
]


@pytest.fixture(params=PROCESS_BACKENDS)
def process_bus(request: pytest.FixtureRequest, task_bus: None) -> Iterator[bool]:
    """The process-wide bus on the wanted backend (reset before and after)."""
    use_redis: bool = request.param
    saved = os.environ.get("REDIS_URL")
    if not use_redis:
        os.environ.pop("REDIS_URL", None)
    bus.shutdown()
    yield use_redis
    bus.shutdown()
    if saved is not None:
        os.environ["REDIS_URL"] = saved


@pytest.mark.django_db
def test_updates_published_by_another_process_reach_subscribers(process_bus: bool) -> None:
    async def scenario() -> list[TaskUpdate]:
        async with await bus.subscribe("app_x", "from-child") as subscription:
            await run_child("app_x", "from-child", "publish", redis=process_bus)
            return await receive(subscription, 5)

    received = drive(scenario)

    assert [type(u).__name__ for u in received] == [
        "StatusUpdate",
        "ArtifactUpdate",
        "ArtifactUpdate",
        "ArtifactUpdate",
        "StatusUpdate",
    ]
    assert received[3] == chunk("x" * 20000)
    assert received[-1] == status("completed", final=True)


@pytest.mark.django_db
def test_another_process_can_cancel_a_run_of_this_one(process_bus: bool, task_app: App) -> None:
    llm = GatedLLM([[TextDelta("partial "), PAUSE, *text_turn("never")]])
    service = TaskService(task_app)

    async def scenario() -> Task:
        task = await service.send(
            agent="assistant", user_id="ann", message=user_message(), blocking=False
        )
        await llm.wait_paused()
        assert await bus.get_bus().ready()
        await run_child(task_app.schema_name, task.id, "cancel", redis=process_bus)

        async def stopped() -> bool:
            return local_run(task_app.schema_name, task.id) is None

        await eventually(stopped)
        return await service.get(task.id)

    with override_runtime(task_app.id, llms={"default": llm}):
        task = drive(scenario)

    assert task.status.state == "canceled"
    assert llm.closed_early == 1
    sessions = PostgresSessionService(task_app.schema_name)
    events = drive(lambda: sessions.list_events(task.context_id))
    assert events[-1].parts[0] == DataPart(
        {"hector_type": "status", "state": "canceled", "message": "canceled"}
    )
