"""The `remote` agent against our own server (`hector serve` in a subprocess): answers stream
back, one remote conversation spans our turns, and an input-required two hops away (our server's
own remote agent asking the reference peer) reaches the caller and the answer finds its way back.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from agents.config import HectorConfig
from agents.events import FinalEvent, InterruptedEvent, RunEvent, TextDeltaEvent
from agents.remote_agent import REMOTE_LINK_PREFIX
from agents.runner import Runner
from agents.sessions import InMemorySessionService
from tests.fakes.a2a_peer import Peer, start_peer
from tests.fakes.ollama_server import Fake
from tests.fakes.script import Reply, Script
from tests.live_server import LiveServer, start_live_server

pytestmark = pytest.mark.live

ANSWER = ["Hel", "lo ", "there"]


@dataclass
class Servers:
    live: LiveServer
    peer: Peer
    fake: Fake


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Servers]:
    fake = Fake(Script.of(default=Reply(text=ANSWER)))
    fake.start()
    peer = start_peer()
    data_dir: Path = tmp_path_factory.mktemp("remote-live") / "data"
    data_dir.mkdir(parents=True)
    (data_dir / "config.yaml").write_text(
        "llms:\n"
        f"  default: {{provider: ollama, model: qwen3, base_url: '{fake.url}'}}\n"
        "server:\n"
        "  remote_allowed_hosts: [127.0.0.1]\n"
        "agents:\n"
        "  assistant: {llm: default, instruction: Be brief.}\n"
        f"  relay: {{type: remote, url: '{peer.url}/v1'}}\n"
    )
    live = start_live_server(data_dir)
    try:
        yield Servers(live, peer, fake)
    finally:
        live.stop()
        peer.stop()
        fake.stop()


def make(servers: Servers) -> tuple[Runner, InMemorySessionService]:
    base = servers.live.url
    config = HectorConfig.model_validate(
        {
            "agents": {
                "ours": {"type": "remote", "url": f"{base}/agents/assistant"},
                "two_hops": {"type": "remote", "url": f"{base}/agents/relay"},
            },
            "server": {"remote_allowed_hosts": ["127.0.0.1"]},
        },
        context={"env": {}},
    )
    store = InMemorySessionService()
    return Runner(config, sessions=store), store


async def run(runner: Runner, agent: str, text: str, **kwargs: Any) -> list[RunEvent]:
    return [e async for e in runner.run(agent=agent, user_id="u1", message=text, **kwargs)]


async def test_our_server_as_remote_streams_and_keeps_one_conversation(servers: Servers) -> None:
    runner, store = make(servers)
    first = await run(runner, "ours", "Hi")
    answer = first[-1]
    assert isinstance(answer, FinalEvent)
    assert answer.text == "".join(ANSWER)
    assert [e.text for e in first if isinstance(e, TextDeltaEvent)] == ANSWER

    await run(runner, "ours", "And again?", session_id=answer.session_id)
    await runner.aclose()
    session = await store.get(answer.session_id)
    assert session is not None
    assert session.state[REMOTE_LINK_PREFIX + "ours"]["state"] == "completed"
    # The remote's own session carries both turns: its LLM saw the first question again.
    history = servers.fake.requests[-1].json()["messages"]
    assert [m["content"] for m in history if m["role"] == "user"] == ["Hi", "And again?"]


async def test_input_required_two_hops_away_reaches_the_caller_and_back(servers: Servers) -> None:
    runner, _ = make(servers)
    asked = await run(runner, "two_hops", "ask")
    question = asked[-1]
    assert isinstance(question, InterruptedEvent), question
    assert (question.state, question.message) == ("input-required", "Which account?")

    answered = await run(runner, "two_hops", "savings", session_id=question.session_id)
    await runner.aclose()
    answer = answered[-1]
    assert isinstance(answer, FinalEvent), answer
    assert answer.text == "got: savings"
