"""A2A push notifications (SPEC 7.8): POST the task to each configured URL, in the background.

The task service calls `notify` when a task reaches a terminal or interrupted state; delivery never
blocks it. Each config gets its own asyncio task, held in `_in_flight` until it ends (the loop only
keeps weak references, so an unreferenced task could be collected mid-delivery). A caller on a
short-lived event loop (a Celery task under `async_to_sync`) must `await drain()` before its loop
closes, or the deliveries die with it.

Every attempt is checked against the SSRF policy after DNS resolution and connects only to the
address it checked; hosts in `settings.HECTOR_PUSH_ALLOWED_HOSTS` are exempt. Tokens and
credentials go in headers and never in logs.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import random
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import httpx
from django.conf import settings

from agents.tasks import InvalidParams, PushConfig, Task
from apps.observability.metrics import push_notifications_total
from tools.ssrf import SSRFBlocked, SSRFPolicy

__all__ = ["drain", "notify", "validate_push_url"]

logger = logging.getLogger(__name__)

MAX_RETRIES = 3
BASE_DELAY_S = 1.0
MAX_DELAY_S = 30.0
ATTEMPT_TIMEOUT_S = 10.0
_RETRY_STATUSES = frozenset({408, 429})

#: How deliveries wait between attempts; tests swap it to run retries without waiting.
sleep: Callable[[float], Awaitable[None]] = asyncio.sleep

_in_flight: set[asyncio.Task[None]] = set()


def _policy() -> SSRFPolicy:
    """Read per call, so a settings change (tests, reload) applies to the next delivery."""
    return SSRFPolicy(allowed_hosts=getattr(settings, "HECTOR_PUSH_ALLOWED_HOSTS", ()))


async def validate_push_url(url: str) -> None:
    """Refuse a push URL when a config is set (SPEC 7.8: `-32602` naming `url`)."""
    try:
        await _policy().check_url(url)
    except SSRFBlocked as exc:
        raise InvalidParams(
            f"Invalid push notification URL: {exc}", data={"fields": ["url"]}
        ) from None


async def notify(task: Task, configs: Sequence[PushConfig], *, app_id: str | None = None) -> None:
    """Start one background delivery per config and return at once.

    The caller decides when a task is worth announcing; `app_id` only labels the log lines.
    """
    for config in configs:
        delivery = asyncio.create_task(
            _deliver(task, config, app_id=app_id), name=f"push task={task.id} config={config.id}"
        )
        _in_flight.add(delivery)
        delivery.add_done_callback(_in_flight.discard)


async def drain() -> None:
    """Wait until every delivery started so far has ended (delivered, refused or given up)."""
    while _in_flight:
        await asyncio.gather(*tuple(_in_flight), return_exceptions=True)


async def _deliver(task: Task, config: PushConfig, *, app_id: str | None) -> None:
    ids = f"task={task.id} app={app_id or '-'} config={config.id}"
    try:
        body = _body(task, config)
        headers = _headers(config)
        async with _policy().client() as client:
            result = await _attempts(client, config.url, body, headers, ids)
    except Exception:  # a background task has nobody to raise to: log it, count it
        logger.exception("push not sent %s", ids)
        result = "error"
    _count(result)


async def _attempts(
    client: httpx.AsyncClient, url: str, body: bytes, headers: Mapping[str, str], ids: str
) -> str:
    """Up to 1 + MAX_RETRIES POSTs; returns the outcome label for the metric."""
    policy = _policy()
    for attempt in range(1, MAX_RETRIES + 2):
        retry_after: float | None = None
        try:
            await policy.check_url(url)
            async with (
                asyncio.timeout(ATTEMPT_TIMEOUT_S),
                # Streamed and never read: only the status matters, whatever the body's size.
                client.stream("POST", url, content=body, headers=headers) as response,
            ):
                status = response.status_code
                retry_after = _retry_after(response.headers.get("retry-after"))
        except SSRFBlocked as exc:
            logger.warning("push refused %s: %s", ids, exc)
            return "blocked"
        except httpx.LocalProtocolError as exc:  # e.g. a credential that is not a valid header
            logger.warning("push not sent %s: %s", ids, exc)
            return "error"
        except (httpx.TransportError, TimeoutError) as exc:
            problem = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        else:
            if 200 <= status < 300:
                logger.info("push delivered %s status=%s attempt=%s", ids, status, attempt)
                return "delivered"
            if status not in _RETRY_STATUSES and status < 500:
                logger.warning("push rejected %s status=%s, not retried", ids, status)
                return "rejected"
            problem = f"HTTP {status}"
        if attempt > MAX_RETRIES:
            logger.warning("push failed %s after %s attempts: %s", ids, attempt, problem)
            return "failed"
        delay = _backoff(attempt, retry_after)
        logger.info("push retry %s attempt=%s in %.1fs: %s", ids, attempt, delay, problem)
        await sleep(delay)
    raise AssertionError("unreachable")  # the loop always returns


def _body(task: Task, config: PushConfig) -> bytes:
    # Imported here: the wire layer imports the task service, which imports this module.
    from apps.a2a_server.wire import task_json

    return json.dumps(task_json(task, config.wire_version), separators=(",", ":")).encode()


def _headers(config: PushConfig) -> dict[str, str]:
    """The token both ways receivers look for it; `authentication.credentials` under its scheme
    (A2A v0.3 `schemes: [...]` or v1.0 `scheme`) wins the `Authorization` header."""
    headers = {"Content-Type": "application/json"}
    if config.token:
        headers["Authorization"] = f"Bearer {config.token}"
        headers["X-A2A-Notification-Token"] = config.token
    auth: Mapping[str, Any] = config.authentication or {}
    credentials = auth.get("credentials")
    schemes = auth.get("schemes") or ([auth["scheme"]] if auth.get("scheme") else [])
    if isinstance(credentials, str) and credentials and schemes:
        scheme = str(schemes[0])
        scheme = "Bearer" if scheme.lower() == "bearer" else scheme
        headers["Authorization"] = f"{scheme} {credentials}"
    return headers


def _backoff(attempt: int, retry_after: float | None) -> float:
    """1 s, 2 s, 4 s ... capped at 30 s, with +/-20 % jitter so receivers that failed together
    do not get their retries together; a longer Retry-After is honoured up to the cap."""
    delay = min(BASE_DELAY_S * 2.0 ** (attempt - 1), MAX_DELAY_S)
    delay *= random.uniform(0.8, 1.2)
    if retry_after is not None:
        delay = max(delay, retry_after)
    return min(delay, MAX_DELAY_S)


def _retry_after(value: str | None) -> float | None:
    """Retry-After as seconds: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - datetime.now(UTC)).total_seconds(), 0.0)


def _count(result: str) -> None:
    push_notifications_total.labels(result=result).inc()
