"""`hector serve` end to end: zero-config start, banner, Admin API, hot reload, restart reuse."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from tests.live_server import LiveServer, start_live_server

pytestmark = pytest.mark.live


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = start_live_server(tmp_path_factory.mktemp("serve") / "data")
    yield live
    live.stop()


def test_zero_config_start_creates_config_and_prints_secret(server: LiveServer) -> None:
    assert (server.data_dir / "config.yaml").exists()
    out = server.text()
    assert f"Studio        http://127.0.0.1:{server.port}/" in out
    assert "/agents/assistant" in out
    secret = server.admin_secret()
    health = httpx.get(f"{server.url}/health").json()
    assert health["status"] == "ok"
    assert health["database"] == "ok"
    assert (
        httpx.get(
            f"{server.url}/admin/apps", headers={"Authorization": f"Bearer {secret}"}
        ).status_code
        == 200
    )


def test_app_lifecycle_over_http(server: LiveServer) -> None:
    auth = {"Authorization": f"Bearer {server.admin_secret()}"}
    with httpx.Client(base_url=server.url, headers=auth) as client:
        created = client.post("/admin/apps", json={"name": "live-app"})
        assert created.status_code == 201
        app_id = created.json()["app"]["id"]
        token = created.json()["access_token"]
        assert client.get(f"/admin/apps/{app_id}").status_code == 200
        assert (
            httpx.get(
                f"{server.url}/admin/apps", headers={"Authorization": f"Bearer {token}"}
            ).status_code
            == 403
        )
        assert client.delete(f"/admin/apps/{app_id}").status_code == 204
        assert (
            httpx.get(
                f"{server.url}/agents", headers={"Authorization": f"Bearer {token}"}
            ).status_code
            == 401
        )


def default_app(server: LiveServer) -> dict[str, object]:
    auth = {"Authorization": f"Bearer {server.admin_secret()}"}
    return httpx.get(f"{server.url}/admin/apps/default", headers=auth).json()


def wait_for_revision(server: LiveServer, revision: int, timeout_s: float = 2.0) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        if default_app(server)["active_revision"] == revision:
            return time.monotonic() - started
        time.sleep(0.05)
    raise AssertionError(
        f"revision {revision} not active after {timeout_s}s: {default_app(server)}"
    )


def test_config_file_edits_are_hot_reloaded(server: LiveServer) -> None:
    config = server.data_dir / "config.yaml"
    before = default_app(server)["active_revision"]
    assert isinstance(before, int)
    config.write_text(
        "llms:\n  default: {provider: ollama, model: qwen3}\n"
        "agents:\n  assistant: {llm: default, instruction: Be brief.}\n"
        "  helper: {llm: default, instruction: Help.}\n"
    )
    wait_for_revision(server, before + 1)
    assert '"helper"' in str(default_app(server)["config_json"])

    config.write_text("llms:\n  default: {provider: ollama}\nagents:\n  broken:\n    llm: nope\n")
    assert server.wait_for_output("agents.broken.llm", timeout_s=5)
    assert "config.yaml:5:" in server.text()
    assert default_app(server)["active_revision"] == before + 1


def test_restart_on_same_data_dir_reuses_database_and_secret(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    first = start_live_server(data_dir)
    secret = first.admin_secret()
    created = httpx.post(
        f"{first.url}/admin/apps",
        json={"name": "survivor"},
        headers={"Authorization": f"Bearer {secret}"},
    )
    assert created.status_code == 201
    assert "keeps its stored config" not in first.text()  # the file seeded it: they agree
    first.stop()
    # Edited while no server watched it: the stored config stays, and the banner says so.
    config = data_dir / "config.yaml"
    config.write_text(config.read_text() + "description: edited offline\n")
    second = start_live_server(data_dir)
    try:
        assert second.wait_for_output("keeps its stored config"), second.text()
        assert second.admin_secret() == secret
        apps = httpx.get(
            f"{second.url}/admin/apps", headers={"Authorization": f"Bearer {secret}"}
        ).json()["apps"]
        assert "survivor" in [a["name"] for a in apps]
    finally:
        second.stop()


def test_a_dead_queue_worker_is_started_again(tmp_path: Path) -> None:
    live = start_live_server(tmp_path / "data", workers=True)
    try:
        server = psutil.Process(live.process.pid)

        def workers() -> list[psutil.Process]:
            alive = []
            for child in server.children():
                try:
                    if "worker" in child.cmdline() and child.status() != psutil.STATUS_ZOMBIE:
                        alive.append(child)
                except psutil.Error:  # gone, or a zombie not yet reaped
                    continue
            return alive

        deadline = time.monotonic() + 30
        while not workers():
            assert time.monotonic() < deadline, live.text()
            time.sleep(0.1)
        killed = workers()[0]
        killed.kill()
        deadline = time.monotonic() + 30
        while not [w for w in workers() if w.pid != killed.pid]:
            assert time.monotonic() < deadline, live.text()
            time.sleep(0.1)
        assert live.wait_for_output("queue worker (pid"), live.text()
        assert "exited with -9" in live.text()
    finally:
        live.stop()


def test_sigterm_stops_the_server_and_its_queue_children(tmp_path: Path) -> None:
    """A graceful stop: the HTTP server drains, then the worker and beat children it started
    are stopped with it, and the command exits 0."""
    live = start_live_server(tmp_path / "data", workers=True)
    try:
        server = psutil.Process(live.process.pid)
        deadline = time.monotonic() + 30
        while len(server.children()) < 2:
            assert time.monotonic() < deadline, live.text()
            time.sleep(0.1)
        children = server.children()
        live.process.send_signal(signal.SIGTERM)
        assert live.process.wait(timeout=30) == 0, live.text()
        gone, alive = psutil.wait_procs(children, timeout=15)
        assert alive == [], live.text()
        assert gone
    finally:
        if live.process.poll() is None:
            live.stop()
