"""Django's ASGI handler, minus its per-request thread machinery on lean routes.

For every request `ASGIHandler` enters an asgiref `ThreadSensitiveContext` (a new one-thread
executor, so a new OS thread once anything hops), sends `request_started` and `request_finished`
through `sync_to_async` (two hops) and closes the response through a third. Lean views (the A2A
routes, see `hector_site.lean`) never run sync code on a request thread: the hops only cost CPU,
about a fifth of a `message/send`. Here those requests go through the same middleware chain and
the same response writer, with the signals' work done inline: the event loop's thread holds no
database connection to close, and the response's closers do no I/O.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
from typing import Any

from django.core.exceptions import RequestAborted
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.urls import set_script_prefix

from apps.tenancy.middleware import APP_PREFIX
from hector_site.lean import lean_route

__all__ = ["HectorASGIHandler"]


class HectorASGIHandler(ASGIHandler):
    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and self._is_lean(scope["path"]):
            await self._handle_lean(scope, receive, send)
        else:
            await super().__call__(scope, receive, send)

    def _is_lean(self, path: str) -> bool:
        prefix = APP_PREFIX.match(path)
        return lean_route(prefix["rest"] or "/" if prefix else path) is not None

    async def _read_lean_body(self, receive: Any) -> Any:
        """A body that came in one message (a JSON-RPC call nearly always) is read from memory;
        `read_body` makes a temporary file for every request. Larger ones go its way."""
        message = await receive()
        if message["type"] == "http.disconnect":
            raise RequestAborted()
        if not message.get("more_body", False):
            return io.BytesIO(message.get("body", b""))

        first: dict[str, Any] | None = message

        async def rest() -> dict[str, Any]:
            nonlocal first
            if first is None:
                return await receive()  # type: ignore[no-any-return]
            sent, first = first, None
            return sent

        return await self.read_body(rest)

    async def _handle_lean(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """`ASGIHandler.handle` without the signals' and the close's thread hops."""
        try:
            body_file = await self._read_lean_body(receive)
        except RequestAborted:
            return
        set_script_prefix(get_script_prefix(scope))
        request, error_response = self.create_request(scope, body_file)
        if request is None:
            body_file.close()
            await self.send_response(error_response, send)
            error_response.close()
            return

        async def process_request() -> Any:
            response = await self.run_get_response(request)
            with contextlib.suppress(asyncio.CancelledError):  # the client went away meanwhile
                await self.send_response(response, send)
            return response

        listener = asyncio.create_task(self.listen_for_disconnect(receive))
        processor = asyncio.create_task(process_request())
        await asyncio.wait((listener, processor), return_when=asyncio.FIRST_COMPLETED)
        for task in (listener, processor):
            if task.done():
                try:
                    task.result()
                except RequestAborted:  # the client left: nothing to answer
                    continue
                except AssertionError:
                    body_file.close()
                    raise
            else:  # a disconnect cancels the view (a stream's body ends; the run goes on)
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if not processor.cancelled():
            processor.result().close()
        body_file.close()
