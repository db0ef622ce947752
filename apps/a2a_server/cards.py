"""Agent cards, v0.3 and v1.0 (SPEC 7.6, 7.10), rendered once per revision, host and version.

URLs are absolute and built from the request (`X-Forwarded-Proto` honoured, an `/apps/<app>`
prefix kept when the request used one), or from `server.public_url` when the operator set it.
Each rendered card keeps its JSON bytes and ETag, so a card request is a dictionary lookup.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest

from apps.a2a_server.catalog import AgentInfo, Catalog
from apps.a2a_server.wire import V03, Version, dumps
from apps.tenancy.middleware import APP_PREFIX
from hector_site import __version__

PROVIDER_ORGANIZATION = "Hector"
BEARER_SCHEME = "BearerAuth"
CARD_CACHE_SIZE = 512


@dataclass(frozen=True, slots=True)
class RenderedCard:
    body: dict[str, Any]
    content: bytes
    etag: str


def base_url(request: HttpRequest, public_url: str | None = None) -> str:
    """`scheme://host[/script][/apps/<app>]` as the caller reached us."""
    prefix = request.META.get("SCRIPT_NAME", "").rstrip("/")
    match = APP_PREFIX.match(request.path[len(prefix) :] if prefix else request.path)
    if match and (match["rest"] or "/") == request.path_info:
        prefix += f"/apps/{match['app']}"
    if public_url:
        return public_url.rstrip("/") + prefix
    forwarded = request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip().lower()
    scheme = forwarded if forwarded in ("http", "https") else request.scheme
    return f"{scheme}://{request.get_host()}{prefix}"


def _skills(agent: AgentInfo) -> list[dict[str, Any]]:
    if agent.skills:
        return [dict(skill) for skill in agent.skills]
    return [  # the config always generates one; this guards a card against an empty list
        {
            "id": agent.name,
            "name": agent.name,
            "description": agent.description or f"{agent.name} ({agent.type} agent)",
            "tags": [agent.type],
        }
    ]


def card_json(
    agent: AgentInfo, version: Version, *, base: str, token_required: bool
) -> dict[str, Any]:
    """The card of `agent`. `token_required`: calls need a bearer token (internal agents, or
    `require_auth`), so the card states the requirement beside the scheme."""
    url = f"{base}/agents/{agent.name}"
    description = agent.description or f"{agent.name} agent"
    provider = {"organization": PROVIDER_ORGANIZATION, "url": base}
    if version == V03:
        card: dict[str, Any] = {
            "protocolVersion": "0.3.0",
            "name": agent.name,
            "description": description,
            "url": url,
            "preferredTransport": "JSONRPC",
            "version": __version__,
            "capabilities": {
                "streaming": agent.streaming,
                "pushNotifications": True,
                "stateTransitionHistory": True,
            },
            "defaultInputModes": list(agent.input_modes),
            "defaultOutputModes": list(agent.output_modes),
            "skills": _skills(agent),
            "provider": provider,
            # The admin secret always exists (SPEC 17.3), so bearer auth is always on offer.
            "securitySchemes": {
                BEARER_SCHEME: {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
            },
            "supportsAuthenticatedExtendedCard": True,
        }
        if token_required:
            card["security"] = [{BEARER_SCHEME: []}]
        return card
    card = {
        "name": agent.name,
        "description": description,
        "version": __version__,
        "supportedInterfaces": [
            {"url": url, "protocolBinding": "JSONRPC", "protocolVersion": "1.0"}
        ],
        "capabilities": {
            "streaming": agent.streaming,
            "pushNotifications": True,
            "extendedAgentCard": True,
        },
        "defaultInputModes": list(agent.input_modes),
        "defaultOutputModes": list(agent.output_modes),
        "skills": _skills(agent),
        "provider": provider,
        "securitySchemes": {
            BEARER_SCHEME: {"httpAuthSecurityScheme": {"scheme": "bearer", "bearerFormat": "JWT"}}
        },
    }
    if token_required:
        card["securityRequirements"] = [{"schemes": {BEARER_SCHEME: {"list": []}}}]
    return card


class _CardCache:
    """Bounded LRU: the key includes the request host, which callers choose."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._lock = threading.Lock()
        self._items: OrderedDict[tuple[Any, ...], RenderedCard] = OrderedDict()

    def get(self, key: tuple[Any, ...]) -> RenderedCard | None:
        with self._lock:
            card = self._items.get(key)
            if card is not None:
                self._items.move_to_end(key)
            return card

    def put(self, key: tuple[Any, ...], card: RenderedCard) -> None:
        with self._lock:
            self._items[key] = card
            self._items.move_to_end(key)
            while len(self._items) > self._size:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


_cache = _CardCache(CARD_CACHE_SIZE)


def rendered_card(
    app_id: str,
    catalog: Catalog,
    agent: AgentInfo,
    version: Version,
    *,
    base: str,
    token_required: bool,
) -> RenderedCard:
    key = (app_id, catalog.revision_key, agent.name, version, base, token_required)
    card = _cache.get(key)
    if card is None:
        body = card_json(agent, version, base=base, token_required=token_required)
        content = dumps(body)
        etag = '"' + hashlib.sha256(content).hexdigest()[:32] + '"'
        card = RenderedCard(body, content, etag)
        _cache.put(key, card)
    return card


def forget() -> None:
    _cache.clear()
