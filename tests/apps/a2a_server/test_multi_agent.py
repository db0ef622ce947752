"""Every agent type in one app, end to end: YAML validated by the loader, one `message/stream`
through the real ASGI stack and task service, every inner step streamed with its agent named,
and the session's events read back in order from `/admin/sessions/{id}` (SPEC 4, 7.4, AC 6.b).

The app's LLMs are in-process scripted fakes (one per agent, so parallel branches stay
deterministic); its remote agent talks to the a2a-sdk reference peer in another process.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import yaml

from agents.config_loader import load_config
from agents.control import active_agent_key
from agents.workflow import PROGRESS
from apps.a2a_server import cards, catalog
from apps.tasks.runtime import override_runtime
from tests.agents.test_remote_agent import BadPeer
from tests.apps.a2a_server.conftest import message, rpc, sse_payloads
from tests.fakes.a2a_peer import Peer, start_peer
from tests.fakes.http import Response
from tests.fakes.script import Reply, ScriptedToolCall
from tests.fakes.scripted_llm import ScriptedLLM
from tools.base import tool

pytestmark = pytest.mark.django_db(transaction=False)

APP_ID = "multi-agent"
LLM_AGENTS = ("classifier", "desk", "researcher", "billing", "writer")

CONFIG = """\
version: 2
llms:
{llms}
server:
  remote_allowed_hosts: [127.0.0.1]
tools:
  lookup: {{type: function, handler: lookup, description: Look a topic up.}}
  shout: {{type: function, handler: shout, description: Upper-case text.}}
agents:
  front:
    type: sequential
    description: The whole desk.
    sub_agents: [gate, fanout, refine, tidy]
  gate:
    type: conditional
    condition_agent: classifier
    condition_field: allowed
    on_true_agent: desk
    on_false_response: Not something we do.
  classifier:
    llm: classifier
    instruction: Decide whether we handle this.
    output_schema:
      type: object
      properties: {{allowed: {{type: boolean}}}}
      required: [allowed]
  desk:
    llm: desk
    instruction: Answer, research or hand over.
    sub_agents: [billing]
    agent_tools: [researcher]
  researcher: {{llm: researcher, instruction: Research., description: Finds facts.}}
  billing: {{llm: billing, instruction: Bills., description: Handles invoices.}}
  fanout:
    type: parallel
    sub_agents: [peer_agent, facts]
  peer_agent: {{type: remote, url: "{peer_url}/v1", timeout: 10s}}
  facts:
    type: runner
    steps: [{{tool: lookup, args: {{topic: invoices}}, output_key: fact}}]
  refine:
    type: loop
    max_iterations: 2
    sub_agents: [writer]
  writer: {{llm: writer, instruction: "Polish using {{fact}}."}}
  slow_peer: {{type: remote, url: "{peer_url}/v1", timeout: 500ms}}
  broken_peer: {{type: remote, url: "{broken_url}", timeout: 5s}}
  tidy:
    type: runner
    tools: [shout]
"""


@tool
def lookup(topic: str) -> str:
    """Look a topic up."""
    return f"{topic} are due monthly"


@tool
def shout(input: str) -> str:
    """Upper-case text."""
    return input.upper()


@dataclass
class Setup:
    token: str
    peer: Peer
    llms: dict[str, ScriptedLLM]


@pytest.fixture(scope="module")
def peer() -> Iterator[Peer]:
    started = start_peer()
    yield started
    started.stop()


@pytest.fixture(scope="module")
def broken() -> Iterator[BadPeer]:
    bad = BadPeer(Response(200, stream=[b"{not json"], content_type="application/json"))
    bad.start()
    yield bad
    bad.stop()


@pytest.fixture(scope="module")
def setup(
    django_db_setup: None, django_db_blocker: Any, peer: Peer, broken: BadPeer
) -> Iterator[Setup]:
    from apps.tasks import bus
    from apps.tenancy.services import create_app, delete_app

    llms_yaml = "\n".join(
        f"  {name}: {{provider: ollama, model: qwen3, base_url: 'http://127.0.0.1:9'}}"
        for name in LLM_AGENTS
    )
    text = CONFIG.format(llms=llms_yaml, peer_url=peer.url, broken_url=broken.url)
    load_config(text, env={})  # validates: schema and every cross-reference
    with django_db_blocker.unblock():
        with contextlib.suppress(Exception):  # left over from an interrupted run
            delete_app(app_id=APP_ID)
        created = create_app(
            name=APP_ID, app_id=APP_ID, config=yaml.safe_load(text), issuer="http://t"
        )
    llms = {name: ScriptedLLM([]) for name in LLM_AGENTS}
    try:
        with override_runtime(APP_ID, llms=llms, tools={"lookup": lookup, "shout": shout}):
            yield Setup(created.access_token, peer, llms)
    finally:
        bus.shutdown()
        with django_db_blocker.unblock():
            delete_app(app_id=APP_ID)


@pytest.fixture
async def client(setup: Setup) -> AsyncIterator[httpx.AsyncClient]:
    from hector_site.asgi import application

    catalog.forget()
    cards.forget()
    transport = httpx.ASGITransport(app=application)
    headers = {"Authorization": f"Bearer {setup.token}"}
    async with httpx.AsyncClient(
        transport=transport, base_url="http://testserver", headers=headers, timeout=30
    ) as http:
        yield http


def script(setup: Setup) -> None:
    llms = setup.llms
    llms["classifier"].script.extend([Reply(text='{"allowed": true}')])
    llms["desk"].script.extend(
        [
            Reply(tool_calls=[ScriptedToolCall("researcher", {"request": "invoice rules"})]),
            Reply(
                text="Over to billing.",
                tool_calls=[ScriptedToolCall("transfer_to_billing", {"reason": "invoices"})],
            ),
        ]
    )
    llms["researcher"].script.extend([Reply(text=["Invoices ", "are monthly."])])
    llms["billing"].script.extend([Reply(text="Your invoice is paid.")])
    llms["writer"].script.extend([Reply(text="Draft one."), Reply(text="Draft two.")])


def agents_named(results: list[dict[str, Any]]) -> set[str]:
    named: set[str] = set()
    for result in results:
        for source in (result.get("metadata"), (result.get("status") or {}).get("message")):
            if isinstance(source, dict):
                agent = (source.get("metadata") or source).get("hector:agent")
                if agent:
                    named.add(agent)
    return named


async def test_every_agent_type_streams_over_a2a_and_reads_back_in_order(
    setup: Setup, client: httpx.AsyncClient
) -> None:
    script(setup)
    response = await client.post(
        "/agents/front", json=rpc("message/stream", {"message": message("Is my invoice paid?")})
    )
    assert response.status_code == 200, response.text
    results = [frame["result"] for frame in sse_payloads(response.text)]

    first, last = results[0], results[-1]
    assert (first["kind"], first["status"]["state"]) == ("task", "submitted")
    assert (last["kind"], last["final"]) == ("status-update", True)
    assert last["status"]["state"] == "completed", last
    # tidy (a runner of `tools`) shouts the user's message: its output answers the workflow and
    # replaces what the inner agents streamed into the response artifact.
    answer = [r for r in results if r["kind"] == "artifact-update"][-1]
    assert answer["artifact"]["parts"] == [{"kind": "text", "text": "IS MY INVOICE PAID?"}]
    assert (answer["append"], answer["lastChunk"]) == (False, True)
    assert answer["metadata"] == {"hector:agent": "front"}
    # Every inner agent was seen streaming, by name.
    assert agents_named(results) == {
        "front",
        "gate",
        "classifier",
        "desk",
        "researcher",
        "billing",
        "fanout",
        "peer_agent",
        "facts",
        "refine",
        "writer",
        "tidy",
    }
    assert setup.llms["writer"].requests[0].system == "Polish using invoices are due monthly."
    assert len(setup.llms["writer"].requests) == 2

    detail = await client.get(f"/admin/sessions/{first['contextId']}")
    assert detail.status_code == 200, detail.text
    body = detail.json()
    assert body["event_count"] == len(body["events"])
    stamps = [e["timestamp"] for e in body["events"]]
    assert stamps == sorted(stamps)
    # The workflows' progress markers (the pipeline's, the router's) aside: the turns.
    events = [e for e in body["events"] if not is_progress_json(e)]
    assert len(events) < len(body["events"])
    authors = [e["author"] for e in events]
    assert authors[:9] == [
        "user",
        "classifier",  # the structured verdict
        "desk",  # calls researcher
        "desk",  # the request, on researcher's branch
        "researcher",
        "desk",  # the tool result
        "desk",  # "Over to billing." and the transfer call
        "desk",  # the transfer result
        "billing",
    ]
    # The parallel branches interleave as they ran; the merge comes after both.
    assert sorted(authors[9:13]) == ["facts", "facts", "facts", "peer_agent"]
    assert authors[13:] == ["fanout", "writer", "writer", "tidy", "tidy", "tidy"]
    assert [e.get("branch") for e in events[3:5]] == ["desk.researcher"] * 2
    assert events[3]["role"] == "user"
    assert events[7]["actions"]["transfer_to_agent"] == "billing"
    assert events[8]["content"]["parts"] == [{"kind": "text", "text": "Your invoice is paid."}]
    branches = {e["author"]: e.get("branch") for e in events[9:13]}
    assert branches == {"facts": "fanout.facts", "peer_agent": "fanout.peer_agent"}
    assert "branch" not in events[13]
    state = body["state"]
    assert state["fact"] == "invoices are due monthly"
    assert state[active_agent_key("desk")] == "billing"
    assert state["hector:remote:peer_agent"]["state"] == "completed"


def is_progress_json(event: dict[str, Any]) -> bool:
    return any(
        part.get("kind") == "data" and part["data"].get("state") == PROGRESS
        for part in event["content"]["parts"]
    )


@pytest.mark.parametrize(
    ("agent", "text", "expected"),
    [
        ("slow_peer", "wait", 'remote agent "slow_peer": remote task did not finish within 0.5s'),
        ("broken_peer", "hi", 'remote agent "broken_peer": remote agent answered message/send'),
    ],
)
async def test_a_bad_peer_fails_the_task_with_a_clear_status_and_keeps_the_session(
    setup: Setup, client: httpx.AsyncClient, agent: str, text: str, expected: str
) -> None:
    started = time.perf_counter()
    response = await client.post(
        f"/agents/{agent}", json=rpc("message/send", {"message": message(text)})
    )
    assert time.perf_counter() - started < 5
    task = response.json()["result"]
    assert task["status"]["state"] == "failed"
    status_text = task["status"]["message"]["parts"][0]["text"]
    assert status_text.startswith(expected), status_text

    detail = (await client.get(f"/admin/sessions/{task['contextId']}")).json()
    assert detail["events"][0]["author"] == "user"
    assert detail["events"][-1]["content"]["parts"][0]["data"]["state"] == "failed"
