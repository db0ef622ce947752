"""The ApprovalStore contract, against the in-memory and the Postgres store (as the session
store's contract suite does: sync tests driving async scenarios inside the test transaction)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from asgiref.sync import async_to_sync

from agents.content import DataPart, TextPart
from apps.approvals.store import PostgresApprovalStore
from tests.fakes.http import FakeHTTPServer, RecordedRequest, Response
from tools.approvals import (
    Approval,
    ApprovalNotPending,
    ApprovalStore,
    Decision,
    InMemoryApprovalStore,
    ask_webhook,
    denial_text,
    new_approval,
    parse_decision,
)

DEFAULT_SCHEMA = "app_default"

# The database must be set up before the first test asks for it lazily (getfixturevalue).
pytestmark = pytest.mark.django_db


def drive(scenario: Callable[[], Awaitable[None]]) -> None:
    async_to_sync(scenario)()


@pytest.fixture(params=["memory", "postgres"])
def store(request: pytest.FixtureRequest) -> ApprovalStore:
    if request.param == "memory":
        return InMemoryApprovalStore()
    return PostgresApprovalStore(DEFAULT_SCHEMA)


def ask(call_id: str = "c1", session_id: str = "s1", **kwargs: Any) -> Approval:
    return new_approval(
        session_id=session_id,
        agent="ops",
        call_id=call_id,
        tool_name="bash",
        arguments={"command": "ls"},
        prompt="Run ls?",
        task_id="t1",
        **kwargs,
    )


def test_create_get_and_find_by_call(store: ApprovalStore) -> None:
    async def scenario() -> None:
        created = await store.create(ask())
        assert await store.get(created.id) == created
        assert await store.for_call("s1", "c1") == created
        assert await store.for_call("s1", "other") is None
        assert await store.get("ghost") is None
        assert [a.id for a in await store.pending("s1")] == [created.id]
        assert await store.pending("s2") == []

    drive(scenario)


def test_asking_twice_for_one_call_keeps_the_first(store: ApprovalStore) -> None:
    async def scenario() -> None:
        first = await store.create(ask())
        again = await store.create(ask())
        if isinstance(store, PostgresApprovalStore):
            assert again.id == first.id  # the unique (session, call) row answers
        assert (await store.for_call("s1", "c1")).id == first.id  # type: ignore[union-attr]

    drive(scenario)


@pytest.mark.parametrize(("approved", "state"), [(True, "approved"), (False, "denied")])
def test_decide_once(store: ApprovalStore, approved: bool, state: str) -> None:
    async def scenario() -> None:
        created = await store.create(ask())
        decided = await store.decide(created.id, approved=approved, reason="why", decided_by="me")
        assert (decided.state, decided.reason, decided.decided_by) == (state, "why", "me")
        assert decided.decided_at is not None
        assert await store.get(created.id) == decided
        assert await store.pending("s1") == []
        with pytest.raises(ApprovalNotPending, match=f"already {state}"):
            await store.decide(created.id, approved=not approved)
        with pytest.raises(ApprovalNotPending, match="not found"):
            await store.decide("ghost", approved=True)

    drive(scenario)


def test_a_late_decision_records_expired_and_denies(store: ApprovalStore) -> None:
    async def scenario() -> None:
        created = await store.create(ask(timeout_s=0.01))
        await asyncio.sleep(0.02)
        assert created.current_state() == "expired"
        decided = await store.decide(created.id, approved=True)
        assert decided.state == "expired"
        assert denial_text(decided) == "denied by user: the approval request expired"

    drive(scenario)


def test_current_state_without_deadline_stays_pending() -> None:
    approval = ask()
    assert approval.current_state(datetime.now(UTC) + timedelta(days=365)) == "pending"
    assert denial_text(approval) == "denied by user: no reason given"
    assert approval.request_data() == {
        "hector_type": "approval_request",
        "approval_id": approval.id,
        "call_id": "c1",
        "tool_name": "bash",
        "arguments": {"command": "ls"},
        "prompt": "Run ls?",
    }


@pytest.mark.parametrize(
    ("parts", "expected"),
    [
        ([TextPart("approve")], Decision(True)),
        ([TextPart("Yes")], Decision(True)),
        ([TextPart("ok.")], Decision(True)),
        ([TextPart("no: too risky")], Decision(False, None, "too risky")),
        ([TextPart("deny - not today")], Decision(False, None, "not today")),
        ([DataPart({"approval_id": "a1", "decision": "approve"})], Decision(True, "a1")),
        (
            [DataPart({"approval_id": "a1", "decision": "deny", "reason": "no"})],
            Decision(False, "a1", "no"),
        ),
        ([DataPart({"approved": False})], Decision(False)),
        ([TextPart("yes"), DataPart({"decision": "deny"})], Decision(False)),
    ],
)
def test_parse_decision(parts: list[Any], expected: Decision) -> None:
    assert parse_decision(parts) == expected


@pytest.mark.parametrize(
    "parts",
    [
        [],
        [TextPart("")],
        [TextPart("what does this command do?")],
        [TextPart("yesterday")],
        [DataPart({"decision": "maybe"})],
        [DataPart({"approved": "yes"})],
    ],
)
def test_anything_else_is_not_a_decision(parts: list[Any]) -> None:
    assert parse_decision(parts) is None


class Webhook(FakeHTTPServer):
    def __init__(self, *replies: Response) -> None:
        super().__init__()
        self.replies = list(replies)
        self.seen: list[RecordedRequest] = []

    def handle(self, request: RecordedRequest) -> Response:
        self.seen.append(request)
        return self.replies.pop(0)


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        (Response(body={"approved": True}), True),
        (Response(body={"approved": False}), False),
        (Response(body={"approved": "yes"}), None),
        (Response(body=["approved"]), None),
        (Response(status=500, body={"approved": True}), None),
        (Response(body=b"not json", content_type="text/plain"), None),
    ],
)
async def test_webhook_decides_only_with_a_boolean(reply: Response, expected: bool | None) -> None:
    hook = Webhook(reply)
    hook.start()
    try:
        approval = ask()
        assert await ask_webhook(hook.url + "/approve", approval) is expected
        (request,) = hook.seen
        assert request.path == "/approve"
        assert request.json() == {
            "tool_name": "bash",
            "parameters": {"command": "ls"},
            "agent": "ops",
            "session_id": "s1",
            "task_id": "t1",
            "approval_id": approval.id,
        }
    finally:
        hook.stop()


async def test_an_unreachable_webhook_decides_nothing() -> None:
    hook = Webhook()
    hook.start()
    url = hook.url
    hook.stop()
    assert await ask_webhook(url, ask()) is None
