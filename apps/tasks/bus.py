"""Task updates fan out to subscribers in any process; cancel requests reach the process running
the task.

- **In-process subscribers get the update object itself**: `publish` puts it straight into each
  local subscription's queue (through `call_soon_threadsafe` when the subscriber lives on another
  event loop). No encoding, no I/O, so the SSE budget (first frame at most 2 ms after the LLM's
  first token) is not spent here.
- **Other processes get it through a backend**: Redis pub/sub when `REDIS_URL` is set, else
  Postgres LISTEN/NOTIFY (the embedded single-machine default needs no Redis). A private thread
  with its own event loop (the "bus thread") owns every backend connection, so request loops,
  Celery's per-task loops and test loops come and go without leaking or rebinding connections.
  `publish` hands the update over with one `call_soon_threadsafe`; the bus thread encodes,
  batches and sends in publish order.
- Every frame starts with the publishing process's origin id; a process drops its own frames
  when they come back, since its local subscribers already had them.
- **Control messages** ("cancel task X") go on one channel every process listens to; the handler
  (`apps.tasks.runtime.cancel_local_run`, wired in `apps.py`) cancels the run if it lives here.
- **Updates only go where someone follows the task.** Text deltas are most of a run's updates,
  and sending each through Postgres or Redis cost more CPU than the rest of a `message/send`.
  A remote subscription announces its interest on the control channel (again every
  `INTEREST_REFRESH_S` while it lasts, and whenever a bus connects and asks); a publisher sends
  a task's updates only while interest in it is fresh. Final status updates always go out (a
  follower must never wait for an end that was not sent). A follower whose interest was still in
  flight misses what was published meanwhile: it read the row after subscribing, and gets each
  artifact whole with the final status (`TaskService._follow`).
- **A final update nobody follows yet rides with the row.** On Postgres, the statement that
  writes a task's final state also sends its frame (`row_frame`, NOTIFY, delivered at commit):
  no round trip of its own, no work for the bus thread. It is there for a follower whose
  interest is in flight; a task known to be followed sends its final through the bus thread,
  after the chunks still queued there.

Updates are ephemeral notifications: the Task row stays the truth, so a subscriber that may have
missed something (a backend outage) re-reads the row (`TaskService.subscribe` does).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import os
import threading
import time
import uuid
from collections import OrderedDict, deque
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import Future as ThreadFuture
from dataclasses import dataclass
from typing import Any, Protocol

from agents.tasks import StatusUpdate, TaskUpdate
from apps.tasks.codec import update_from_json, update_to_json

__all__ = [
    "Backend",
    "PostgresBackend",
    "RedisBackend",
    "Subscription",
    "TaskBus",
    "get_bus",
    "publish",
    "request_cancel",
    "row_frame",
    "set_cancel_handler",
    "shutdown",
    "subscribe",
]

logger = logging.getLogger(__name__)

Key = tuple[str, str]  # (schema, task_id)
CancelHandler = Callable[[str, str], object]

LISTEN_TIMEOUT_S = 5.0  # a subscriber waits at most this long for the backend to confirm
CONNECT_TIMEOUT_S = 5
MAX_BACKLOG = 10_000  # frames kept while the backend is unreachable; older ones are dropped
BATCH = 256  # frames per backend round trip
INTEREST_TTL_S = 60.0  # a task's chunks are sent this long after the last interest in it
INTEREST_REFRESH_S = 20.0  # a remote subscription re-announces its interest this often


# --- Subscriptions ------------------------------------------------------------------------------


_END = object()  # queued by Subscription.end(): iteration stops after what came before it


class Subscription:
    """The updates of one task for one consumer, in publish order.

    Iterate it (`async for update in sub`) or poll with `get(timeout_s)`; `close()` (or
    `aclose()`, or leaving `async with`) unsubscribes. Created by `TaskBus.subscribe`, on the
    event loop that will consume it.
    """

    def __init__(self, bus: TaskBus, key: Key, *, remote: bool) -> None:
        self.key = key
        self.remote = remote
        self._bus = bus
        self._loop = asyncio.get_running_loop()
        self._queue: asyncio.Queue[object] = asyncio.Queue()
        self._closed = False
        self._ended = False
        self._announced_at = time.monotonic()

    @property
    def ended(self) -> bool:
        """True once `end()`'s marker was consumed: nothing more will come."""
        return self._ended

    def deliver(self, item: object) -> None:
        """Queue an update; safe from any thread."""
        if self._closed:
            return
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._loop:
            self._queue.put_nowait(item)
            return
        try:
            self._loop.call_soon_threadsafe(self._queue.put_nowait, item)
        except RuntimeError:  # the consumer's loop is closed: it is gone
            self.close()

    def end(self) -> None:
        """Stop iteration after the updates already queued (e.g. the producing run finished)."""
        self.deliver(_END)

    async def get(self, timeout_s: float | None = None) -> TaskUpdate | None:
        """The next update; None after `timeout_s` without one, or once ended."""
        if self._ended:
            return None
        if self.remote and time.monotonic() - self._announced_at > INTEREST_REFRESH_S:
            self._announced_at = time.monotonic()
            self._bus.announce_interest(*self.key)
        try:
            if timeout_s is None:
                item = await self._queue.get()
            else:
                async with asyncio.timeout(timeout_s):
                    item = await self._queue.get()
        except TimeoutError:
            return None
        if item is _END:
            self._ended = True
            return None
        return item  # type: ignore[return-value]  # only updates and _END are ever queued

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> TaskUpdate:
        update = await self.get()
        if update is None:
            raise StopAsyncIteration
        return update

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._bus._unsubscribe(self)

    async def aclose(self) -> None:
        self.close()

    async def __aenter__(self) -> Subscription:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.close()


# --- Backends (run on the bus thread) -----------------------------------------------------------


class Backend(Protocol):
    """Moves frames (text) between processes. Every method runs on the bus thread's loop."""

    control_channel: str

    def channel_for(self, schema: str, task_id: str) -> str: ...

    def row_channel(self, schema: str, task_id: str) -> str | None:
        """Where a statement on the app's database may NOTIFY a frame for this backend's
        listeners; None when they do not listen on Postgres."""
        ...

    async def connect(self) -> None: ...

    async def listen(self, channel: str) -> None:
        """Return once frames published on `channel` from now on will be received."""
        ...

    async def unlisten(self, channel: str) -> None: ...

    async def send(self, frames: Sequence[tuple[str, str]]) -> None:
        """Publish (channel, frame) pairs, in order."""
        ...

    def receive(self) -> AsyncIterator[tuple[str, str]]:
        """(channel, frame) as they arrive; raises when the connection is lost."""
        ...

    async def close(self) -> None: ...


NOTIFY_CHUNK = 7000  # characters; frames are ASCII, and NOTIFY payloads must stay under 8000 bytes


class PostgresBackend:
    """LISTEN/NOTIFY on two fixed channels (updates, control), on dedicated autocommit connections.

    Every process receives every update and drops the tasks nobody here subscribed to: fine for
    the single-machine default; Redis gives each task its own channel. A frame longer than a
    NOTIFY payload may be is sent as numbered chunks (`~<id> <i> <n> <piece>`) and reassembled:
    notifications of one connection arrive in commit order, and every frame is unique (origin and
    sequence number), so Postgres never folds two of them into one.
    """

    updates_channel = "hector_task_updates"
    control_channel = "hector_task_control"

    def __init__(self, conninfo: str) -> None:
        self._conninfo = conninfo
        self._listener: Any = None
        self._sender: Any = None
        self._chunk_ids = itertools.count(1)

    def channel_for(self, schema: str, task_id: str) -> str:
        return self.updates_channel

    def row_channel(self, schema: str, task_id: str) -> str | None:
        return self.updates_channel  # the listeners are on Django's default database

    async def connect(self) -> None:
        import psycopg

        self._listener = await psycopg.AsyncConnection.connect(
            self._conninfo, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S
        )
        await self._listener.execute(f"LISTEN {self.updates_channel}")
        await self._listener.execute(f"LISTEN {self.control_channel}")
        self._sender = await psycopg.AsyncConnection.connect(
            self._conninfo, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S
        )

    async def listen(self, channel: str) -> None:
        if channel not in (self.updates_channel, self.control_channel):
            raise ValueError(f"unknown bus channel {channel!r}")

    async def unlisten(self, channel: str) -> None:
        return None

    async def send(self, frames: Sequence[tuple[str, str]]) -> None:
        rows = [(channel, piece) for channel, frame in frames for piece in self._pieces(frame)]
        async with self._sender.cursor() as cursor:
            await cursor.executemany("SELECT pg_notify(%s, %s)", rows)

    def _pieces(self, frame: str) -> list[str]:
        if len(frame) <= NOTIFY_CHUNK:
            return [frame]
        chunk_id = f"{os.getpid()}.{next(self._chunk_ids)}"
        pieces = [frame[i : i + NOTIFY_CHUNK] for i in range(0, len(frame), NOTIFY_CHUNK)]
        return [f"~{chunk_id} {i} {len(pieces)} {piece}" for i, piece in enumerate(pieces)]

    async def receive(self) -> AsyncIterator[tuple[str, str]]:
        partial: OrderedDict[str, list[str | None]] = OrderedDict()
        async for notify in self._listener.notifies():
            frame = _reassemble(partial, notify.payload)
            if frame is not None:
                yield notify.channel, frame

    async def close(self) -> None:
        for connection in (self._listener, self._sender):
            if connection is not None:
                try:
                    await connection.close()
                except Exception:
                    logger.debug("task bus: closing a Postgres connection failed", exc_info=True)
        self._listener = self._sender = None


def _reassemble(partial: OrderedDict[str, list[str | None]], payload: str) -> str | None:
    """A whole frame, or None while chunks of it are missing. Chunks of frames that began before
    this listener connected never complete; the oldest incomplete frames are dropped."""
    if not payload.startswith("~"):
        return payload
    header, _, piece = payload.partition(" ")
    index, _, rest = piece.partition(" ")
    count, _, piece = rest.partition(" ")
    chunk_id, i, n = header[1:], int(index), int(count)
    pieces = partial.setdefault(chunk_id, [None] * n)
    pieces[i] = piece
    if any(p is None for p in pieces):
        while len(partial) > 64:
            partial.popitem(last=False)
        return None
    del partial[chunk_id]
    return "".join(p for p in pieces if p is not None)


class RedisBackend:
    """Redis pub/sub: one channel per task, so a process receives only what it subscribed to."""

    control_channel = "hector:tasks:control"

    def __init__(self, url: str) -> None:
        self._url = url
        self._redis: Any = None
        self._pubsub: Any = None
        self._confirmed: dict[str, asyncio.Future[None]] = {}

    def channel_for(self, schema: str, task_id: str) -> str:
        return f"hector:tasks:{schema}:{task_id}"

    def row_channel(self, schema: str, task_id: str) -> str | None:
        return None

    async def connect(self) -> None:
        from redis.asyncio import Redis

        self._redis = Redis.from_url(
            self._url, decode_responses=True, socket_connect_timeout=CONNECT_TIMEOUT_S
        )
        await self._redis.ping()
        self._pubsub = self._redis.pubsub()
        self._confirmed = {}
        # Subscribed before `receive` starts: reading needs a subscribed connection.
        await self._subscribe(self.control_channel)

    async def _subscribe(self, channel: str) -> asyncio.Future[None]:
        confirmed = self._confirmed.get(channel)
        if confirmed is None:
            confirmed = self._confirmed[channel] = asyncio.get_running_loop().create_future()
            await self._pubsub.subscribe(channel)
        return confirmed

    async def listen(self, channel: str) -> None:
        # SUBSCRIBE is in effect once Redis confirms it; `receive` resolves the future then.
        await asyncio.shield(await self._subscribe(channel))

    async def unlisten(self, channel: str) -> None:
        if self._confirmed.pop(channel, None) is not None:
            await self._pubsub.unsubscribe(channel)

    async def send(self, frames: Sequence[tuple[str, str]]) -> None:
        async with self._redis.pipeline(transaction=False) as pipe:
            for channel, frame in frames:
                pipe.publish(channel, frame)
            await pipe.execute()

    async def receive(self) -> AsyncIterator[tuple[str, str]]:
        while True:
            message = await self._pubsub.get_message(timeout=None)
            if message is None:
                continue
            kind, channel = message["type"], message["channel"]
            if kind == "message":
                yield channel, message["data"]
            elif kind == "subscribe":
                confirmed = self._confirmed.get(channel)
                if confirmed is not None and not confirmed.done():
                    confirmed.set_result(None)

    async def close(self) -> None:
        for confirmed in self._confirmed.values():
            confirmed.cancel()
        for closable in (self._pubsub, self._redis):
            if closable is not None:
                try:
                    await closable.aclose()
                except Exception:
                    logger.debug("task bus: closing Redis failed", exc_info=True)
        self._pubsub = self._redis = None


# --- The bus thread -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Outgoing:
    """What `publish` hands to the bus thread; encoded there, off the caller's loop."""

    kind: str  # "update" | "cancel" | "interest" | "who" (asks every bus for its interests)
    schema: str
    task_id: str
    update: TaskUpdate | None = None


class _Worker:
    """Owns the backend on a private thread and loop: connects (and reconnects with backoff),
    listens, sends the outbox in order, and hands received frames to `on_frame`."""

    def __init__(
        self,
        backend: Backend,
        *,
        origin: str,
        on_frame: Callable[[str, str, str, str], None],
        channels: set[str],
    ) -> None:
        self.backend = backend
        self._origin = origin
        self._on_frame = on_frame
        self._channels = set(channels)
        self._sequence = itertools.count(1)
        self._inbox: deque[_Outgoing] = deque()  # from any thread
        self._drain_scheduled = False
        self._outbox: deque[tuple[str, str]] = deque()  # encoded, on the bus thread
        self._loop = asyncio.new_event_loop()
        self._wakeup = asyncio.Event()
        self._stopping = False
        self._connected = False
        self._ready = ThreadFuture[bool]()
        self._thread = threading.Thread(target=self._run, name="hector-task-bus", daemon=True)
        self._thread.start()

    # Called from any thread.

    def send(self, outgoing: _Outgoing) -> None:
        """Hand over a message. A burst of them (text deltas) wakes the bus thread once: only
        the first message after a drain schedules one (deque appends are thread-safe)."""
        self._inbox.append(outgoing)
        if self._drain_scheduled:
            return
        self._drain_scheduled = True
        try:
            self._loop.call_soon_threadsafe(self._drain_inbox)
        except RuntimeError:  # stopped
            logger.debug("task bus: dropped a message after shutdown")

    async def ready(self, timeout_s: float = LISTEN_TIMEOUT_S) -> bool:
        """Wait until the backend listens (True) or its first connection failed (False)."""
        try:
            async with asyncio.timeout(timeout_s):
                return await asyncio.wrap_future(self._ready)
        except TimeoutError:
            return False

    async def listen(self, channel: str) -> None:
        future = asyncio.run_coroutine_threadsafe(self._listen(channel), self._loop)
        try:
            async with asyncio.timeout(LISTEN_TIMEOUT_S):
                await asyncio.wrap_future(future)
        except Exception:
            logger.warning(
                "task bus: could not listen on %s; updates from other processes may arrive late",
                channel,
                exc_info=True,
            )

    def unlisten(self, channel: str) -> None:
        with contextlib.suppress(RuntimeError):  # stopped: nothing to unlisten
            asyncio.run_coroutine_threadsafe(self._unlisten(channel), self._loop)

    def stop(self, timeout_s: float) -> None:
        """Send what is queued (best effort within `timeout_s`), close the connections."""
        try:
            self._loop.call_soon_threadsafe(self._request_stop)
        except RuntimeError:
            return
        self._thread.join(timeout_s)
        if self._thread.is_alive():
            logger.warning("task bus: the bus thread did not stop within %.1f s", timeout_s)

    # On the bus thread.

    def _drain_inbox(self) -> None:
        # Cleared before draining: a message appended meanwhile either is drained here or
        # schedules the next drain itself.
        self._drain_scheduled = False
        while self._inbox:
            self._enqueue(self._inbox.popleft())

    def _enqueue(self, outgoing: _Outgoing) -> None:
        if not _fits_header(outgoing.schema, outgoing.task_id):
            logger.warning("task bus: not sending for task id %r", outgoing.task_id)
            return
        if outgoing.update is not None:
            channel = self.backend.channel_for(outgoing.schema, outgoing.task_id)
            body = _encode(outgoing.update)
        else:
            channel, body = self.backend.control_channel, ""
        sender = f"{self._origin}:{next(self._sequence)}"
        frame = _frame(sender, outgoing.kind, outgoing.schema, outgoing.task_id, body)
        if len(self._outbox) >= MAX_BACKLOG:
            self._outbox.popleft()
            logger.warning("task bus: backlog full, dropped the oldest update")
        self._outbox.append((channel, frame))
        self._wakeup.set()

    def _request_stop(self) -> None:
        self._stopping = True
        self._wakeup.set()

    async def _listen(self, channel: str) -> None:
        self._channels.add(channel)
        await asyncio.wrap_future(self._ready)
        if self._connected:
            await self.backend.listen(channel)

    async def _unlisten(self, channel: str) -> None:
        self._channels.discard(channel)
        if self._connected:
            try:
                await self.backend.unlisten(channel)
            except Exception:
                logger.debug("task bus: unlisten %s failed", channel, exc_info=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._main())
        finally:
            self._loop.run_until_complete(self._loop.shutdown_asyncgens())
            self._loop.close()
            if not self._ready.done():
                self._ready.set_result(False)

    async def _main(self) -> None:
        delay = 0.2
        while True:
            if self._stopping and not self._outbox:
                return
            try:
                await self._connect_and_serve()
                return
            except Exception:
                logger.warning("task bus: backend connection failed; retrying", exc_info=True)
                if not self._ready.done():
                    self._ready.set_result(False)
            finally:
                self._connected = False
                await self.backend.close()
            if self._stopping:
                return  # what is still queued is lost: the rows stay the truth
            self._wakeup.clear()
            try:
                async with asyncio.timeout(delay):
                    while not self._stopping:
                        await self._wakeup.wait()
                        self._wakeup.clear()
            except TimeoutError:
                pass
            delay = min(delay * 2, 10.0)

    async def _connect_and_serve(self) -> None:
        await self.backend.connect()
        self._connected = True
        receiver = asyncio.create_task(self._receive())
        try:
            for channel in (self.backend.control_channel, *sorted(self._channels)):
                async with asyncio.timeout(LISTEN_TIMEOUT_S):
                    await self.backend.listen(channel)
            # Interests announced while this bus was away (a worker started after a follower
            # subscribed): every other bus answers with its own.
            self._enqueue(_Outgoing("who", "-", "-"))
            if not self._ready.done():
                self._ready.set_result(True)
            await self._send_until_stopped(receiver)
        finally:
            receiver.cancel()
            await asyncio.gather(receiver, return_exceptions=True)

    async def _send_until_stopped(self, receiver: asyncio.Task[None]) -> None:
        while True:
            if not self._outbox:
                if self._stopping:
                    return
                self._wakeup.clear()
                woken = asyncio.create_task(self._wakeup.wait())
                await asyncio.wait({woken, receiver}, return_when=asyncio.FIRST_COMPLETED)
                woken.cancel()
                if receiver.done():
                    receiver.result()  # re-raise the listener's failure
                    raise ConnectionError("task bus listener stopped")
                continue
            batch = [self._outbox.popleft() for _ in range(min(len(self._outbox), BATCH))]
            try:
                await self.backend.send(batch)
            except Exception:
                self._outbox.extendleft(reversed(batch))  # resent after reconnecting
                raise

    async def _receive(self) -> None:
        async for _channel, frame in self.backend.receive():
            origin, kind, schema, task_id, body = frame.split(" ", 4)
            if origin.partition(":")[0] == self._origin:
                continue  # ours: local subscribers already had it
            try:
                self._on_frame(kind, schema, task_id, body)
            except Exception:
                logger.exception("task bus: could not handle a %s frame from %s", kind, origin)


def _frame(sender: str, kind: str, schema: str, task_id: str, body: str) -> str:
    """`<origin>:<seq> <kind> <schema> <task_id> <json>`. The header lets a receiver drop frames
    of tasks nobody here watches without decoding them; the sequence number makes every frame
    unique (Postgres folds identical notifications of one transaction)."""
    return f"{sender} {kind} {schema} {task_id} {body}"


def _fits_header(schema: str, task_id: str) -> bool:
    return " " not in schema and " " not in task_id  # a space would break the header


def _encode(update: TaskUpdate) -> str:
    return json.dumps(update_to_json(update), separators=(",", ":"), default=str)


# --- The bus ------------------------------------------------------------------------------------


class TaskBus:
    """Local fan-out plus, when a backend is configured, fan-out to other processes.

    `backend_factory` is called when the bus thread starts (lazily, on first use, and again after
    `shutdown`); None keeps the bus in-process only.
    """

    def __init__(self, backend_factory: Callable[[], Backend] | None) -> None:
        self.origin = uuid.uuid4().hex[:16]
        self._row_frames = itertools.count(1)
        self._backend_factory = backend_factory
        self._lock = threading.Lock()
        # Copy-on-write tuples: `publish` reads without taking the lock.
        self._local: dict[Key, tuple[Subscription, ...]] = {}
        self._remote: dict[Key, int] = {}
        self._wanted: dict[Key, float] = {}  # tasks other processes follow -> until when
        self._worker: _Worker | None = None
        self._cancel_handler: CancelHandler | None = None

    # --- public API ---

    async def publish(
        self, schema: str, task_id: str, update: TaskUpdate, *, sent: bool = False
    ) -> None:
        """Deliver to this process's subscribers now, and to other processes' via the backend.
        `sent`: other processes already have it (its `row_frame` went with the row)."""
        # Started by a run's first update: the process listens for cancels of its runs.
        worker = self._ensure_worker()
        local = self._local.get((schema, task_id), ())
        for subscription in local:
            subscription.deliver(update)
        if local:
            # Let the subscribers write it out now. A publisher rarely waits on its own: a run
            # reads the model's next deltas from a full buffer, and the first text frame of a
            # stream went out only after the whole answer had been read (0.7 ms later).
            await asyncio.sleep(0)
        if sent or worker is None:
            return
        final = isinstance(update, StatusUpdate) and update.final
        if final or self.followed_elsewhere(schema, task_id):
            worker.send(_Outgoing("update", schema, task_id, update))

    def row_frame(self, schema: str, task_id: str, update: TaskUpdate) -> tuple[str, str] | None:
        """(channel, payload) for the statement that writes the task's final state to NOTIFY, so
        the update reaches other processes when that state commits: publish it then with
        `sent=True`. None when the bus must send it itself: the backend does not listen on
        Postgres, another process follows the task (the final must come after the chunks still
        queued on the bus thread), or the frame does not fit in one notification."""
        worker = self._ensure_worker()
        if (
            worker is None
            or self.followed_elsewhere(schema, task_id)
            or not _fits_header(schema, task_id)
        ):
            return None
        channel = worker.backend.row_channel(schema, task_id)
        if channel is None:
            return None
        sender = f"{self.origin}:r{next(self._row_frames)}"
        frame = _frame(sender, "update", schema, task_id, _encode(update))
        return (channel, frame) if len(frame) <= NOTIFY_CHUNK else None

    def followed_elsewhere(self, schema: str, task_id: str) -> bool:
        """Another process announced interest in the task recently: its updates go out."""
        until = self._wanted.get((schema, task_id))
        return until is not None and until > time.monotonic()

    async def wait_followed(self, schema: str, task_id: str, timeout_s: float = 5.0) -> bool:
        """Until another process follows the task (True), or `timeout_s` passed (False).
        Starts listening if this bus was not yet: on connecting it asks who follows what."""
        self._ensure_worker()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        while not self.followed_elsewhere(schema, task_id):
            if loop.time() >= deadline:
                return False
            await asyncio.sleep(0.01)
        return True

    def announce_interest(self, schema: str, task_id: str) -> None:
        """Tell every other process to send this task's updates (see the module docstring)."""
        worker = self._ensure_worker()
        if worker is not None:
            worker.send(_Outgoing("interest", schema, task_id))

    async def subscribe(self, schema: str, task_id: str, *, remote: bool = True) -> Subscription:
        """Updates of the task from now on. With `remote` (the default) this returns once updates
        published by other processes will arrive too, so a caller can subscribe first and then
        read the row without missing anything in between. `remote=False` is for a caller that
        runs the task itself, in this process."""
        key = (schema, task_id)
        subscription = Subscription(self, key, remote=remote)
        with self._lock:
            self._local[key] = (*self._local.get(key, ()), subscription)
        worker = self._ensure_worker() if remote else None
        if worker is None:
            subscription.remote = False
            return subscription
        with self._lock:
            self._remote[key] = self._remote.get(key, 0) + 1
        await worker.listen(worker.backend.channel_for(schema, task_id))
        worker.send(_Outgoing("interest", schema, task_id))
        return subscription

    async def request_cancel(self, schema: str, task_id: str) -> None:
        """Ask every other process to cancel its run of the task (if it has one)."""
        worker = self._ensure_worker()
        if worker is not None:
            worker.send(_Outgoing("cancel", schema, task_id))

    def set_cancel_handler(self, handler: CancelHandler | None) -> None:
        """`handler(schema, task_id)` runs on the bus thread for cancel requests of others."""
        self._cancel_handler = handler

    async def ready(self, timeout_s: float = LISTEN_TIMEOUT_S) -> bool:
        """Start the backend if needed and wait until it listens; False without one."""
        worker = self._ensure_worker()
        return await worker.ready(timeout_s) if worker is not None else False

    def shutdown(self, timeout_s: float = 5.0) -> None:
        """Flush and close the backend connections (process exit, end of a test session). The bus
        stays usable: the next publish or subscribe starts a new bus thread."""
        with self._lock:
            worker, self._worker = self._worker, None
        if worker is not None:
            worker.stop(timeout_s)

    # --- internals ---

    def _ensure_worker(self) -> _Worker | None:
        worker = self._worker
        if worker is not None or self._backend_factory is None:
            return worker
        with self._lock:
            if self._worker is None:
                backend = self._backend_factory()
                channels = {backend.channel_for(*key) for key, n in self._remote.items() if n}
                self._worker = _Worker(
                    backend, origin=self.origin, on_frame=self._on_frame, channels=channels
                )
            return self._worker

    def _note_interest(self, key: Key) -> None:
        now = time.monotonic()
        if len(self._wanted) > 10_000:  # forget the stale ones now and then
            self._wanted = {k: until for k, until in self._wanted.items() if until > now}
        self._wanted[key] = now + INTEREST_TTL_S

    def _unsubscribe(self, subscription: Subscription) -> None:
        key = subscription.key
        release = False
        with self._lock:
            remaining = tuple(s for s in self._local.get(key, ()) if s is not subscription)
            if remaining:
                self._local[key] = remaining
            else:
                self._local.pop(key, None)
            if subscription.remote:
                count = self._remote.get(key, 0) - 1
                if count > 0:
                    self._remote[key] = count
                else:
                    self._remote.pop(key, None)
                    release = True
            worker = self._worker
        if release and worker is not None:
            worker.unlisten(worker.backend.channel_for(*key))

    def _on_frame(self, kind: str, schema: str, task_id: str, body: str) -> None:
        """A frame from another process (on the bus thread)."""
        if kind == "update":
            subscriptions = self._local.get((schema, task_id), ())
            if subscriptions:  # else nobody here watches this task: skip decoding
                update = update_from_json(json.loads(body))
                for subscription in subscriptions:
                    subscription.deliver(update)
        elif kind == "cancel":
            handler = self._cancel_handler
            if handler is not None:
                handler(schema, task_id)
        elif kind == "interest":
            self._note_interest((schema, task_id))
        elif kind == "who":
            for key, count in list(self._remote.items()):
                if count:
                    self.announce_interest(*key)
        else:
            logger.warning("task bus: unknown frame kind %r", kind)


# --- The process-wide bus -----------------------------------------------------------------------


def default_backend() -> Backend:
    """Redis when REDIS_URL is set, else Postgres LISTEN/NOTIFY on Django's default database."""
    redis_url = os.environ.get("REDIS_URL")
    if redis_url:
        return RedisBackend(redis_url)
    return PostgresBackend(postgres_conninfo())


_LIBPQ_OPTIONS = {
    "sslmode",
    "sslrootcert",
    "sslcert",
    "sslkey",
    "connect_timeout",
    "options",
    "target_session_attrs",
    "passfile",
}


def postgres_conninfo() -> str:
    """Django's default database as a libpq conninfo (the test database under pytest)."""
    from django.db import connections
    from psycopg.conninfo import make_conninfo

    settings = connections["default"].settings_dict
    params = {
        "dbname": settings["NAME"],
        "user": settings.get("USER") or None,
        "password": settings.get("PASSWORD") or None,
        "host": settings.get("HOST") or None,
        "port": settings.get("PORT") or None,
        "application_name": "hector-task-bus",
    }
    options = settings.get("OPTIONS") or {}
    params.update({k: v for k, v in options.items() if k in _LIBPQ_OPTIONS})
    return make_conninfo(**{k: v for k, v in params.items() if v is not None})


_bus: TaskBus | None = None
_bus_lock = threading.Lock()


def get_bus() -> TaskBus:
    global _bus
    if _bus is None:
        with _bus_lock:
            if _bus is None:
                _bus = TaskBus(default_backend)
    return _bus


async def publish(schema: str, task_id: str, update: TaskUpdate, *, sent: bool = False) -> None:
    await get_bus().publish(schema, task_id, update, sent=sent)


def row_frame(schema: str, task_id: str, update: TaskUpdate) -> tuple[str, str] | None:
    return get_bus().row_frame(schema, task_id, update)


async def subscribe(schema: str, task_id: str, *, remote: bool = True) -> Subscription:
    return await get_bus().subscribe(schema, task_id, remote=remote)


async def request_cancel(schema: str, task_id: str) -> None:
    await get_bus().request_cancel(schema, task_id)


def set_cancel_handler(handler: CancelHandler | None) -> None:
    get_bus().set_cancel_handler(handler)


def shutdown(timeout_s: float = 5.0) -> None:
    """Close the process-wide bus's connections (call at process exit and before a test
    database is dropped: an open LISTEN connection keeps DROP DATABASE from succeeding)."""
    if _bus is not None:
        _bus.shutdown(timeout_s)
