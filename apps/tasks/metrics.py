"""`hector_queue_*` series (SPEC 14), observed in the process where the event happens.

Runs of a worker count in that worker's process, and reach the /metrics of the server that
started it (`hector_site.metrics_dir`); `hector_queue_depth` is read from the rows, so every web
process reports the whole queue (`apps.tasks.operations.queue_depth`, cached 15 s).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable

from prometheus_client import Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

logger = logging.getLogger(__name__)

DEPTH_REFRESH_S = 15.0

_latency = Histogram(
    "hector_queue_latency_seconds",
    "Time a task waited in the queue before a run claimed it.",
    ["app", "agent"],
)
_processing = Histogram(
    "hector_queue_processing_duration_seconds",
    "Time from claim to the end of a run (retries waited in place included).",
    ["app", "agent"],
)
_retries = Counter("hector_queue_retries_total", "Failed attempts retried.", ["app", "agent"])
_dead_letters = Counter(
    "hector_queue_dead_letter_total", "Tasks moved to the dead-letter queue.", ["app", "agent"]
)
_recovered = Counter("hector_queue_recovered_total", "Stalled runs released by recovery.", ["app"])
_enqueued = Counter("hector_queue_republished_total", "Pending tasks republished.", ["app"])


def observe_latency(app: str, agent: str, seconds: float) -> None:
    _latency.labels(app, agent).observe(max(seconds, 0.0))


def observe_processing(app: str, agent: str, seconds: float) -> None:
    _processing.labels(app, agent).observe(max(seconds, 0.0))


def count_retry(app: str, agent: str) -> None:
    _retries.labels(app, agent).inc()


def count_dead_letter(app: str, agent: str) -> None:
    _dead_letters.labels(app, agent).inc()


def count_recovered(app: str, released: int, republished: int) -> None:
    if released:
        _recovered.labels(app).inc(released)
    if republished:
        _enqueued.labels(app).inc(republished)


def dead_letter_count(app: str, agent: str) -> float:
    """This process's count (tests and the Studio read it)."""
    return _dead_letters.labels(app, agent)._value.get()


class QueueDepthCollector(Collector):
    """`hector_queue_depth{app,state}` from the rows, at most every 15 s."""

    def __init__(self) -> None:
        self._cached: list[tuple[str, str, int]] = []
        self._at = 0.0

    def describe(self) -> Iterable[Metric]:
        """Registration asks for the series' names; answering without a query keeps start-up
        (and imports) free of database access."""
        yield GaugeMetricFamily("hector_queue_depth", "Tasks by queue state, per app.")

    def collect(self) -> Iterable[Metric]:
        gauge = GaugeMetricFamily(
            "hector_queue_depth", "Tasks by queue state, per app.", labels=["app", "state"]
        )
        if time.monotonic() - self._at > DEPTH_REFRESH_S:
            self._refresh()
        for app, state, count in self._cached:
            gauge.add_metric([app, state], count)
        yield gauge

    def _refresh(self) -> None:
        from apps.tasks.operations import queue_depth

        try:
            self._cached = queue_depth()
        except Exception:
            logger.warning("hector_queue_depth not refreshed", exc_info=True)
        self._at = time.monotonic()


_collector: QueueDepthCollector | None = None


def register_depth_collector() -> None:
    """Once per process (the web process's /metrics reads it)."""
    from apps.observability.metrics import register

    global _collector
    if _collector is None:
        _collector = QueueDepthCollector()
        register(_collector)
