"""``agents.<name>.trigger`` and ``agents.<name>.notifications`` (SPEC 12).

Validated here, run by ``apps/automation``: schedules become django-celery-beat rows, webhooks
become routes, notifications are delivered on Celery. Everything the runtime would otherwise
reject at 3 a.m. (bad cron, unknown timezone, malformed webhook path) is refused at load.
"""

from __future__ import annotations

import re
import zoneinfo
from typing import Annotated, Any, Literal

from pydantic import (
    BeforeValidator,
    Discriminator,
    Field,
    Tag,
    WithJsonSchema,
    field_validator,
)

from agents.config_base import NonEmptyStr, PositiveInt, StrictModel
from agents.cron import cron_fields
from agents.durations import Duration

__all__ = [
    "NOTIFICATION_EVENTS",
    "ExtractField",
    "NotificationConfig",
    "NotificationPayload",
    "NotificationRetry",
    "ScheduleTrigger",
    "Trigger",
    "WebhookInput",
    "WebhookResponse",
    "WebhookTrigger",
    "default_webhook_path",
]

NOTIFICATION_EVENTS = (
    "task_started",
    "task_completed",
    "task_failed",
    "task_input_required",
    "task_canceled",
)
_WEBHOOK_PATH = re.compile(r"^/webhooks/[^\s?#]+$")
_HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def default_webhook_path(agent_name: str) -> str:
    return f"/webhooks/{agent_name}"


def _upper(value: object) -> object:
    return value.upper() if isinstance(value, str) else value


def _canonical_event(value: object) -> object:
    """SPEC decision 6: ``task.completed`` is accepted as an alias of ``task_completed``."""
    if isinstance(value, str) and value.startswith("task."):
        return "task_" + value[len("task.") :]
    return value


HttpMethod = Annotated[
    Literal[_HTTP_METHODS],  # type: ignore[valid-type]
    BeforeValidator(_upper),
    WithJsonSchema(
        {"type": "string", "enum": [*_HTTP_METHODS, *(m.lower() for m in _HTTP_METHODS)]}
    ),
]
NotificationEvent = Annotated[
    Literal[NOTIFICATION_EVENTS],  # type: ignore[valid-type]
    BeforeValidator(_canonical_event),
    WithJsonSchema(
        {
            "type": "string",
            "enum": [
                *NOTIFICATION_EVENTS,
                *(e.replace("task_", "task.", 1) for e in NOTIFICATION_EVENTS),
            ],
        }
    ),
]


class ScheduleTrigger(StrictModel):
    type: Literal["schedule"] = "schedule"
    enabled: bool = True
    cron: NonEmptyStr = Field(description="5-field crontab, or @hourly/@daily/@weekly/@monthly.")
    timezone: str = Field(default="UTC", description="IANA name, e.g. Europe/Berlin.")
    input: str | None = Field(
        default=None, description="Template: .Date .Time .Timestamp .AgentName .AppID."
    )
    session_id: str | None = Field(default=None, description="Template; default: new session.")
    catch_up: bool = Field(
        default=True, description="One catch-up run when the last run is older than a period."
    )

    @field_validator("cron")
    @classmethod
    def _valid_cron(cls, cron: str) -> str:
        cron_fields(cron)  # raises ValueError("invalid cron expression")
        return cron

    @field_validator("timezone")
    @classmethod
    def _valid_timezone(cls, timezone: str) -> str:
        try:
            zoneinfo.ZoneInfo(timezone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
            raise ValueError(f'unknown timezone "{timezone}"') from None
        return timezone


class ExtractField(StrictModel):
    path: NonEmptyStr = Field(description="Dotted path, with or without a leading .body.")
    as_: NonEmptyStr = Field(alias="as", description="Name under .fields in templates.")


class WebhookInput(StrictModel):
    template: str | None = Field(default=None, description="Default: the raw body.")
    session_id: str | None = Field(default=None, description="Template; same value, same session.")
    extract_fields: list[ExtractField] = Field(default_factory=list)


class WebhookResponse(StrictModel):
    mode: Literal["sync", "async", "callback"] = "sync"
    timeout: Duration = Duration.of("30s")
    callback_field: NonEmptyStr = "callback_url"


class WebhookTrigger(StrictModel):
    type: Literal["webhook"]
    enabled: bool = True
    path: str | None = Field(default=None, description="Default /webhooks/<agent>.")
    methods: list[HttpMethod] = Field(default_factory=lambda: ["POST"], min_length=1)
    secret: str | None = Field(default=None, description="HMAC-SHA256 key.")
    signature_header: NonEmptyStr = "X-Webhook-Signature"
    input: str | None = Field(default=None, description="Static input when no template is set.")
    webhook_input: WebhookInput | None = None
    response: WebhookResponse = Field(default_factory=WebhookResponse)
    require_auth: bool = False

    @field_validator("path")
    @classmethod
    def _valid_path(cls, path: str | None) -> str | None:
        if path is not None and not _WEBHOOK_PATH.match(path):
            raise ValueError('webhook path must start with "/webhooks/" (e.g. /webhooks/github)')
        return path


def _trigger_type(value: Any) -> str | None:
    if isinstance(value, dict):
        kind = value.get("type", "schedule")
        return kind if isinstance(kind, str) else None
    return getattr(value, "type", None)


Trigger = Annotated[
    Annotated[ScheduleTrigger, Tag("schedule")] | Annotated[WebhookTrigger, Tag("webhook")],
    Discriminator(_trigger_type),
]


class NotificationPayload(StrictModel):
    template: str | None = Field(
        default=None,
        description="Go-template over .Type .AgentName .TaskID .ContextID .Status .Result "
        ".Error .Timestamp .AppID.",
    )


class NotificationRetry(StrictModel):
    max_attempts: PositiveInt = 3
    initial_delay: Duration = Duration.of("1s")
    max_delay: Duration = Duration.of("30s")


class NotificationConfig(StrictModel):
    id: NonEmptyStr
    type: Literal["webhook"] = "webhook"
    url: NonEmptyStr
    enabled: bool = True
    events: list[NotificationEvent] = Field(min_length=1)
    headers: dict[str, str] = Field(default_factory=dict)
    payload: NotificationPayload | None = None
    retry: NotificationRetry = Field(default_factory=NotificationRetry)

    @field_validator("url")
    @classmethod
    def _http_url(cls, url: str) -> str:
        if not url.startswith(("http://", "https://")):
            raise ValueError("url must start with http:// or https://")
        return url
