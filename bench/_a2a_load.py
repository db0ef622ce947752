"""Measuring parts of bench/a2a.py: a timed OpenAI fake, a lean HTTP/1.1 client, server CPU.

The load generator speaks HTTP/1.1 over raw asyncio streams (one keep-alive connection per
worker): httpx costs ~1.5 ms of CPU per request, which on two cores would be taken from the
servers being measured.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from tests.fakes.http import RecordedRequest, Response
from tests.fakes.openai_server import Fake
from tests.fakes.script import Script

MARKER = re.compile(r"#(\w+)")


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


# --- The timed fake ------------------------------------------------------------------------------


def _user_marker(body: Any) -> str | None:
    """The `#marker` in the last user message a server sent to the model."""
    if not isinstance(body, dict):
        return None
    for message in reversed(body.get("messages") or body.get("input") or []):
        if isinstance(message, dict) and message.get("role") == "user":
            content = message.get("content")
            text = content if isinstance(content, str) else json.dumps(content)
            found = MARKER.search(text)
            return found.group(1) if found else None
    return None


def _is_text_chunk(frame: bytes) -> bool:
    return b'"delta": {"content": "' in frame or b'"response.output_text.delta"' in frame


def _is_finish_chunk(frame: bytes) -> bool:
    return b'"finish_reason": "' in frame or b'"response.completed"' in frame


class TimedFake(Fake):
    """The tests' OpenAI fake, recording when it *wrote* the first text of each answer.

    `first_text_at[marker]` is `time.monotonic()` right after the first text delta was written
    and flushed (streamed answers), or right before the complete JSON answer is written (a
    non-streaming request: json.dumps + one write follow, microseconds). With `gate` set,
    streamed answers hold their finishing chunk until the gate opens (capacity test), repeating
    their last text delta every `hold_tick_s` meanwhile, as a slow model would: a stream silent
    for longer than the server's LLM timeout (120 s) would fail for that alone.
    """

    def __init__(self, script: Script) -> None:
        super().__init__(script)
        self.first_text_at: dict[str, float] = {}
        self.gate: threading.Event | None = None
        self.hold_tick_s = 10.0
        self.hold_max_s = 900.0
        self.streamed = 0
        self.not_streamed = 0
        # ThreadingHTTPServer listens with a backlog of 5: thousands of streams connect at once.
        self._server.socket.listen(4096)
        # Without TCP_NODELAY the body, written after the head, waits for the client's delayed
        # ACK: +40 ms on a non-streamed answer (ADK's). The handler class is this fake's own.
        self._server.RequestHandlerClass.disable_nagle_algorithm = True  # type: ignore[attr-defined]

    def handle(self, request: RecordedRequest) -> Response:
        marker = _user_marker(request.body)
        response = super().handle(request)
        if response.stream is None:
            self.not_streamed += 1
            if marker and response.status == 200:
                self.first_text_at[marker] = time.monotonic()
            return response
        self.streamed += 1
        response.stream = self._watched(response.stream, marker)
        return response

    def _watched(self, frames: Iterator[bytes], marker: str | None) -> Iterator[bytes]:
        last_text: bytes | None = None
        for frame in frames:
            gate = self.gate
            if gate is not None and _is_finish_chunk(frame):
                held_until = time.monotonic() + self.hold_max_s
                while not gate.wait(self.hold_tick_s) and time.monotonic() < held_until:
                    if last_text is not None:
                        yield last_text
            yield frame  # resumes after the server thread wrote and flushed the frame
            if _is_text_chunk(frame):
                if last_text is None and marker:
                    self.first_text_at[marker] = time.monotonic()
                last_text = frame


# --- HTTP/1.1 client over asyncio streams --------------------------------------------------------


class HTTPError(Exception):
    pass


@dataclass
class Head:
    status: int
    headers: dict[str, str]


class Connection:
    """One keep-alive HTTP/1.1 connection; reconnects when the server closed it."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.reused = False
        self.reconnects = 0

    async def connect(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port, limit=2**22)
        self.reused = False

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None

    def _request_bytes(self, path: str, body: bytes, headers: dict[str, str]) -> bytes:
        lines = [
            f"POST {path} HTTP/1.1",
            f"Host: {self.host}:{self.port}",
            "Content-Type: application/json",
            f"Content-Length: {len(body)}",
            *(f"{name}: {value}" for name, value in headers.items()),
        ]
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + body

    async def start(self, path: str, body: bytes, headers: dict[str, str] | None = None) -> Head:
        """Send one request and read the response head; retried once on a stale keep-alive."""
        payload = self._request_bytes(path, body, headers or {})
        for attempt in (0, 1):
            if self.writer is None:
                await self.connect()
            assert self.reader is not None
            assert self.writer is not None
            reused = self.reused
            self.writer.write(payload)
            try:
                raw = await self.reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, ConnectionError) as error:
                self.close()
                partial = getattr(error, "partial", b"")
                if reused and not partial and attempt == 0:
                    self.reconnects += 1
                    continue
                raise HTTPError(f"connection closed before a response: {error!r}") from error
            self.reused = True
            status_line, *header_lines = raw.decode("latin-1").split("\r\n")
            headers = {}
            for line in header_lines:
                if ":" in line:
                    name, value = line.split(":", 1)
                    headers[name.strip().lower()] = value.strip()
            return Head(int(status_line.split(" ", 2)[1]), headers)
        raise AssertionError("unreachable")

    async def body_chunks(self, head: Head) -> AsyncIterator[bytes]:
        """The response body as it arrives (chunked, sized, or until the server closes)."""
        assert self.reader is not None
        reader = self.reader
        if head.headers.get("transfer-encoding", "").lower() == "chunked":
            while True:
                size = int((await reader.readline()).split(b";", 1)[0], 16)
                if size == 0:
                    await reader.readline()  # the empty trailer line
                    break
                data = await reader.readexactly(size + 2)
                yield data[:-2]
        elif "content-length" in head.headers:
            length = int(head.headers["content-length"])
            if length:
                yield await reader.readexactly(length)
        else:
            while data := await reader.read(65536):
                yield data
            self.close()
        if head.headers.get("connection", "").lower() == "close":
            self.close()

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        head = await self.start(path, body)
        parts = [chunk async for chunk in self.body_chunks(head)]
        return head.status, b"".join(parts)


def sse_frames() -> Callable[[bytes], list[Any]]:
    """An incremental SSE parser: feed body chunks, get the JSON of each complete `data:` frame."""
    buffer = b""

    def feed(chunk: bytes) -> list[Any]:
        nonlocal buffer
        buffer += chunk.replace(b"\r\n", b"\n")
        frames = []
        while b"\n\n" in buffer:
            frame, buffer = buffer.split(b"\n\n", 1)
            data = [line[5:].strip() for line in frame.split(b"\n") if line.startswith(b"data:")]
            if data:
                frames.append(json.loads(b"\n".join(data)))
        return frames

    return feed


def result_text(result: Any) -> str:
    """Text carried by one v0.3 event or result (artifact-update, status message, message, task)."""
    if not isinstance(result, dict):
        return ""
    parts: list[Any] = []
    kind = result.get("kind")
    if kind == "artifact-update":
        parts = (result.get("artifact") or {}).get("parts") or []
    elif kind == "status-update":
        parts = ((result.get("status") or {}).get("message") or {}).get("parts") or []
    elif kind == "message":
        parts = result.get("parts") or []
    elif kind == "task":
        for artifact in result.get("artifacts") or []:
            parts.extend(artifact.get("parts") or [])
    return "".join(str(p.get("text", "")) for p in parts if isinstance(p, dict))


# --- Server CPU from /proc -----------------------------------------------------------------------

TICK_MS = 1000.0 / os.sysconf("SC_CLK_TCK")


def proc_cpu_ticks(pid: int) -> int | None:
    """utime + stime of one process, from /proc/<pid>/stat."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return None
    fields = stat[stat.rindex(b")") + 2 :].split()
    return int(fields[11]) + int(fields[12])


@dataclass
class CPUWatch:
    """Server CPU over a window: the server, its descendants and `extra` roots (a daemonized
    Postgres) with theirs. A thread re-reads the tree every `interval_s`, so processes that start
    or exit inside the window (a new Postgres backend) are counted up to their last sample."""

    root: int
    extra_roots: Callable[[], list[int]] = list
    interval_s: float = 0.5
    groups: dict[int, str] = field(default_factory=dict)
    start: dict[int, int] = field(default_factory=dict)
    last: dict[int, int] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def tree(self) -> dict[int, str]:
        found: dict[int, str] = {}
        for group, pid in [("web", self.root)] + [("postgres", p) for p in self.extra_roots()]:
            try:
                process = psutil.Process(pid)
                found.setdefault(pid, group)
                for child in process.children(recursive=True):
                    found.setdefault(child.pid, group if group == "postgres" else "children")
            except psutil.Error:
                continue
        return found

    def _sample(self, initial: bool = False) -> None:
        for pid, group in self.tree().items():
            ticks = proc_cpu_ticks(pid)
            if ticks is None:
                continue
            self.groups.setdefault(pid, group)
            self.start.setdefault(pid, ticks if initial else 0)  # born in the window: all of it
            self.last[pid] = ticks

    def __enter__(self) -> CPUWatch:
        self._sample(initial=True)
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self._sample()

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self._sample()

    def ms_by_group(self) -> dict[str, float]:
        totals: dict[str, float] = {}
        for pid, ticks in self.last.items():
            group = self.groups[pid]
            totals[group] = totals.get(group, 0.0) + (ticks - self.start.get(pid, 0)) * TICK_MS
        return totals

    def total_ms(self) -> float:
        return sum(self.ms_by_group().values())


def machine_busy_ms() -> float:
    """CPU time all processes of the machine have used (all cores), from /proc/stat."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(f) for f in fields[:8])
    return (user + nice + system + irq + softirq + steal) * TICK_MS


def self_cpu_ms() -> float:
    """CPU of this process (load generator + the fake's threads)."""
    times = os.times()
    return (times.user + times.system) * 1000.0


def postmasters_under(directory: Path) -> list[int]:
    """Postgres postmasters whose data dir is inside `directory` (embedded Postgres daemonizes)."""
    needle = str(directory)
    found = []
    for process in psutil.process_iter(["name", "cmdline"]):
        cmdline = process.info.get("cmdline") or []
        if "postgres" in (process.info.get("name") or "") and "-D" in cmdline:
            data_dir = cmdline[cmdline.index("-D") + 1]
            if data_dir.startswith(needle):
                found.append(process.pid)
    return found
