"""A2A server benchmark: `hector serve` against google-adk's `to_a2a`, both behind one zero-latency
OpenAI-compatible fake (Chat Completions, a short reply streamed in a few chunks).

Prints, side by side:
- `message/send` (blocking) latency p50/p95 and req/s at concurrency 1 and 32, and server CPU ms
  per request (utime+stime of the server's process tree from /proc, Postgres included);
  targets: our overhead p50 <= 5 ms over the fake's own round trip, >= 2x ADK's req/s, <= 5 ms
  CPU per request (ADK measured 15-18 ms before).
- `message/stream`: time from the fake writing its first text delta to our first SSE frame that
  carries text (target p50 <= 2 ms); ADK calls the model without streaming, so for it the time
  from the fake writing its whole answer to ADK's first frame carrying text (time to first output).
- How many concurrent SSE streams one of our processes holds with no error (target >= 2,000).

The peer runs from its own venv, `bench/.peer-venv` (created on first use; see _a2a_peer.py).
Run: python bench/a2a.py [--requests N] [--rounds N] [--streams N] [--skip-adk]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import resource
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import yaml

# Run as a script, this file's folder leads sys.path and `bench/a2a.py` would shadow the `a2a`
# package (a2a-sdk): the repository root takes its place.
sys.path.pop(0)
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from a2a.compat.v0_3 import types as a2a_v03  # the official v0.3 JSON-RPC shapes

from bench._a2a_load import (
    Connection,
    CPUWatch,
    HTTPError,
    TimedFake,
    machine_busy_ms,
    percentile,
    postmasters_under,
    result_text,
    self_cpu_ms,
    sse_frames,
)
from bench._a2a_peer import ensure_peer_venv, peer_versions, start_peer
from tests.fakes.script import Reply, Script
from tests.live_server import LiveServer, free_port, start_live_server

REPLY = ["Hello", " from", " the", " fake", " model."]
REPLY_TEXT = "".join(REPLY)
INSTRUCTION = "Answer briefly."
CONCURRENCY = (1, 32)
RAMP = (500, 1000, 2000, 3000)
RAMP_DOWN = (100, 20)  # when 500 already fails
EXCEPTION_LINE = re.compile(r"^[\w.]+(Error|Exception|Timeout)\b:")


def say(line: str) -> None:
    print(line, flush=True)


# --- Requests ------------------------------------------------------------------------------------


def a2a_body(text: str, *, stream: bool = False) -> bytes:
    """One v0.3 JSON-RPC request, built with a2a-sdk's v0.3 types (kind, messageId, role, parts)."""
    message = a2a_v03.Message(
        message_id=uuid.uuid4().hex,
        role=a2a_v03.Role.user,
        parts=[a2a_v03.Part(root=a2a_v03.TextPart(text=text))],
    )
    params = a2a_v03.MessageSendParams(message=message)
    request_id = uuid.uuid4().hex
    request: Any = (
        a2a_v03.SendStreamingMessageRequest(id=request_id, params=params)
        if stream
        else a2a_v03.SendMessageRequest(id=request_id, params=params)
    )
    return request.model_dump_json(by_alias=True, exclude_none=True).encode()


def check_send(status: int, data: bytes) -> str | None:
    """None when the answer is a completed task (or a message) carrying the fake's reply."""
    if status != 200:
        return f"HTTP {status}: {data[:200]!r}"
    try:
        answer = json.loads(data)
    except ValueError:
        return f"not JSON: {data[:200]!r}"
    if "error" in answer:
        return f"JSON-RPC error {answer['error']}"
    result = answer.get("result") or {}
    state = (result.get("status") or {}).get("state")
    if result.get("kind") == "task" and state != "completed":
        return f"task state {state}"
    if REPLY_TEXT not in result_text(result):
        return f"reply text missing: {data[:300]!r}"
    return None


# --- Servers -------------------------------------------------------------------------------------


@dataclass
class Target:
    name: str
    port: int
    path: str
    cpu_watch: Callable[[], CPUWatch]
    pid: int
    log: Callable[[], str] = str

    def log_errors(self) -> list[str]:
        """The server log's exception lines, most frequent first, with their counts."""
        found = Counter(
            line.strip()[:200]
            for line in self.log().splitlines()
            if EXCEPTION_LINE.match(line.strip())
        )
        return [f"{count} x {line}" for line, count in found.most_common()]


def write_config(data_dir: Path, fake_url: str) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    config = {
        "llms": {
            "default": {
                "provider": "openai",
                "api": "chat",
                "model": "bench",
                "base_url": f"{fake_url}/v1",
                "api_key": "test",
            }
        },
        "agents": {"assistant": {"llm": "default", "instruction": INSTRUCTION}},
    }
    (data_dir / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))


async def probe(target: Target) -> str | None:
    connection = Connection("127.0.0.1", target.port)
    try:
        status, data = await connection.post(target.path, a2a_body("hi"))
    except (HTTPError, OSError) as error:
        return repr(error)
    finally:
        connection.close()
    return check_send(status, data)


def wait_until_answering(target: Target, wait_s: float) -> None:
    deadline = time.monotonic() + wait_s
    announced = False
    while True:
        problem = asyncio.run(probe(target))
        if problem is None:
            return
        if time.monotonic() >= deadline:
            raise SystemExit(f"{target.name}: POST {target.path} message/send fails: {problem}")
        if not announced:
            say(f"{target.name}: not answering A2A yet ({problem[:120]}); polling ...")
            announced = True
        time.sleep(5)


# --- message/send --------------------------------------------------------------------------------


@dataclass
class SendRun:
    concurrency: int
    latencies_ms: list[float]
    wall_s: float
    errors: list[str]
    server_cpu_ms: dict[str, float]
    bench_cpu_ms: float
    reconnects: int
    others_cpu_ms: float = 0.0  # the rest of the machine: other processes competing for cores

    @property
    def requests(self) -> int:
        return len(self.latencies_ms) + len(self.errors)

    def merged(self, other: SendRun) -> SendRun:
        """Two slices of one cell as one: times and CPU add up, latencies pool."""
        cpu = dict(self.server_cpu_ms)
        for group, ms in other.server_cpu_ms.items():
            cpu[group] = cpu.get(group, 0.0) + ms
        return SendRun(
            self.concurrency,
            self.latencies_ms + other.latencies_ms,
            self.wall_s + other.wall_s,
            self.errors + other.errors,
            cpu,
            self.bench_cpu_ms + other.bench_cpu_ms,
            self.reconnects + other.reconnects,
            self.others_cpu_ms + other.others_cpu_ms,
        )

    @property
    def rps(self) -> float:
        return self.requests / self.wall_s

    def p(self, fraction: float) -> float:
        return percentile(self.latencies_ms, fraction) if self.latencies_ms else float("nan")

    @property
    def cpu_per_request(self) -> float:
        return sum(self.server_cpu_ms.values()) / self.requests

    @property
    def busy(self) -> float:
        """Little's law: req/s x mean latency should be about the concurrency."""
        return self.rps * statistics.fmean(self.latencies_ms) / 1000 if self.latencies_ms else 0


async def send_load(target: Target, bodies: list[bytes], concurrency: int) -> SendRun:
    connections = [Connection("127.0.0.1", target.port) for _ in range(concurrency)]
    for connection in connections:
        await connection.connect()
    pending = iter(bodies)
    latencies: list[float] = []
    errors: list[str] = []

    async def worker(connection: Connection) -> None:
        for body in pending:
            started = time.perf_counter()
            try:
                status, data = await connection.post(target.path, body)
            except (HTTPError, OSError) as error:
                errors.append(repr(error))
                connection.close()
                continue
            elapsed = (time.perf_counter() - started) * 1000
            problem = check_send(status, data)
            if problem:
                errors.append(problem)
            else:
                latencies.append(elapsed)

    started = time.perf_counter()
    await asyncio.gather(*(worker(c) for c in connections))
    wall = time.perf_counter() - started
    for connection in connections:
        connection.close()
    reconnects = sum(c.reconnects for c in connections)
    return SendRun(concurrency, latencies, wall, errors, {}, 0.0, reconnects)


def measure_sends(target: Target, requests: int, concurrency: int) -> SendRun:
    warmup = [a2a_body("hi") for _ in range(max(50, 4 * concurrency))]
    asyncio.run(send_load(target, warmup, concurrency))
    bodies = [a2a_body("hi") for _ in range(requests)]
    bench_before, machine_before = self_cpu_ms(), machine_busy_ms()
    with target.cpu_watch() as cpu:
        run = asyncio.run(send_load(target, bodies, concurrency))
    run.server_cpu_ms = cpu.ms_by_group()
    run.bench_cpu_ms = self_cpu_ms() - bench_before
    machine = machine_busy_ms() - machine_before
    run.others_cpu_ms = max(0.0, machine - run.bench_cpu_ms - sum(run.server_cpu_ms.values()))
    return run


async def fake_round_trips(fake_port: int, count: int) -> list[float]:
    """What a client pays the fake itself for one streamed chat completion: the floor."""
    body = json.dumps(
        {
            "model": "bench",
            "stream": True,
            "messages": [
                {"role": "system", "content": INSTRUCTION},
                {"role": "user", "content": "hi"},
            ],
        }
    ).encode()
    connection = Connection("127.0.0.1", fake_port)
    times = []
    for _ in range(count):
        started = time.perf_counter()
        status, data = await connection.post("/v1/chat/completions", body)
        times.append((time.perf_counter() - started) * 1000)
        assert status == 200, data[:200]
        assert b"[DONE]" in data, data[:200]
    connection.close()
    return times


# --- message/stream: first text ------------------------------------------------------------------


@dataclass
class StreamLatency:
    client_ms: list[float] = field(default_factory=list)  # request sent -> first text frame
    after_fake_ms: list[float] = field(default_factory=list)  # fake wrote text -> first frame
    errors: list[str] = field(default_factory=list)
    streamed_calls: int = 0  # model calls the fake answered with a stream ...
    plain_calls: int = 0  # ... and with one JSON object


async def first_text_latency(target: Target, fake: TimedFake, samples: int) -> StreamLatency:
    out = StreamLatency()
    connection = Connection("127.0.0.1", target.port)
    prefix = f"{target.name[:3]}{uuid.uuid4().hex[:6]}"
    for index in range(samples):
        marker = f"{prefix}x{index}"
        body = a2a_body(f"hi #{marker}", stream=True)
        first_text = None
        final: dict[str, Any] | None = None
        seen: list[str] = []  # event kinds and states, for the error message
        feed = sse_frames()
        sent = time.monotonic()
        try:
            head = await connection.start(target.path, body, {"Accept": "text/event-stream"})
            if head.status != 200:
                raise HTTPError(f"HTTP {head.status}")
            async for chunk in connection.body_chunks(head):
                now = time.monotonic()
                for frame in feed(chunk):
                    if "error" in frame:
                        raise HTTPError(f"JSON-RPC error {frame['error']}")
                    result = frame.get("result") or {}
                    state_now = (result.get("status") or {}).get("state")
                    seen.append(f"{result.get('kind')}{'/' + state_now if state_now else ''}")
                    if first_text is None and result_text(result):
                        first_text = now
                    if result.get("final"):
                        final = result
        except (HTTPError, OSError, ValueError) as error:
            out.errors.append(repr(error))
            connection.close()
            continue
        state = ((final or {}).get("status") or {}).get("state")
        written = fake.first_text_at.pop(marker, None)
        if first_text is None or state != "completed" or written is None:
            events = " ".join([*seen[:3], "...", *seen[-3:]] if len(seen) > 6 else seen)
            out.errors.append(
                f"text frame: {first_text is not None}, final state: {state}, the fake "
                f"answered: {written is not None}; events: {events}"
            )
            continue
        out.client_ms.append((first_text - sent) * 1000)
        out.after_fake_ms.append((first_text - written) * 1000)
    connection.close()
    return out


# --- Concurrent SSE streams ----------------------------------------------------------------------


@dataclass
class Capacity:
    streams: int
    opened: int = 0  # got the first SSE frame
    flowing: int = 0  # got a text frame: the model's stream reaches the client
    completed: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    examples: dict[str, str] = field(default_factory=dict)  # one detail per error kind
    open_s: float = 0.0
    rss_mb: float = 0.0
    fds: int = 0
    threads: int = 0
    server_cpu_ms: float = 0.0

    def error(self, kind: str, example: str = "") -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1
        if example:
            self.examples.setdefault(kind, example)

    @property
    def ok(self) -> bool:
        return not self.errors and self.completed == self.flowing == self.streams


class StreamHolder:
    """Opens `count` streams (at most 256 connecting at once) and counts how each one goes."""

    def __init__(self, target: Target, count: int) -> None:
        self.target = target
        self.capacity = Capacity(count)
        self.connecting = asyncio.Semaphore(256)
        self.all_flowing = asyncio.Event()
        self.settled = 0
        self.final_status = ""  # of the latest stream to end, for error examples

    def settle(self) -> None:
        """One stream carries text, or failed before it did."""
        self.settled += 1
        if self.settled == self.capacity.streams:
            self.all_flowing.set()

    async def one(self) -> None:
        capacity = self.capacity
        connection = Connection("127.0.0.1", self.target.port)
        progress = {"released": False, "counted": False}
        await self.connecting.acquire()
        try:
            state = await self._read(connection, progress)
            if state == "completed":
                capacity.completed += 1
            elif state is not None:
                capacity.error(f"ended in state {state}", self.final_status)
        except (HTTPError, OSError, ValueError) as error:
            capacity.error(type(error).__name__ + (f" {error}"[:80] if str(error) else ""))
        finally:
            if not progress["released"]:
                self.connecting.release()
            if not progress["counted"]:
                self.settle()
            connection.close()

    async def _read(self, connection: Connection, progress: dict[str, bool]) -> str | None:
        """The final state of one stream, or None after recording an error."""
        capacity = self.capacity
        body = a2a_body("hi", stream=True)
        head = await connection.start(self.target.path, body, {"Accept": "text/event-stream"})
        if head.status != 200:
            detail = b"".join([chunk async for chunk in connection.body_chunks(head)])
            capacity.error(f"HTTP {head.status}", detail[:300].decode(errors="replace"))
            return None
        feed = sse_frames()
        state = "no final event"
        async for chunk in connection.body_chunks(head):
            for frame in feed(chunk):
                if "error" in frame:
                    capacity.error(f"JSON-RPC {frame['error'].get('code')}", str(frame["error"]))
                    return None
                result = frame.get("result") or {}
                if not progress["released"]:
                    progress["released"] = True
                    capacity.opened += 1
                    self.connecting.release()
                if not progress["counted"] and result_text(result):
                    progress["counted"] = True
                    capacity.flowing += 1
                    self.settle()
                if result.get("final"):
                    state = (result.get("status") or {}).get("state")
                    self.final_status = json.dumps(result.get("status"))
        return state


async def hold_streams(
    target: Target, fake: TimedFake, count: int, open_timeout_s: float, finish_timeout_s: float
) -> Capacity:
    """Keep `count` streams open until every one carries text, then let the fake finish them;
    every stream must end `completed`."""
    holder = StreamHolder(target, count)
    capacity = holder.capacity
    fake.gate = threading.Event()
    started = time.monotonic()
    tasks = [asyncio.create_task(holder.one()) for _ in range(count)]
    await wait_flowing(holder, started + open_timeout_s)
    capacity.open_s = time.monotonic() - started
    try:
        server = psutil.Process(target.pid)
        capacity.rss_mb = server.memory_info().rss / 2**20
        capacity.fds = server.num_fds()
        capacity.threads = server.num_threads()
    except psutil.Error:
        pass
    await asyncio.sleep(1.0)  # all held open at once
    fake.gate.set()
    _, late = await asyncio.wait(tasks, timeout=finish_timeout_s)
    for task in late:
        task.cancel()
        capacity.error("did not finish in time")
    fake.gate = None
    return capacity


async def wait_flowing(holder: StreamHolder, deadline: float, stall_s: float = 30.0) -> None:
    """Until every stream carries text, the deadline passes, or every stream has been answered
    and none started carrying text for `stall_s` (streams queued inside the server)."""
    capacity = holder.capacity
    progress, last_change = -1, time.monotonic()
    while not holder.all_flowing.is_set():
        now = time.monotonic()
        if holder.settled != progress:
            progress, last_change = holder.settled, now
        answered = capacity.opened + sum(capacity.errors.values()) >= capacity.streams
        if answered and now - last_change > stall_s:
            capacity.error(
                f"{capacity.streams - holder.settled} streams open but no text for {stall_s:.0f} s"
            )
            return
        if now > deadline:
            capacity.error("not all streams carried text in time")
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(holder.all_flowing.wait(), 1.0)


def measure_capacity(target: Target, fake: TimedFake, max_streams: int) -> list[Capacity]:
    """Ramp up until a step fails; when the first step already fails, probe downwards."""
    steps = sorted({n for n in RAMP if n <= max_streams} | {max_streams})
    fake.script = Script(default=Reply(text=["tick "] * 4, chunk_delay_s=0.5))
    results: list[Capacity] = []
    while steps:
        count = steps.pop(0)
        say(f"  {count} concurrent streams against {target.name} ...")
        open_timeout_s = 60.0 + 0.1 * count  # time for the server to set up every stream
        with target.cpu_watch() as cpu:
            result = asyncio.run(
                hold_streams(target, fake, count, open_timeout_s, 60.0 + 0.1 * count)
            )
        result.server_cpu_ms = cpu.total_ms()
        results.append(result)
        say(
            f"    opened {result.opened}, carried text {result.flowing}, completed "
            f"{result.completed}, errors {result.errors or 0}; waited for text on every stream "
            f"{result.open_s:.1f} s; server RSS {result.rss_mb:.0f} MB, {result.fds} fds, "
            f"{result.threads} threads"
        )
        for kind, example in result.examples.items():
            say(f"    e.g. {kind}: {example[:300]}")
        time.sleep(2.0)  # let the server drop the finished streams
        passed_any = any(r.ok for r in results)
        if not result.ok:
            for line in target.log_errors()[:3]:
                say(f"    server log: {line}")
            steps = [] if passed_any else [n for n in RAMP_DOWN if n < count]
        elif count < results[0].streams:  # probing downwards: the first that passes ends it
            steps = []
    fake.script = Script(default=Reply(text=REPLY))
    return results


# --- Report --------------------------------------------------------------------------------------


def ms(value: float) -> str:
    return f"{value:.1f}" if value >= 10 else f"{value:.2f}"


def cpu_split(groups: dict[str, float], requests: int) -> str:
    parts = [f"{name} {ms(total / requests)}" for name, total in sorted(groups.items()) if total]
    return ", ".join(parts)


def report_sends(
    runs: dict[str, dict[int, SendRun]], floor_p50: float, requests: int, idle: dict[str, float]
) -> None:
    names = list(runs)
    say("")
    say(f"message/send (blocking), {requests} requests per cell")
    header = f"{'':<34}" + "".join(f"{name:>12}" for name in names)
    if len(names) == 2:
        header += f"{'ours / ADK':>14}"
    say(header)
    for concurrency in CONCURRENCY:
        rows: list[tuple[str, Callable[[SendRun], float], str]] = [
            ("latency p50 (ms)", lambda r: r.p(0.5), "ms"),
            ("latency p95 (ms)", lambda r: r.p(0.95), "ms"),
            ("requests/s", lambda r: r.rps, "n"),
            ("server CPU per request (ms)", lambda r: r.cpu_per_request, "ms"),
        ]
        for label, value, kind in rows:
            cells = [value(runs[name][concurrency]) for name in names]
            text = "".join(f"{(ms(c) if kind == 'ms' else f'{c:.0f}'):>12}" for c in cells)
            if len(cells) == 2 and cells[1]:
                text += f"{cells[0] / cells[1]:>13.2f}x"
            say(f"c={concurrency:<3} {label:<29}{text}")
        say("")
    ours = runs.get("ours")
    say("checks and notes:")
    say(
        "  idle server CPU (counted in the figures above): "
        + ", ".join(f"{name} {ms(value)} ms/s" for name, value in idle.items())
    )
    for name in names:
        for concurrency in CONCURRENCY:
            run = runs[name][concurrency]
            say(
                f"  {name} c={concurrency}: req/s x mean latency = {run.busy:.1f} "
                f"(concurrency {concurrency}); errors {len(run.errors)}"
                + (f" (first: {run.errors[0][:160]})" if run.errors else "")
                + f"; server CPU {cpu_split(run.server_cpu_ms, run.requests)} ms/req; "
                f"bench process (load generator + fake) {run.bench_cpu_ms / run.requests:.2f} "
                f"ms/req"
                + (f"; {run.reconnects} keep-alive reconnects" if run.reconnects else "")
                + f"; other processes {run.others_cpu_ms / run.wall_s / 10:.0f}% of a core"
            )
    if ours:
        overhead = ours[1].p(0.5) - floor_p50
        say(f"  fake alone (streamed chat completion, keep-alive, c=1): p50 {ms(floor_p50)} ms")
        say(
            f"  OUR OVERHEAD p50 at c=1 = {ms(ours[1].p(0.5))} - {ms(floor_p50)} = "
            f"{ms(overhead)} ms  [target <= 5 ms]"
        )
        cpu = ours[32].cpu_per_request
        say(f"  OUR SERVER CPU per message/send (c=32) = {ms(cpu)} ms  [target <= 5 ms]")
    if ours and "ADK" in runs:
        ratio = ours[32].rps / runs["ADK"][32].rps
        say(f"  OUR req/s / ADK req/s at c=32 = {ratio:.2f}x  [target >= 2x]")
        say(f"  ADK server CPU per message/send (c=32) = {ms(runs['ADK'][32].cpu_per_request)} ms")


def report_streams(latencies: dict[str, StreamLatency]) -> None:
    say("")
    say("message/stream, one stream at a time: time to the first SSE frame carrying text")
    for name, result in latencies.items():
        if not result.client_ms:
            say(f"  {name}: no successful stream; errors: {result.errors[:3]}")
            continue
        what = (
            "fake wrote its first text delta -> our first text frame"
            if name == "ours"
            else "fake wrote its whole (non-streamed) answer -> ADK's first text frame"
        )
        say(
            f"  {name:<5} {what}: p50 {ms(percentile(result.after_fake_ms, 0.5))} ms, "
            f"p95 {ms(percentile(result.after_fake_ms, 0.95))} ms"
            + ("  [target p50 <= 2 ms]" if name == "ours" else "")
        )
        say(
            f"  {name:<5} request sent -> first text frame (time to first output): p50 "
            f"{ms(percentile(result.client_ms, 0.5))} ms, p95 "
            f"{ms(percentile(result.client_ms, 0.95))} ms; {len(result.client_ms)} streams, "
            f"{len(result.errors)} errors"
            + (f" (first: {result.errors[0][:160]})" if result.errors else "")
            + f"; its model calls: {result.streamed_calls} streamed, "
            f"{result.plain_calls} not streamed"
        )


def report_capacity(results: list[Capacity]) -> None:
    say("")
    say("concurrent SSE streams held by one process of ours (each ends 'completed', no errors)")
    for result in results:
        verdict = "ok" if result.ok else f"FAILED {result.errors}"
        say(
            f"  {result.streams:>5} streams: {verdict}; waited for text on every stream "
            f"{result.open_s:.1f} s; server RSS {result.rss_mb:.0f} MB, {result.fds} fds, "
            f"{result.threads} threads, "
            f"CPU {result.server_cpu_ms / result.streams:.1f} ms per stream"
        )
    best = max((r.streams for r in results if r.ok), default=0)
    failed = min((r.streams for r in results if not r.ok), default=None)
    after = f" (failed at {failed})" if failed else ""
    say(f"  LARGEST N WITH ZERO ERRORS: {best}{after}  [target >= 2,000]")


# --- Main ----------------------------------------------------------------------------------------


def raise_fd_limit() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=1000, help="message/send per cell")
    parser.add_argument(
        "--rounds", type=int, default=4, help="turns each server takes per cell (drift)"
    )
    parser.add_argument("--streams", type=int, default=3000, help="most concurrent SSE streams")
    parser.add_argument("--stream-samples", type=int, default=300, help="streams timed one by one")
    parser.add_argument("--skip-adk", action="store_true", help="only our server")
    parser.add_argument("--skip-ours", action="store_true", help="only the ADK peer")
    parser.add_argument("--wait-s", type=float, default=0, help="poll our A2A endpoint this long")
    options = parser.parse_args()
    # Servers inherit the limit: thousands of streams need thousands of descriptors in both.
    fd_limit = raise_fd_limit()
    sys.setswitchinterval(0.001)  # the fake's threads share this process with the load generator
    os.environ.setdefault("HECTOR_LOG_LEVEL", "warning")

    fake = TimedFake(Script(default=Reply(text=REPLY)))
    fake.start()
    say("A2A benchmark: hector serve vs google-adk to_a2a, one zero-latency OpenAI fake")
    say(
        f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} (the numbers "
        f"need an otherwise idle machine); fd limit {fd_limit}; load generator: asyncio raw "
        "HTTP/1.1, one keep-alive connection per worker; a2a-sdk v0.3 request shapes"
    )
    targets: list[Target] = []
    stoppers: list[Callable[[], None]] = []
    with tempfile.TemporaryDirectory(prefix="hector-bench-a2a-") as tmp:
        try:
            if not options.skip_ours:
                data_dir = Path(tmp) / "data"
                write_config(data_dir, fake.url)
                say("ours: starting hector serve (embedded Postgres, first start migrates) ...")
                server: LiveServer = start_live_server(data_dir, "--no-watch")
                stoppers.append(server.stop)
                pid = server.process.pid
                targets.append(
                    Target(
                        "ours",
                        server.port,
                        "/agents/assistant",
                        lambda pid=pid, d=data_dir: CPUWatch(  # type: ignore[misc]
                            pid, lambda: postmasters_under(d)
                        ),
                        pid,
                        server.text,
                    )
                )
                wait_until_answering(targets[-1], options.wait_s)
            if not options.skip_adk:
                ensure_peer_venv()
                say(f"ADK: {peer_versions()}")
                peer_dir = Path(tmp) / "peer"
                peer_dir.mkdir()
                say("ADK: starting the peer (LlmAgent + LiteLlm -> fake, to_a2a, uvicorn) ...")
                peer = start_peer(peer_dir, free_port(), f"{fake.url}/v1", INSTRUCTION)
                stoppers.append(peer.stop)
                pid = peer.process.pid
                targets.append(
                    Target("ADK", peer.port, "/", lambda pid=pid: CPUWatch(pid), pid)  # type: ignore[misc]
                )
                wait_until_answering(targets[-1], 30)
            if not targets:
                raise SystemExit("nothing to measure")
            run_all(options, fake, targets)
        finally:
            for stop in reversed(stoppers):
                stop()
            fake.stop()


def idle_cpu(targets: list[Target], seconds: float = 3.0) -> dict[str, float]:
    """Server CPU ms per second with no traffic: background work inside the per-request figures."""
    watches = [target.cpu_watch() for target in targets]
    for watch in watches:
        watch.__enter__()
    time.sleep(seconds)
    for watch in watches:
        watch.__exit__()
    return {t.name: w.total_ms() / seconds for t, w in zip(targets, watches, strict=True)}


def run_all(options: argparse.Namespace, fake: TimedFake, targets: list[Target]) -> None:
    started, bench_before, machine_before = time.monotonic(), self_cpu_ms(), machine_busy_ms()
    watches = [target.cpu_watch() for target in targets]
    for watch in watches:
        watch.__enter__()
    measure_all(options, fake, targets)
    for watch in watches:
        watch.__exit__()
    ours_and_peer = sum(watch.total_ms() for watch in watches)
    machine = machine_busy_ms() - machine_before
    others = max(0.0, machine - (self_cpu_ms() - bench_before) - ours_and_peer)
    elapsed = time.monotonic() - started
    say(
        f"\nother processes on the machine used {others / elapsed / 10:.0f}% of a core on "
        f"average over the {elapsed:.0f} s of measurements (0% = nothing else competed)"
    )


def measure_all(options: argparse.Namespace, fake: TimedFake, targets: list[Target]) -> None:
    floor = asyncio.run(fake_round_trips(fake.port, 300))
    idle = idle_cpu(targets)
    runs: dict[str, dict[int, SendRun]] = {target.name: {} for target in targets}
    # The servers take turns, a slice of the requests each, so a drift of the shared machine's
    # speed during the run (seen here: 1.7x within minutes) weighs on both sides alike.
    per_round = max(1, options.requests // options.rounds)
    for concurrency in CONCURRENCY:
        names = " and ".join(target.name for target in targets)
        say(
            f"{names}: {options.rounds} x {per_round} x message/send each, taking turns, "
            f"concurrency {concurrency} ..."
        )
        for _ in range(options.rounds):
            for target in targets:
                run = measure_sends(target, per_round, concurrency)
                done = runs[target.name].get(concurrency)
                runs[target.name][concurrency] = run if done is None else done.merged(run)
    latencies: dict[str, StreamLatency] = {}
    for target in targets:
        say(f"{target.name}: {options.stream_samples} x message/stream, one at a time ...")
        asyncio.run(first_text_latency(target, fake, 20))  # warm-up
        calls = fake.streamed, fake.not_streamed
        result = asyncio.run(first_text_latency(target, fake, options.stream_samples))
        result.streamed_calls = fake.streamed - calls[0]
        result.plain_calls = fake.not_streamed - calls[1]
        latencies[target.name] = result
    capacity: list[Capacity] = []
    ours = next((t for t in targets if t.name == "ours"), None)
    if ours and options.streams > 0:
        say(
            "ours: concurrent SSE streams (fake: 4 deltas 0.5 s apart, then one every 10 s until "
            "every stream carries text) ..."
        )
        capacity = measure_capacity(ours, fake, options.streams)
    report_sends(runs, percentile(floor, 0.5), options.requests, idle)
    report_streams(latencies)
    if capacity:
        report_capacity(capacity)


if __name__ == "__main__":
    main()
