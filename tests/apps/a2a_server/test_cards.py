"""Agent cards, discovery and visibility (SPEC 7.1, 7.6, 7.10, 13.4; AC 7.d)."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from a2a.client.card_resolver import parse_agent_card
from a2a.client.client_factory import ClientFactory
from a2a.compat.v0_3 import types as v03
from a2a.types import a2a_pb2 as pb
from google.protobuf.json_format import ParseDict

from apps.a2a_server import catalog, views
from apps.a2a_server.catalog import ServerSettings
from tests.apps.a2a_server.conftest import APP_ID, Apps, FakeTaskService, message, rpc

pytestmark = pytest.mark.django_db(transaction=False)

V10 = {"A2A-Version": "1.0"}
PREFIX = f"/apps/{APP_ID}"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# --- Card shapes --------------------------------------------------------------------------------


async def test_v03_card_is_the_sdks_agent_card(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{PREFIX}/agents/assistant")
    assert response.status_code == 200
    card = response.json()
    parsed = v03.AgentCard.model_validate(card)
    assert parsed.model_dump(by_alias=True, exclude_none=True, mode="json") == card
    assert card["protocolVersion"] == "0.3.0"
    assert card["preferredTransport"] == "JSONRPC"
    assert card["url"] == f"http://testserver{PREFIX}/agents/assistant"
    assert card["name"] == "assistant"
    assert card["description"] == "Helps."
    assert card["capabilities"] == {
        "streaming": True,
        "pushNotifications": True,
        "stateTransitionHistory": True,
    }
    assert card["defaultInputModes"] == ["text/plain"]
    assert card["skills"][0]["id"] == "assistant"  # generated from the agent
    assert card["provider"] == {"organization": "Hector", "url": f"http://testserver{PREFIX}"}
    assert card["securitySchemes"] == {
        "BearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    }
    assert "security" not in card  # public: callable anonymously
    assert card["supportsAuthenticatedExtendedCard"] is True


async def test_v10_card_has_no_v03_fields(client: httpx.AsyncClient) -> None:
    card = (await client.get(f"{PREFIX}/agents/assistant", headers=V10)).json()
    ParseDict(card, pb.AgentCard(), ignore_unknown_fields=False)
    for field in ("url", "preferredTransport", "protocolVersion", "additionalInterfaces"):
        assert field not in card
    assert card["supportedInterfaces"] == [
        {
            "url": f"http://testserver{PREFIX}/agents/assistant",
            "protocolBinding": "JSONRPC",
            "protocolVersion": "1.0",
        }
    ]
    assert card["capabilities"] == {
        "streaming": True,
        "pushNotifications": True,
        "extendedAgentCard": True,
    }
    assert card["securitySchemes"]["BearerAuth"] == {
        "httpAuthSecurityScheme": {"scheme": "bearer", "bearerFormat": "JWT"}
    }


async def test_sdk_clients_pick_the_matching_transport(client: httpx.AsyncClient) -> None:
    from a2a.client.transports.jsonrpc import JsonRpcTransport
    from a2a.compat.v0_3.jsonrpc_transport import CompatJsonRpcTransport

    old = parse_agent_card((await client.get(f"{PREFIX}/agents/assistant")).json())
    new = parse_agent_card((await client.get(f"{PREFIX}/agents/assistant", headers=V10)).json())
    factory = ClientFactory()
    assert isinstance(factory.create(old)._transport, CompatJsonRpcTransport)  # type: ignore[attr-defined]
    assert isinstance(factory.create(new)._transport, JsonRpcTransport)  # type: ignore[attr-defined]


async def test_configured_skills_modes_and_streaming(client: httpx.AsyncClient) -> None:
    card = (await client.get(f"{PREFIX}/agents/quiet")).json()
    assert card["capabilities"]["streaming"] is False
    assert card["defaultInputModes"] == ["text/plain", "image/*"]
    assert card["skills"] == [
        {
            "id": "s1",
            "name": "Summaries",
            "description": "Summaries",
            "tags": ["text"],
            "examples": ["Sum"],
        }
    ]


async def test_card_routes(client: httpx.AsyncClient) -> None:
    by_path = (await client.get(f"{PREFIX}/agents/assistant/.well-known/agent-card.json")).json()
    by_name = (await client.get(f"{PREFIX}/agents/assistant")).json()
    default = (await client.get(f"{PREFIX}/.well-known/agent-card.json")).json()
    assert by_path == by_name == default  # assistant is first in config order


async def test_default_app_card_without_prefix(client: httpx.AsyncClient) -> None:
    response = await client.get("/.well-known/agent-card.json")
    assert response.status_code == 200
    card = response.json()
    assert card["url"] == f"http://testserver/agents/{card['name']}"


async def test_urls_follow_the_request(client: httpx.AsyncClient) -> None:
    card = (
        await client.get(
            f"{PREFIX}/agents/assistant",
            headers={"X-Forwarded-Proto": "https", "Host": "agents.example.com"},
        )
    ).json()
    assert card["url"] == f"https://agents.example.com{PREFIX}/agents/assistant"


async def test_public_url_wins_when_configured(
    client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def settings(app: Any) -> ServerSettings:
        return ServerSettings(public_url="https://public.example.com/")

    monkeypatch.setattr(views, "server_settings", settings)
    card = (await client.get(f"{PREFIX}/agents/assistant")).json()
    assert card["url"] == f"https://public.example.com{PREFIX}/agents/assistant"


# --- Caching headers ----------------------------------------------------------------------------


async def test_etag_last_modified_and_304(client: httpx.AsyncClient) -> None:
    first = await client.get(f"{PREFIX}/agents/assistant")
    etag = first.headers["ETag"]
    assert "max-age=" in first.headers["Cache-Control"]
    assert first.headers["Last-Modified"].endswith("GMT")
    again = await client.get(f"{PREFIX}/agents/assistant", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["ETag"] == etag
    weak = await client.get(f"{PREFIX}/agents/assistant", headers={"If-None-Match": f"W/{etag}"})
    assert weak.status_code == 304
    other = await client.get(f"{PREFIX}/agents/assistant", headers={"If-None-Match": etag, **V10})
    assert other.status_code == 200  # the v1.0 card is another representation
    assert other.headers["ETag"] != etag


# --- Visibility (AC 7.d) ------------------------------------------------------------------------


async def test_discovery_filters_by_visibility(client: httpx.AsyncClient, apps: Apps) -> None:
    anonymous = (await client.get(f"{PREFIX}/agents")).json()
    assert [card["name"] for card in anonymous["agents"]] == ["assistant", "quiet"]
    assert anonymous["total"] == 2
    with_token = (await client.get("/agents", headers=bearer(apps.token))).json()
    assert [card["name"] for card in with_token["agents"]] == ["assistant", "staff", "quiet"]
    assert with_token["total"] == 3
    staff = next(card for card in with_token["agents"] if card["name"] == "staff")
    assert staff["security"] == [{"BearerAuth": []}]
    v10 = (await client.get(f"{PREFIX}/agents", headers=V10)).json()
    assert all("supportedInterfaces" in card for card in v10["agents"])


async def test_internal_card_needs_a_token(client: httpx.AsyncClient, apps: Apps) -> None:
    anonymous = await client.get(f"{PREFIX}/agents/staff")
    assert anonymous.status_code == 401
    assert anonymous.headers["WWW-Authenticate"].startswith("Bearer")
    assert (await client.get("/agents/staff", headers=bearer(apps.token))).status_code == 200


async def test_private_agent_is_404_for_everyone(
    client: httpx.AsyncClient, apps: Apps, admin_secret: str
) -> None:
    for headers in ({}, bearer(apps.token)):
        response = await client.get(f"{PREFIX}/agents/secret", headers=headers)
        assert response.status_code == 404
        assert response.json() == {"error": 'agent "secret" not found'}
    admin = await client.get(f"{PREFIX}/agents", headers=bearer(admin_secret))
    assert "secret" not in [card["name"] for card in admin.json()["agents"]]


async def test_another_apps_agents_are_not_listed(client: httpx.AsyncClient, apps: Apps) -> None:
    listed = (await client.get("/agents", headers=bearer(apps.other_token))).json()
    assert [card["name"] for card in listed["agents"]] == ["elsewhere"]
    missing = await client.get("/agents/assistant", headers=bearer(apps.other_token))
    assert missing.status_code == 404


async def test_require_auth_keeps_public_cards_open_but_calls_closed(
    client: httpx.AsyncClient,
    service: FakeTaskService,
    apps: Apps,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def settings(app: Any) -> ServerSettings:
        return ServerSettings(require_auth=True)

    monkeypatch.setattr(views, "server_settings", settings)
    card = await client.get(f"{PREFIX}/agents/assistant")
    assert card.status_code == 200
    assert card.json()["security"] == [{"BearerAuth": []}]
    assert (await client.get(f"{PREFIX}/agents")).json()["total"] == 2
    call = await client.post(
        f"{PREFIX}/agents/assistant", json=rpc("message/send", {"message": message()})
    )
    assert call.status_code == 401
    allowed = await client.post(
        "/agents/assistant",
        json=rpc("message/send", {"message": message()}),
        headers=bearer(apps.token),
    )
    assert allowed.json()["result"]["kind"] == "task"


async def test_wrong_methods(client: httpx.AsyncClient) -> None:
    assert (await client.post(f"{PREFIX}/agents")).status_code == 405
    assert (await client.put(f"{PREFIX}/agents/assistant")).status_code == 405
    assert (await client.post(f"{PREFIX}/.well-known/agent-card.json")).status_code == 405


# --- Catalog ------------------------------------------------------------------------------------


def fake_app(config: dict[str, Any], revision: int, app_id: str = "cat-test") -> Any:
    import json

    return SimpleNamespace(
        id=app_id,
        active_revision=revision,
        updated_at=datetime(2025, 1, revision, tzinfo=UTC),
        config_json=json.dumps(config),
    )


def test_catalog_is_built_once_per_revision() -> None:
    config = {
        "agents": {"a": {"description": "A"}, "b": {"visibility": "internal"}},
        "defaults": {"agent": "b", "visibility": "private", "streaming": False},
        "server": {"max_body_bytes": 1234, "trust_user_header": True},
    }
    first = catalog.catalog_for(fake_app(config, 1))
    assert list(first.agents) == ["a", "b"]
    assert first.default_agent == "b"
    assert first.agents["a"].visibility == "private"  # defaults.visibility applies
    assert first.agents["a"].streaming is False
    assert first.agents["b"].visibility == "internal"
    assert first.server.max_body_bytes == 1234
    assert first.server.trust_user_header is True
    assert catalog.catalog_for(fake_app(config, 1)) is first
    changed = {"agents": {"c": {}}}
    second = catalog.catalog_for(fake_app(changed, 2))
    assert list(second.agents) == ["c"]
    assert second.default_agent == "c"
    assert second.agents["c"].skills[0]["id"] == "c"


def test_catalog_survives_a_missing_llm_key() -> None:
    config = {
        "llms": {"default": {"provider": "openai", "api_key": "${NOT_SET_ANYWHERE}"}},
        "agents": {"a": {"llm": "default", "description": "${ALSO_NOT_SET:fallback}"}},
    }
    built = catalog.catalog_for(fake_app(config, 3, app_id="cat-env"))
    assert built.agents["a"].description == "fallback"
