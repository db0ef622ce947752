"""Runner overhead per turn with a zero-latency LLM, on in-memory and on Postgres sessions.

Prints p50/p95 per turn (one user message -> final answer, three events stored), the extra cost of
each streamed delta, and events persisted per second. Target: Postgres p50 <= 3 ms per turn;
streaming <= 0.2 ms per event. Run: python bench/runner.py [--turns N]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agents.config_loader import load_config_data
from agents.events import EventStored, FinalEvent
from agents.runner import Runner
from agents.sessions import InMemorySessionService, SessionService
from tests.fakes.script import Reply, Script
from tests.fakes.scripted_llm import ScriptedLLM

CONFIG = {
    "llms": {"default": {"provider": "ollama", "model": "bench"}},
    "agents": {"assistant": {"llm": "default", "instruction": "Answer {topic?} briefly."}},
}


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


async def measure(sessions: SessionService, *, turns: int, chunks: int) -> dict[str, float]:
    """Each turn in a new session: user event + model answer + final, as an A2A send does."""
    llm = ScriptedLLM(Script(default=Reply(text=["x"] * chunks)))
    runner = Runner(load_config_data(CONFIG).config, sessions=sessions, llms={"default": llm})
    durations: list[float] = []
    stored = 0
    started_all = time.perf_counter()
    for index in range(turns):
        started = time.perf_counter()
        async for event in runner.run(agent="assistant", user_id=f"u{index % 7}", message="hi"):
            if isinstance(event, EventStored):
                stored += 1
            elif isinstance(event, FinalEvent):
                assert event.text == "x" * chunks
        durations.append((time.perf_counter() - started) * 1000)
        llm.requests.clear()
    elapsed = time.perf_counter() - started_all
    await runner.aclose()
    return {
        "p50": percentile(durations, 0.5),
        "p95": percentile(durations, 0.95),
        "events_per_s": stored / elapsed,
    }


def report(
    name: str, turns: int, one: dict[str, float], many: dict[str, float], chunks: int
) -> None:
    per_event = (many["p50"] - one["p50"]) / (chunks - 1)
    print(
        f"{name:<10} per turn: p50 {one['p50']:.2f} ms, p95 {one['p95']:.2f} ms "
        f"over {turns} turns; "
        f"streaming: +{per_event * 1000:.1f} us per delta ({chunks} deltas); "
        f"{one['events_per_s']:.0f} events persisted/s"
    )


async def run_in_memory(turns: int, chunks: int) -> None:
    one = await measure(InMemorySessionService(), turns=turns, chunks=1)
    many = await measure(InMemorySessionService(), turns=turns, chunks=chunks)
    report("in-memory", turns, one, many, chunks)


def setup_postgres() -> Any:
    """Embedded Postgres in a temp dir, migrated, with the default app: as `hector serve` has it."""
    os.environ["HECTOR_DATA_DIR"] = tempfile.mkdtemp(prefix="hector-bench-")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hector_site.settings")
    os.environ["HECTOR_LOG_LEVEL"] = "warning"
    import django

    django.setup()
    from apps.server.management.commands.hector_migrate import migrate_all
    from apps.tenancy.services import ensure_default_app

    migrate_all()
    ensure_default_app(config=CONFIG)
    from apps.conversations.stores import PostgresSessionService

    return PostgresSessionService


async def run_postgres(store_class: Any, turns: int, chunks: int) -> None:
    await measure(store_class("app_default"), turns=20, chunks=1)  # warm the pool and caches
    one = await measure(store_class("app_default"), turns=turns, chunks=1)
    many = await measure(store_class("app_default"), turns=turns, chunks=chunks)
    report("postgres", turns, one, many, chunks)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--turns", type=int, default=500)
    parser.add_argument("--chunks", type=int, default=200)
    options = parser.parse_args()
    asyncio.run(run_in_memory(options.turns, options.chunks))
    store_class = setup_postgres()
    asyncio.run(run_postgres(store_class, options.turns, options.chunks))


if __name__ == "__main__":
    main()
