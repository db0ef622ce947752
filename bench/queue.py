"""The durable queue under load: no-op tasks through 2 workers, on the default broker and Redis.

A no-op task is a Task row claimed and finished by a worker without running an agent (the
`hector.queue.probe` job): what is measured is the queue itself (broker, claim with SKIP LOCKED,
finish). Prints, per broker: tasks/s through 2 workers, enqueue-to-start latency p50/p95 at a
paced rate, and after a kill -9 of one worker mid-stream, how many tasks were lost (must be 0).
Targets (Redis): >= 1,000 tasks/s; p50 <= 20 ms.

Run: python bench/queue.py [--tasks 5000] [--latency-tasks 500] [--rate 200]
(Redis phase when REDIS_URL is set.)
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this file's folder comes first on sys.path, where this module's name would
# shadow the standard library's `queue` for everything imported below.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
REPO = _HERE.parent
sys.path.insert(0, str(REPO))

import argparse  # noqa: E402
import os  # noqa: E402
import signal  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from typing import Any  # noqa: E402

WORKERS = 2
WORKER_THREADS = int(os.environ.get("BENCH_WORKER_THREADS") or 4)
PREFETCH = int(os.environ.get("BENCH_PREFETCH") or 16)
STALE_S = 10.0  # > a worker's start-up: recovery must not republish the measured backlog


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


@dataclass
class Broker:
    name: str
    url: str | None  # None: the data dir's filesystem broker
    data_dir: Path

    def publisher(self) -> Any:
        from celery import Celery

        import hector_site.celery  # noqa: F401  # its atomic filesystem transport

        if self.url:
            app = Celery("hector-bench", broker=self.url)
            app.control.purge()
            return app
        folder = self.data_dir / "queue" / "messages"
        folder.mkdir(parents=True, exist_ok=True)
        options = {"data_folder_in": str(folder), "data_folder_out": str(folder)}
        return Celery(
            "hector-bench", broker="filesystem://localhost//", broker_transport_options=options
        )

    def worker_env(self) -> dict[str, str]:
        from django.conf import settings

        env = {k: v for k, v in os.environ.items() if k != "CELERY_BROKER_URL"}
        env.update(
            DATABASE_URL=settings.DATABASE_URL,
            HECTOR_DATA_DIR=str(self.data_dir),
            HECTOR_QUEUE_WORKERS=str(WORKER_THREADS),
            HECTOR_QUEUE_STALE_THRESHOLD=f"{STALE_S:g}s",
            HECTOR_LOG_LEVEL="warn",
            HECTOR_DB_POOL_MAX=str(WORKER_THREADS + 2),
            CELERY_WORKER_PREFETCH_MULTIPLIER=str(PREFETCH),
        )
        if self.url:
            env["CELERY_BROKER_URL"] = self.url
        return env


def start_worker(broker: Broker) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "manage.py", "worker"],
        cwd=REPO,
        env=broker.worker_env(),
        stdout=subprocess.DEVNULL,
        stderr=None if os.environ.get("BENCH_VERBOSE") else subprocess.DEVNULL,
    )


# --- Rows (the default app's schema) -------------------------------------------------------------


def _schema() -> str:
    from apps.tenancy.models import App

    global _SCHEMA
    if _SCHEMA is None:
        _SCHEMA = App.objects.get(pk="default").schema_name
    return _SCHEMA


_SCHEMA: str | None = None


def insert(count: int, *, queued: bool) -> list[str]:
    from django.utils import timezone
    from django_tenants.utils import schema_context

    from apps.tasks.models import Task

    now = timezone.now()
    rows = [
        Task(
            id=uuid.uuid4().hex,
            context_id=uuid.uuid4().hex,
            agent="noop",
            user_id="bench",
            status_timestamp=now,
            created_at=now,
            updated_at=now,
            queued_at=now if queued else None,
            metadata={"hector_probe": True},
        )
        for _ in range(count)
    ]
    with schema_context(_schema()):
        Task.objects.bulk_create(rows, batch_size=1000)
    return [r.id for r in rows]


def mark_queued(ids: list[str]) -> None:
    from django.utils import timezone
    from django_tenants.utils import schema_context

    from apps.tasks.models import Task

    with schema_context(_schema()):
        Task.objects.filter(id__in=ids).update(queued_at=timezone.now())


def completed(ids: list[str]) -> int:
    from django_tenants.utils import schema_context

    from apps.tasks.models import Task

    with schema_context(_schema()):
        return Task.objects.filter(id__in=ids, state="completed").count()


def claimed_span(ids: list[str]) -> tuple[Any, Any]:
    from django.db.models import Max, Min
    from django_tenants.utils import schema_context

    from apps.tasks.models import Task

    with schema_context(_schema()):
        span = Task.objects.filter(id__in=ids).aggregate(Min("claimed_at"), Max("updated_at"))
    return span["claimed_at__min"], span["updated_at__max"]


def latencies_ms(ids: list[str]) -> list[float]:
    from django_tenants.utils import schema_context

    from apps.tasks.models import Task

    with schema_context(_schema()):
        pairs = Task.objects.filter(id__in=ids).values_list("queued_at", "claimed_at")
        return [(c - q).total_seconds() * 1000 for q, c in pairs if q and c]


def wait(check: Callable[[], bool], timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def publish(publisher: Any, ids: list[str]) -> None:
    schema = _schema()
    with publisher.producer_or_acquire() as producer:
        for task_id in ids:
            publisher.send_task("hector.queue.probe", args=(schema, task_id), producer=producer)


# --- Phases ---------------------------------------------------------------------------------------


def throughput(
    broker: Broker, publisher: Any, workers: list[Any], count: int
) -> tuple[float, float]:
    """(tasks/s through the workers, publish/s). Published while no worker runs, so the rate
    is the workers' alone (one publisher would otherwise take a core of the two here): from the
    first claim to the last completion, by the rows' own timestamps."""
    for worker in workers:
        worker.kill()
        worker.wait()
    ids = insert(count, queued=False)
    mark_queued(ids)
    started = time.perf_counter()
    publish(publisher, ids)
    publish_rate = count / (time.perf_counter() - started)
    workers[:] = [start_worker(broker) for _ in range(WORKERS)]
    if not wait(lambda: completed(ids) == count, 300):
        raise RuntimeError(f"only {completed(ids)}/{count} completed")
    first, last = claimed_span(ids)
    return count / (last - first).total_seconds(), publish_rate


def latency(publisher: Any, count: int, rate: float) -> tuple[float, float]:
    """(p50, p95) ms from a task's enqueue (row stored, then published) to its claim."""
    ids: list[str] = []
    schema = _schema()
    interval = 1.0 / rate
    with publisher.producer_or_acquire() as producer:
        next_at = time.perf_counter()
        for _ in range(count):
            (task_id,) = insert(1, queued=True)
            publisher.send_task("hector.queue.probe", args=(schema, task_id), producer=producer)
            ids.append(task_id)
            next_at += interval
            time.sleep(max(0.0, next_at - time.perf_counter()))
    if not wait(lambda: completed(ids) == count, 120):
        raise RuntimeError(f"only {completed(ids)}/{count} completed")
    values = latencies_ms(ids)
    return percentile(values, 0.5), percentile(values, 0.95)


def lost_after_kill(broker: Broker, publisher: Any, workers: list[Any], count: int) -> int:
    """kill -9 one worker while tasks flow, start a replacement, let recovery run: lost tasks."""
    ids = insert(count, queued=False)
    mark_queued(ids)
    publish(publisher, ids)
    wait(lambda: completed(ids) >= count // 3, 60)
    victim = workers.pop(0)
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait()
    workers.append(start_worker(broker))
    # What beat sends every minute, once the dead worker's leases are stale.
    time.sleep(STALE_S + 0.5)
    deadline = time.monotonic() + 60
    while completed(ids) < count and time.monotonic() < deadline:
        publisher.send_task("hector.queue.recover")
        wait(lambda: completed(ids) == count, STALE_S + 1)
    return count - completed(ids)


def run(broker: Broker, options: argparse.Namespace) -> dict[str, Any]:
    publisher = broker.publisher()
    workers = [start_worker(broker) for _ in range(WORKERS)]
    try:
        warm = insert(WORKERS * 10, queued=True)
        publish(publisher, warm)
        if not wait(lambda: completed(warm) == len(warm), 60):
            raise RuntimeError("workers did not start")
        rate, publish_rate = throughput(broker, publisher, workers, options.tasks)
        p50, p95 = latency(publisher, options.latency_tasks, options.rate)
        lost = lost_after_kill(broker, publisher, workers, options.tasks // 2)
    finally:
        for worker in workers:
            worker.kill()
            worker.wait()
        publisher.close()
    return {
        "broker": broker.name,
        "tasks_per_s": rate,
        "publish_per_s": publish_rate,
        "p50_ms": p50,
        "p95_ms": p95,
        "lost": lost,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", type=int, default=5000)
    parser.add_argument("--latency-tasks", type=int, default=500)
    parser.add_argument("--rate", type=float, default=200.0, help="enqueues/s, latency phase")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="hector-bench-queue-") as tmp:
        data_dir = Path(tmp) / "data"
        os.environ["HECTOR_DATA_DIR"] = str(data_dir)
        os.environ.pop("DATABASE_URL", None)
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hector_site.settings")
        import django

        django.setup()
        from apps.server.management.commands.hector_migrate import migrate_all
        from apps.tenancy.services import ensure_default_app

        migrate_all()
        ensure_default_app(config=None)
        brokers = [Broker("filesystem (default)", None, data_dir)]
        if os.environ.get("REDIS_URL"):
            brokers.append(Broker("redis", os.environ["REDIS_URL"], data_dir))
        results = [run(b, options) for b in brokers]
    print(f"\nno-op tasks through {WORKERS} workers ({WORKER_THREADS} threads each)")
    print(f"{'broker':<22}{'tasks/s':>10}{'publish/s':>11}{'p50 ms':>9}{'p95 ms':>9}{'lost':>6}")
    for r in results:
        print(
            f"{r['broker']:<22}{r['tasks_per_s']:>10.0f}{r['publish_per_s']:>11.0f}"
            f"{r['p50_ms']:>9.1f}{r['p95_ms']:>9.1f}{r['lost']:>6}"
        )
    print("targets (redis): >= 1000 tasks/s, p50 <= 20 ms, lost = 0")


if __name__ == "__main__":
    main()
