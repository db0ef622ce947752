"""The `remote` agent (SPEC 4.2, 7.7) against peers in another process: the a2a-sdk reference
server (`tests/fakes/a2a_peer.py`), and, in `test_remote_agent_live.py`, our own server. Bad
peers (slow, malformed, erroring) are small in-process HTTP fakes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import pytest

from agents.a2a_client import A2AClient
from agents.config import HectorConfig
from agents.events import (
    ErrorEvent,
    FinalEvent,
    InterruptedEvent,
    RunEvent,
    StatusEvent,
    TextDeltaEvent,
)
from agents.llm_agent import status_of
from agents.remote_agent import REMOTE_LINK_PREFIX
from agents.runner import Runner
from agents.sessions import InMemorySessionService
from tests.fakes.a2a_peer import BadPeer, Peer, start_peer
from tests.fakes.http import Response
from tests.fakes.script import Reply
from tests.fakes.scripted_llm import ScriptedLLM

LINK = REMOTE_LINK_PREFIX + "remote"
PATHS = ["/v1", "/v03"]


@pytest.fixture(scope="module")
def peer() -> Iterator[Peer]:
    started = start_peer()
    yield started
    started.stop()


def make(
    remote: dict[str, Any], *, allowed: list[str] | None = None, **agents: Any
) -> tuple[Runner, InMemorySessionService]:
    config = HectorConfig.model_validate(
        {
            "llms": {"default": {"provider": "ollama", "model": "qwen3"}},
            "agents": {"remote": {"type": "remote", **remote}, **agents},
            "server": {"remote_allowed_hosts": ["127.0.0.1"] if allowed is None else allowed},
        },
        context={"env": {}},
    )
    store = InMemorySessionService()
    return Runner(config, sessions=store), store


async def run(runner: Runner, text: str, **kwargs: Any) -> list[RunEvent]:
    kwargs.setdefault("user_id", "u1")
    return [e async for e in runner.run(agent="remote", message=text, **kwargs)]


def error_of(events: list[RunEvent]) -> ErrorEvent:
    assert isinstance(events[-1], ErrorEvent), events[-1]
    return events[-1]


# --- against the reference peer -------------------------------------------------------------


@pytest.mark.parametrize("path", PATHS)
async def test_remote_streams_the_peers_answer_and_links_the_session(peer: Peer, path: str) -> None:
    runner, store = make({"url": peer.url + path, "output_key": "reply"})
    events = await run(runner, "hello")
    await runner.aclose()

    answer = events[-1]
    assert isinstance(answer, FinalEvent)
    assert (answer.agent, answer.text) == ("remote", "echo: hello")
    deltas = [(e.agent, e.text) for e in events if isinstance(e, TextDeltaEvent)]
    assert deltas == [("remote", "echo: "), ("remote", "hello")]
    assert StatusEvent("remote", "thinking about it") in events
    started = next(e.message for e in events if isinstance(e, StatusEvent))
    assert started.startswith("remote task ")
    session = await store.get(answer.session_id)
    assert session is not None
    link = session.state[LINK]
    assert link["state"] == "completed"
    assert link["task_id"]
    assert link["context_id"]
    assert session.state["reply"] == "echo: hello"
    stored = await store.list_events(answer.session_id)
    assert [e.author for e in stored] == ["user", "remote"]


@pytest.mark.parametrize("path", PATHS)
async def test_input_required_surfaces_and_the_answer_goes_to_the_same_remote_task(
    peer: Peer, path: str
) -> None:
    runner, store = make({"url": peer.url + path})
    asked = await run(runner, "ask")
    question = asked[-1]
    assert isinstance(question, InterruptedEvent)
    assert (question.agent, question.state, question.message) == (
        "remote",
        "input-required",
        "Which account?",
    )
    session = await store.get(question.session_id)
    assert session is not None
    first_link = session.state[LINK]
    assert first_link["state"] == "input-required"

    answered = await run(runner, "savings", session_id=question.session_id)
    await runner.aclose()
    answer = answered[-1]
    assert isinstance(answer, FinalEvent)
    assert answer.text == "got: savings"
    session = await store.get(question.session_id)
    assert session is not None
    assert session.state[LINK]["task_id"] == first_link["task_id"]
    assert session.state[LINK]["state"] == "completed"


async def test_a_failed_remote_task_fails_the_run_with_the_remotes_message(peer: Peer) -> None:
    runner, store = make({"url": peer.url + "/v1"})
    first = await run(runner, "hello")
    session_id = first[-1].session_id  # type: ignore[union-attr]
    failure = error_of(await run(runner, "fail", session_id=session_id))
    await runner.aclose()

    assert failure.message == 'remote agent "remote" ended failed: peer could not do it'
    assert failure.code == "remote_agent_failed"
    stored = await store.list_events(session_id)
    assert [e.author for e in stored[:2]] == ["user", "remote"]  # earlier turn kept
    assert status_of(stored[-1]) is not None


async def test_a_slow_peer_times_out_without_hanging(peer: Peer) -> None:
    runner, store = make({"url": peer.url + "/v1", "timeout": "500ms"})
    started = time.perf_counter()
    failure = error_of(await run(runner, "wait"))
    elapsed = time.perf_counter() - started
    await runner.aclose()

    assert elapsed < 3
    assert failure.code == "remote_agent_timeout"
    assert failure.message.startswith('remote agent "remote": ')
    assert "0.5s" in failure.message
    assert failure.session_id is not None
    stored = await store.list_events(failure.session_id)
    assert stored[0].author == "user"


async def test_cancelling_the_run_cancels_the_remote_task(peer: Peer) -> None:
    runner, store = make({"url": peer.url + "/v1"})
    session = await store.create(user_id="u1", agent="remote")
    seen: list[RunEvent] = []

    async def consume() -> None:
        async for event in runner.run(
            agent="remote", user_id="u1", message="wait", session_id=session.id
        ):
            seen.append(event)

    task = asyncio.create_task(consume())
    async with asyncio.timeout(10):
        while not any(isinstance(e, StatusEvent) for e in seen):  # noqa: ASYNC110
            await asyncio.sleep(0.02)
    task.cancel()
    async with asyncio.timeout(10):
        with pytest.raises(asyncio.CancelledError):
            await task
    await runner.aclose()

    current = await store.get(session.id)
    assert current is not None
    link = current.state[LINK]
    assert link["state"] == "canceled"
    async with A2AClient(url=peer.url + "/v1", allowed_hosts=["127.0.0.1"]) as client:
        remote_task = await client.get(link["task_id"])
    assert remote_task.status.state == "canceled"


async def test_remote_hosts_outside_the_allow_list_are_refused(peer: Peer) -> None:
    runner, _ = make({"url": peer.url + "/v1"}, allowed=[])
    failure = error_of(await run(runner, "hello"))
    await runner.aclose()
    assert failure.code == "ssrf_blocked"
    assert 'remote agent "remote"' in failure.message


# --- bad peers ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reply", "code", "fragment"),
    [
        (
            Response(200, body=None, stream=[b"{not json"], content_type="application/json"),
            "invalid_agent_response",
            "invalid JSON",
        ),
        (
            Response(200, {"jsonrpc": "2.0", "id": "1", "result": {"unexpected": True}}),
            "invalid_agent_response",
            "invalid response",
        ),
        (
            Response(
                200,
                {"jsonrpc": "2.0", "id": "1", "error": {"code": -32603, "message": "boom inside"}},
            ),
            "remote_agent_error",
            "boom inside",
        ),
        (Response(502, {"error": "bad gateway"}), "remote_agent_unreachable", "HTTP 502"),
    ],
    ids=["malformed-json", "not-a-task", "jsonrpc-error", "http-502"],
)
async def test_bad_peers_fail_the_run_with_a_clear_message(
    reply: Response, code: str, fragment: str
) -> None:
    bad = BadPeer(reply)
    bad.start()
    try:
        runner, store = make({"url": bad.url, "timeout": "5s"})
        started = time.perf_counter()
        failure = error_of(await run(runner, "hello"))
        await runner.aclose()
    finally:
        bad.stop()
    assert time.perf_counter() - started < 5
    assert failure.code == code, failure.message
    assert fragment in failure.message
    assert failure.message.startswith('remote agent "remote": ')
    assert failure.session_id is not None
    stored = await store.list_events(failure.session_id)
    assert [e.author for e in stored] == ["user", "remote"]
    assert status_of(stored[-1]) is not None


# --- inside a workflow ----------------------------------------------------------------------


async def test_a_remote_step_that_asks_for_input_stops_the_workflow(peer: Peer) -> None:
    config = HectorConfig.model_validate(
        {
            "llms": {"default": {"provider": "ollama", "model": "qwen3"}},
            "agents": {
                "flow": {"type": "sequential", "sub_agents": ["remote", "after"]},
                "remote": {"type": "remote", "url": peer.url + "/v1"},
                "after": {"instruction": "Never reached."},
            },
            "server": {"remote_allowed_hosts": ["127.0.0.1"]},
        },
        context={"env": {}},
    )
    runner = Runner(config, sessions=InMemorySessionService())
    events = [e async for e in runner.run(agent="flow", user_id="u1", message="ask")]
    await runner.aclose()
    end = events[-1]
    assert isinstance(end, InterruptedEvent)
    assert end.message == "Which account?"


async def test_the_next_message_goes_on_from_the_remote_step_that_asked(peer: Peer) -> None:
    """The answer goes to the remote step; the step before is not asked again, the one after
    runs."""
    config = HectorConfig.model_validate(
        {
            "llms": {
                "before": {"provider": "ollama", "model": "qwen3"},
                "after": {"provider": "ollama", "model": "qwen3"},
            },
            "agents": {
                "flow": {"type": "sequential", "sub_agents": ["before", "remote", "after"]},
                "before": {"llm": "before", "instruction": "Prepare."},
                "remote": {"type": "remote", "url": peer.url + "/v1"},
                "after": {"llm": "after", "instruction": "Sum up."},
            },
            "server": {"remote_allowed_hosts": ["127.0.0.1"]},
        },
        context={"env": {}},
    )
    llms = {
        "before": ScriptedLLM([Reply(text="prepared")]),
        "after": ScriptedLLM([Reply(text="summed up")]),
    }
    runner = Runner(config, sessions=InMemorySessionService(), llms=dict(llms))
    asked = [e async for e in runner.run(agent="flow", user_id="u1", message="ask")]
    question = asked[-1]
    assert isinstance(question, InterruptedEvent)

    answered = [
        e
        async for e in runner.run(
            agent="flow", user_id="u1", message="savings", session_id=question.session_id
        )
    ]
    await runner.aclose()

    answer = answered[-1]
    assert isinstance(answer, FinalEvent)
    assert (answer.agent, answer.text) == ("flow", "summed up")
    assert len(llms["before"].requests) == 1
    remote_said = [e.text for e in answered if isinstance(e, TextDeltaEvent)]
    assert "got: savings" in "".join(remote_said)
