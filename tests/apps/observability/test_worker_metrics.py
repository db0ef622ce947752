"""One /metrics for `hector serve` and its queue workers: a task the web process hands to a
worker is counted by the worker, and the server's /metrics shows it (prometheus_client's
multiprocess files under the data dir)."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from tests.fakes.ollama_server import Fake
from tests.fakes.script import Reply, Script
from tests.live_server import LiveServer, start_live_server

pytestmark = pytest.mark.live


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[LiveServer, Fake]]:
    fake = Fake(Script(default=Reply(text="done by a worker")))
    fake.start()
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    config = {
        "llms": {"default": {"provider": "ollama", "model": "qwen3", "base_url": fake.url}},
        "agents": {"assistant": {"llm": "default", "instruction": "Help."}},
    }
    (data_dir / "config.yaml").write_text(yaml.safe_dump(config))
    live = start_live_server(data_dir, "--metrics", "--no-watch", workers=True)
    try:
        yield live, fake
    finally:
        live.stop()
        fake.stop()


def rpc(live: LiveServer, method: str, params: dict[str, object]) -> dict[str, object]:
    body = {"jsonrpc": "2.0", "id": uuid.uuid4().hex, "method": method, "params": params}
    response = httpx.post(f"{live.url}/agents/assistant", json=body, timeout=30)
    assert response.status_code == 200, response.text
    reply = response.json()
    assert "result" in reply, reply
    return reply["result"]  # type: ignore[no-any-return]


def series(live: LiveServer, name: str) -> float:
    text = httpx.get(f"{live.url}/metrics", timeout=10).text
    found = re.findall(rf'^{name}\{{[^}}]*agent="assistant"[^}}]*\}} (\S+)$', text, re.M)
    return sum(float(value) for value in found)


def test_a_workers_series_show_in_the_servers_metrics(server: tuple[LiveServer, Fake]) -> None:
    live, _ = server
    message = {
        "kind": "message",
        "messageId": uuid.uuid4().hex,
        "role": "user",
        "parts": [{"kind": "text", "text": "hi"}],
    }
    task = rpc(live, "message/send", {"message": message, "configuration": {"blocking": False}})
    deadline = time.monotonic() + 60
    while task["status"]["state"] != "completed":  # type: ignore[index]
        assert time.monotonic() < deadline, (task, live.text())
        time.sleep(0.2)
        task = rpc(live, "tasks/get", {"id": task["id"]})

    # The run happened in a worker process: the web process observed nothing of it itself.
    assert series(live, "hector_queue_processing_duration_seconds_count") >= 1
    assert series(live, "hector_queue_latency_seconds_count") >= 1
    text = httpx.get(f"{live.url}/metrics", timeout=10).text
    assert re.search(r"^hector_apps \d", text, re.M), "apps counted from the database"
    assert "hector_http_requests_total" in text  # the web process's own series still there
