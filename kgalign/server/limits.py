"""Limits that keep one request from taking the server down: body sizes and deadlines.

- :class:`BodyLimit` (ASGI middleware) refuses a body over its limit with 413 JSON:
  up front when ``Content-Length`` says so, else as soon as the streamed bytes pass it.
  Multipart uploads get the (larger) upload limit, everything else the body limit.
- :class:`Runner` runs blocking work (queries, loads, matches: pyoxigraph and the
  neural layer are synchronous) in a bounded thread pool with a deadline: 504 when the
  deadline passes, 503 when too many requests are already running or waiting. A
  thread cannot be killed, so a timed-out query runs on in its thread and keeps its
  place in ``pending`` until it ends; the answer to the client does not wait for it.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

from kgalign.server.errors import PayloadTooLarge, QueryTimeout, ServerBusy
from kgalign.server.http import error_response

T = TypeVar("T")

#: Seconds a refused body is read (and dropped) before the 413, so a client still sending reads it.
DRAIN_SECONDS = 2.0


class BodyLimit:
    """ASGI middleware: bodies larger than ``max_body`` (``max_upload`` for multipart) get 413."""

    def __init__(self, app: Any, max_body: int, max_upload: int) -> None:
        self.app = app
        self.max_body = max_body
        self.max_upload = max_upload

    def limit_for(self, scope: dict) -> tuple[int, str]:
        ctype = ""
        for k, v in scope.get("headers", ()):
            if k == b"content-type":
                ctype = v.decode("latin-1").lower()
                break
        if ctype.startswith("multipart/"):
            return self.max_upload, "upload"
        return self.max_body, "request body"

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit, what = self.limit_for(scope)
        declared = None
        for k, v in scope.get("headers", ()):
            if k == b"content-length":
                try:
                    declared = int(v)
                except ValueError:
                    declared = None
                break
        if declared is not None and declared > limit:
            try:  # a client that stops sending gets its 413 all the same
                await asyncio.wait_for(_drain(receive, cap=min(declared, 4 * limit + (1 << 20))), DRAIN_SECONDS)
            except asyncio.TimeoutError:
                pass
            resp = error_response(PayloadTooLarge(limit, what), headers={"Connection": "close"})
            await resp(scope, receive, send)
            return
        seen = 0

        async def limited_receive() -> dict:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise PayloadTooLarge(limit, what)
            return message

        await self.app(scope, limited_receive, send)


async def _drain(receive: Callable, cap: int) -> None:
    """Read (and drop) up to ``cap`` bytes of a refused body, so the client is still reading when the 413 comes."""
    got = 0
    while got < cap:
        message = await receive()
        if message["type"] != "http.request":
            return
        got += len(message.get("body", b""))
        if not message.get("more_body", False):
            return


def _settle(fut: asyncio.Future, result: Any, error: BaseException | None) -> None:
    if fut.done():  # timed out or cancelled meanwhile
        return
    if error is not None:
        fut.set_exception(error)
    else:
        fut.set_result(result)


class Runner:
    """A bounded thread pool with deadlines for the blocking calls into the Python API."""

    def __init__(self, workers: int, max_pending: int) -> None:
        self.workers = workers
        self.max_pending = max_pending
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="kgalign-worker")
        self._lock = threading.Lock()
        self._pending = 0
        #: Queries run by the per-connection threads (:mod:`kgalign.server.threaded`) take one of
        #: these for as long as they run, as a query in the pool holds a worker.
        self.slots = threading.Semaphore(workers)

    @property
    def pending(self) -> int:
        return self._pending

    def claim(self) -> None:
        """Count one more request running or waiting; :class:`ServerBusy` when ``max_pending`` already are."""
        with self._lock:
            if self._pending >= self.max_pending:
                raise ServerBusy(self._pending)
            self._pending += 1

    def release(self) -> None:
        with self._lock:
            self._pending -= 1

    def _done(self, _: Future | None) -> None:
        with self._lock:
            self._pending -= 1

    async def run(self, fn: Callable[..., T], *args: Any, timeout: float, what: str = "the query") -> T:
        """``fn(*args)`` in a worker thread; :class:`QueryTimeout` after ``timeout`` seconds.

        One future on the event loop, settled from the worker through ``call_soon_threadsafe``
        (no concurrent.futures chaining): a request costs one hand-off each way.
        """
        with self._lock:
            if self._pending >= self.max_pending:
                raise ServerBusy(self._pending)
            self._pending += 1
        loop = asyncio.get_running_loop()
        fut: asyncio.Future = loop.create_future()
        abandoned = False  # set on the loop when the caller stops waiting: the work is skipped if not begun

        def work() -> None:
            try:
                if abandoned:
                    return
                try:
                    result, error = fn(*args), None
                except BaseException as e:  # handed to the awaiting request
                    result, error = None, e
                try:
                    loop.call_soon_threadsafe(_settle, fut, result, error)
                except RuntimeError:  # the loop is closed: nobody waits any more
                    pass
            finally:
                self._done(None)

        try:
            self._pool.submit(work)
        except BaseException:
            self._done(None)
            raise
        timed_out = False

        def on_timeout() -> None:
            nonlocal timed_out
            if not fut.done():
                timed_out = True
                fut.cancel()

        handle = loop.call_later(timeout, on_timeout)
        try:
            return await fut
        except asyncio.CancelledError:
            abandoned = True
            if timed_out:
                raise QueryTimeout(what, timeout) from None
            raise
        finally:
            handle.cancel()

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
