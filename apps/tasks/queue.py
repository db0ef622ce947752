"""The durable queue's policy and its one way out to the workers.

- **Dispatch** (`HECTOR_QUEUE_DISPATCH`): with `celery`, a run that must outlive its request (a
  non-blocking send, a retry, a recovery) is published as `hector.tasks.run(schema, task_id)` and a
  worker claims the row; with `local` the process that stored the row runs it (tests, scripts).
  Blocking sends and streams run where the client waits in both modes; no message is published
  for them.
- **Retry policy** (SPEC 8): server defaults from the `--queue-*` flags, overridden per agent by
  `agents.<name>.retry`. Which failures are worth another attempt is decided here, from the run's
  error code, so the runtime's errors need no knowledge of queues.
"""

from __future__ import annotations

import functools
import logging
import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from agents.config import RetryConfig
from agents.durations import parse_duration
from apps.tenancy.models import App

__all__ = [
    "RETRYABLE_CODES",
    "RetryPolicy",
    "admission_terms",
    "is_retryable",
    "policy_for",
    "publish_probe",
    "publish_run",
    "queue_settings",
    "uses_workers",
]

logger = logging.getLogger(__name__)

#: Run error codes worth another attempt: the provider was busy, down, slow or garbled its answer
#: (SPEC 8 "LLM/transport errors, timeouts"). Bad requests, auth, config and guardrail failures
#: would fail the same way again.
RETRYABLE_CODES = frozenset(
    {"llm_rate_limited", "llm_unavailable", "llm_malformed_response", "llm_error"}
)
RUN_JOB = "hector.tasks.run"
PROBE_JOB = "hector.queue.probe"


@dataclass(frozen=True, slots=True)
class QueueSettings:
    dispatch: str
    workers: int
    max_retries: int
    initial_delay_s: float
    max_delay_s: float
    stale_threshold_s: float


@functools.cache
def queue_settings() -> QueueSettings:
    """The `--queue-*` flags as numbers (read once: they are process settings)."""
    return QueueSettings(
        dispatch=settings.HECTOR_QUEUE_DISPATCH,
        workers=settings.HECTOR_QUEUE_WORKERS,
        max_retries=settings.HECTOR_QUEUE_MAX_RETRIES,
        initial_delay_s=float(parse_duration(settings.HECTOR_QUEUE_INITIAL_DELAY)),
        max_delay_s=float(parse_duration(settings.HECTOR_QUEUE_MAX_DELAY)),
        stale_threshold_s=float(parse_duration(settings.HECTOR_QUEUE_STALE_THRESHOLD)),
    )


def uses_workers() -> bool:
    return queue_settings().dispatch == "celery"


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """delay(n) = min(initial x factor^(n-1), max), then +/- `jitter` of it (n: failed attempts)."""

    max_retries: int = 3
    initial_delay_s: float = 1.0
    max_delay_s: float = 300.0
    backoff_factor: float = 2.0
    jitter: float = 0.2

    def delay_s(self, failed_attempts: int) -> float:
        base = self.initial_delay_s * self.backoff_factor ** max(failed_attempts - 1, 0)
        capped = min(base, self.max_delay_s)
        return max(0.0, capped * (1 + random.uniform(-self.jitter, self.jitter)))


def policy_for(app: App, agent: str) -> RetryPolicy:
    """The server's policy, with the agent's `retry:` keys on top. An app whose config does not
    load (or an unknown agent) gets the server's policy: the run reports the real problem."""
    defaults = queue_settings()
    policy = RetryPolicy(
        max_retries=defaults.max_retries,
        initial_delay_s=defaults.initial_delay_s,
        max_delay_s=defaults.max_delay_s,
    )
    from apps.tasks import runtime

    try:
        agent_config = runtime.runner_for(app).config.agents.get(agent)
    except Exception:
        return policy
    retry: RetryConfig | None = agent_config.retry if agent_config is not None else None
    if retry is None:
        return policy
    initial, cap = retry.initial_delay, retry.max_delay
    return RetryPolicy(
        max_retries=retry.max_retries if retry.max_retries is not None else policy.max_retries,
        initial_delay_s=float(initial) if initial is not None else policy.initial_delay_s,
        max_delay_s=float(cap) if cap is not None else policy.max_delay_s,
        backoff_factor=retry.backoff_factor,
        jitter=retry.jitter,
    )


def admission_terms(
    app: App, agent: str, metadata: Mapping[str, Any] | None
) -> tuple[int, datetime | None]:
    """A new task's `max_retries` and `deadline_at`: `metadata.deadline` (RFC 3339), else the
    agent's `timeout` from now, else none (SPEC 8). An unparsable deadline is ignored with a log
    line rather than refusing the message."""
    max_retries = policy_for(app, agent).max_retries
    raw = (metadata or {}).get("deadline")
    if isinstance(raw, str) and raw:
        try:
            deadline = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            logger.warning("app=%s ignoring metadata.deadline %r: not RFC 3339", app.id, raw)
        else:
            if deadline.tzinfo is not None:
                return max_retries, deadline
    timeout = _agent_timeout_s(app, agent)
    if timeout:
        return max_retries, timezone.now() + timedelta(seconds=timeout)
    return max_retries, None


def _agent_timeout_s(app: App, agent: str) -> float | None:
    from apps.tasks import runtime

    try:
        agent_config = runtime.runner_for(app).config.agents.get(agent)
    except Exception:
        return None
    if agent_config is None or agent_config.type == "remote" or agent_config.timeout is None:
        return None  # a remote agent's timeout is per call, not a task deadline
    return float(agent_config.timeout)


def is_retryable(code: str) -> bool:
    return code in RETRYABLE_CODES


def publish_run(schema: str, task_id: str, *, delay_s: float = 0.0) -> None:
    """Hand the task to a worker (sync: call it from an ORM hop, after the row committed). A
    failed publish is logged, not raised: the row waits as pending and recovery republishes it."""
    _publish(RUN_JOB, schema, task_id, delay_s=delay_s)


def publish_probe(schema: str, task_id: str) -> None:
    """A no-op job through the same claim and finish as a run (queue health and benchmarks).
    Its row carries `metadata.hector_probe`, so recovery republishes it as a probe too."""
    _publish(PROBE_JOB, schema, task_id, delay_s=0.0)


@functools.cache
def _celery() -> Any:
    from hector_site.celery import app, ensure_broker_folders

    ensure_broker_folders()
    return app


def _publish(job: str, schema: str, task_id: str, *, delay_s: float) -> None:
    celery_app = _celery()
    options = {"countdown": delay_s} if delay_s > 0 else {}
    try:
        celery_app.send_task(job, args=(schema, task_id), **options)
    except Exception:
        logger.warning(
            "task=%s schema=%s not published; recovery will republish it",
            task_id,
            schema,
            exc_info=True,
        )
