"""The hand-off-free route for SPARQL queries: one thread per connection, as Oxigraph's own server.

:class:`ThreadFront` owns the listening socket. Each accepted connection gets a thread that reads
a request, and when it is a plain SPARQL query (what :class:`~kgalign.server.fast.SparqlFastPath`
answers) runs it on that same thread (pyoxigraph releases the interpreter lock while it queries
and serialises) and writes the answer: no hop from the event loop to a worker thread and back.

Every other request — and any request this small parser does not find plain (HTTP/1.0, chunked
bodies, ``Expect``, ``Origin``, a slow or partial head or body, a long URL, HEAD, updates, the
service description) — hands the whole connection, with the bytes already read, to uvicorn's
event loop, which answers it exactly as before; the connection stays there. So the reference
answers, limits and error pages are the app's, and this route only copies its plain case.

Limits are the :class:`~kgalign.server.limits.Runner`'s: at most ``workers`` queries run at once
(the rest wait), ``max_pending`` running or waiting across both routes (then 503), and the query
deadline (504): a watchdog answers 504 on the socket and closes it when a query overruns; the
query ends on its own thread and its result is dropped there (pyoxigraph results cannot cross
threads, and a thread cannot be killed). Connections beyond ``max_connections`` go to the loop.
"""

from __future__ import annotations

import logging
import re
import socket
import struct
import threading
import time
from collections.abc import Callable
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl

from kgalign.errors import KgalignError
from kgalign.server.errors import QueryTimeout
from kgalign.server.fast import SECURITY_HEADERS
from kgalign.server.http import JSONResponse, error_response
from kgalign.server.sparql import execute_query, parse_parts

log = logging.getLogger("kgalign.server")

#: Seconds an idle kept-alive connection stays open (uvicorn's ``timeout_keep_alive``).
KEEP_ALIVE = 5.0
#: Seconds a started request may take to arrive whole before its connection goes to the loop.
SLOW_REQUEST = 1.0
#: Seconds a client may leave an answer unread before its connection is closed.
SEND_TIMEOUT = 60.0
#: Longest request head read here (longer ones go to the loop, which bounds them).
MAX_HEAD = 16 << 10

_QUERY_BODIES = ("application/x-www-form-urlencoded", "application/sparql-query")
_REQUEST_LINE = re.compile(rb"(GET|POST) (/[!-~]*) HTTP/1\.1")
_HEADER = re.compile(rb"([!#$%&'*+.^_`|~0-9A-Za-z-]+):[ ]*([!-~](?:[ -~]*[!-~])?)?[ ]*")
_REASONS = {s.value: s.phrase.encode() for s in HTTPStatus}

_IDLE, _RUNNING, _EXPIRED = 0, 1, 2


class _Handoff(Exception):
    """This request is not plain: the connection goes to the event loop."""


class _Conn:
    __slots__ = ("sock", "lock", "state", "deadline", "thread")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.lock = threading.Lock()
        self.state = _IDLE
        self.deadline = 0.0
        self.thread: threading.Thread | None = None


def _sndtimeo(sock: socket.socket, seconds: float) -> None:
    sec = int(seconds)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, struct.pack("ll", sec, int((seconds - sec) * 1e6)))


def _rcvtimeo(sock: socket.socket, seconds: float) -> None:
    """A receive timeout kept by the kernel (a blocking socket: no poll before every read)."""
    sec = int(seconds)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, struct.pack("ll", sec, int((seconds - sec) * 1e6)))


class ThreadFront:
    """Accepts on ``sock``; answers plain SPARQL queries on per-connection threads, hands the rest
    to ``handoff(sock, buffered_bytes)`` (called on the connection's thread)."""

    def __init__(self, sock: socket.socket, state: Any, handoff: Callable[[socket.socket, bytes], None],
                 date: Callable[[], bytes], max_url: int, max_connections: int = 64) -> None:
        self.listener = sock
        self.state = state
        self.handoff = handoff
        self.date = date
        self.max_url = max_url
        self.max_body = state.config.max_body
        self.max_connections = max_connections
        self.timeout = state.config.query_timeout
        self.runner = state.runner
        self.conns: set[_Conn] = set()
        #: requests answered here, connections handed to the loop (for tests and curiosity)
        self.answered = 0
        self.handed = 0
        self._closing = False
        self._threads: list[threading.Thread] = []

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        for target, name in ((self._accept_loop, "kgalign-accept"), (self._watchdog, "kgalign-watchdog")):
            t = threading.Thread(target=target, name=name, daemon=True)
            t.start()
            self._threads.append(t)

    def stop(self, grace: float = 3.0) -> None:
        """Stop accepting and end every thread of this route within about ``grace`` seconds: idle
        connections are shut at once; an answer being written or a query running gets up to
        ``grace`` seconds, then its connection is shut too (the query itself ends on its own, its
        answer unsent: a thread cannot be killed)."""
        self._closing = True
        for t in self._threads[:1]:  # the accept loop: no new connection from here on
            t.join(2)
        deadline = time.monotonic() + grace
        for how in (socket.SHUT_RD, socket.SHUT_RDWR):
            for c in list(self.conns):
                if c.state == _IDLE or how == socket.SHUT_RDWR:
                    try:
                        c.sock.shutdown(how)
                    except OSError:
                        pass
            for c in list(self.conns):
                if c.thread is not None:
                    c.thread.join(max(0.0, deadline - time.monotonic()))
            deadline = time.monotonic() + 1.0
        for t in self._threads[1:]:  # the watchdog, which stays while a query runs
            t.join(max(0.0, deadline - time.monotonic()))

    def _accept_loop(self) -> None:
        self.listener.settimeout(0.25)
        while not self._closing:
            try:
                sock, _ = self.listener.accept()
            except TimeoutError:
                continue
            except OSError as e:  # EMFILE and the like: the loop would fare no better; wait a little
                if self._closing:
                    return
                log.warning("accept failed: %s", e)
                time.sleep(0.1)
                continue
            sock.setblocking(True)
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                pass
            if len(self.conns) >= self.max_connections:  # the loop serves the rest
                self._give(sock, b"")
                continue
            conn = _Conn(sock)
            self.conns.add(conn)
            try:
                # not a daemon (the accept thread is one): the interpreter waits for a query running here
                # before it finalizes (a daemon thread still in pyoxigraph may end in Rust code mid-exit)
                conn.thread = threading.Thread(target=self._serve, args=(conn,), name="kgalign-conn", daemon=False)
                conn.thread.start()
            except RuntimeError:  # no thread to be had: the loop serves this one
                self.conns.discard(conn)
                self._give(sock, b"")

    def _watchdog(self) -> None:
        tick = min(0.05, self.timeout / 10)
        while not self._closing or any(c.state == _RUNNING for c in list(self.conns)):
            time.sleep(tick)
            now = time.monotonic()
            for c in list(self.conns):
                if c.state == _RUNNING and now >= c.deadline:
                    with c.lock:
                        if c.state != _RUNNING:
                            continue
                        c.state = _EXPIRED
                    self._expire(c)

    def _expire(self, c: _Conn) -> None:
        """The 504 on the socket (best effort: never blocks), then the connection is shut."""
        data = _response(error_response(QueryTimeout("the SPARQL query", self.timeout)), self.date(), close=True)
        try:
            c.sock.send(data, socket.MSG_DONTWAIT)
        except OSError:
            pass
        try:
            c.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _give(self, sock: socket.socket, buffered: bytes) -> None:
        self.handed += 1
        try:
            sock.settimeout(None)
            _rcvtimeo(sock, 0)
            _sndtimeo(sock, 0)
            self.handoff(sock, buffered)
        except Exception:
            if not self._closing:  # (once the server stops, its loop may be gone: nothing to hand to)
                log.exception("handing a connection to the event loop failed")
            sock.close()

    # -- one connection ----------------------------------------------------------------------

    def _serve(self, conn: _Conn) -> None:
        sock = conn.sock
        buf = b""
        keep = True  # whether this thread still owns the socket
        try:
            _rcvtimeo(sock, SLOW_REQUEST)  # one setting for the connection's life: no call per request
            _sndtimeo(sock, SEND_TIMEOUT)
            fresh = True
            idle = 0.0
            while not self._closing:
                # the head
                end = buf.find(b"\r\n\r\n")
                while end < 0:
                    if len(buf) > MAX_HEAD:
                        raise _Handoff
                    try:
                        chunk = sock.recv(65536)
                    except BlockingIOError:  # SLOW_REQUEST without a byte
                        if buf or fresh:  # a slow head, or a new connection that says nothing yet
                            raise _Handoff from None
                        idle += SLOW_REQUEST
                        if idle >= KEEP_ALIVE:
                            return  # an idle kept-alive connection: closed, as uvicorn does
                        continue
                    if not chunk:
                        return
                    buf += chunk
                    end = buf.find(b"\r\n\r\n")
                try:
                    plan = self._plan(buf[:end])
                except Exception:  # whatever this parser trips on, the app answers
                    log.exception("the thread route could not read a request head; the app answers it")
                    plan = None
                if plan is None:
                    raise _Handoff
                method, path_qs, ctype, accept, length = plan
                start = end + 4
                if length:
                    while len(buf) - start < length:
                        try:
                            chunk = sock.recv(max(65536, length - (len(buf) - start)))
                        except BlockingIOError:
                            raise _Handoff from None
                        if not chunk:
                            return
                        buf += chunk
                body = buf[start:start + length]
                if not self._answer(conn, method, path_qs, ctype, accept, body):
                    raise _Handoff
                buf = buf[start + length:]
                fresh = False
                idle = 0.0
                if conn.state == _EXPIRED:
                    return
        except _Handoff:
            keep = False
            self.conns.discard(conn)
            self._give(sock, buf)
        except OSError:
            pass
        finally:
            if keep:
                self.conns.discard(conn)
                sock.close()

    def _plan(self, head: bytes) -> tuple[str, str, str, str | None, int] | None:
        """(method, path and query string, media type, Accept, Content-Length) of a plain query; None
        for anything else (the loop answers it)."""
        lines = head.split(b"\r\n")
        m = _REQUEST_LINE.fullmatch(lines[0])
        if m is None:
            return None
        target = m.group(2)
        path, _, qs = target.partition(b"?")
        if path != b"/sparql" or b"#" in target or len(path) + len(qs) > self.max_url:
            return None
        ctype = accept = length = None
        for line in lines[1:]:
            h = _HEADER.fullmatch(line)
            if h is None:
                return None
            name = h.group(1).lower()
            value = h.group(2) or b""
            if name == b"content-type":
                ctype = ctype if ctype is not None else value
            elif name == b"accept":
                accept = accept if accept is not None else value
            elif name == b"content-length":
                if length is not None or not value.isdigit() or len(value) > 12:
                    return None
                length = int(value)
            elif name == b"connection":
                if value.lower() != b"keep-alive":
                    return None
            elif name in (b"origin", b"transfer-encoding", b"expect", b"upgrade"):
                return None
        method = m.group(1).decode()
        if method == "GET":
            if length:
                return None
            mt = ""
        else:
            if length is None or length > self.max_body:
                return None
            mt = (ctype or b"").decode("latin-1").split(";")[0].strip().lower()
            if mt not in _QUERY_BODIES:
                return None
        try:
            url_query = qs.decode()
        except UnicodeDecodeError:
            return None
        if method == "GET":
            names = {k for k, _ in parse_qsl(url_query, keep_blank_values=True)}
            if "query" not in names or "update" in names:
                return None
        return method, url_query, mt, accept.decode("latin-1") if accept is not None else None, length or 0

    def _answer(self, conn: _Conn, method: str, url_query: str, mt: str, accept: str | None,
                body: bytes) -> bool:
        """Answer one plain request on the socket; False when it is an update (the loop's)."""
        try:
            req = parse_parts(method, mt, url_query, body)
            if req.query is None:
                return False
            out, content_type = self._run(conn, req, accept)
        except KgalignError as e:
            if int(getattr(e, "http_status", 500)) >= 500:
                log.warning("%s %s: %s", method, "/sparql", e)
            data = _response(error_response(e), self.date())
        except _Expired:
            return True
        except Exception as e:
            log.exception("internal error on %s %s", method, "/sparql")
            data = _response(JSONResponse(
                {"error": "InternalError", "message": f"internal error ({type(e).__name__}); see the server log"},
                status_code=500), self.date())
        else:
            data = b"".join((
                b"HTTP/1.1 200 OK\r\n", self.date(), b"vary: Accept\r\ncontent-length: ",
                str(len(out)).encode(), b"\r\ncontent-type: ", content_type.encode("latin-1"),
                b"\r\nx-content-type-options: nosniff\r\nreferrer-policy: no-referrer\r\n\r\n", out))
        self.answered += 1
        conn.sock.sendall(data)
        return True

    def _run(self, conn: _Conn, req: Any, accept: str | None) -> tuple[bytes, str]:
        """The query on this thread under the runner's limits; :class:`_Expired` when the watchdog
        answered 504 meanwhile."""
        runner = self.runner
        runner.claim()
        try:
            deadline = time.monotonic() + self.timeout
            if not runner.slots.acquire(timeout=self.timeout):
                raise QueryTimeout("the SPARQL query", self.timeout)
            try:
                conn.deadline = deadline
                conn.state = _RUNNING
                ws = self.state.ws
                try:
                    out, mt = execute_query(ws, req, accept, self.state.sparql_functions.get(ws))
                except BaseException:
                    with conn.lock:
                        expired = conn.state == _EXPIRED
                        conn.state = _IDLE if not expired else _EXPIRED
                    if expired:
                        raise _Expired from None
                    raise
                with conn.lock:
                    if conn.state == _EXPIRED:
                        raise _Expired
                    conn.state = _IDLE
            finally:
                runner.slots.release()
        finally:
            runner.release()
        return out, mt + ("; charset=utf-8" if mt.startswith("text/") else "")


class _Expired(Exception):
    """The watchdog has answered 504 and shut the connection."""


def _response(resp: Any, date: bytes, close: bool = False) -> bytes:
    """A Starlette response's bytes as uvicorn writes them, with the security headers."""
    status = resp.status_code
    lines = [b"HTTP/1.1 %d %s\r\n" % (status, _REASONS.get(status, b"")), date]
    for k, v in [*resp.raw_headers, *SECURITY_HEADERS]:
        lines.append(k + b": " + v + b"\r\n")
    if close:
        lines.append(b"connection: close\r\n")
    lines.append(b"\r\n")
    lines.append(resp.body)
    return b"".join(lines)


def fronted_server(app: Any, uv_config: Any, sock: socket.socket, *, max_url: int) -> Any:
    """A ``uvicorn.Server`` whose connections are accepted by a :class:`ThreadFront` on ``sock``;
    the connections it hands on are served by uvicorn's own protocol on the event loop."""
    import asyncio

    import uvicorn

    class Fronted(uvicorn.Server):
        front: ThreadFront | None = None
        _loop_up = False

        @property
        def started(self) -> bool:  # serving means accepting: not before the front accepts connections
            return self._loop_up and self.front is not None

        @started.setter
        def started(self, value: bool) -> None:  # uvicorn sets it when the event loop side is up
            self._loop_up = value

        async def startup(self, sockets: list | None = None) -> None:
            await super().startup(sockets=[])
            if not self._loop_up:
                return
            loop = asyncio.get_running_loop()
            base = self.config.http_protocol_class
            server_state, app_state = self.server_state, self.lifespan.state

            class Adopted(base):  # type: ignore[misc, valid-type]
                def __init__(self, buffered: bytes) -> None:
                    super().__init__(config=uv_config, server_state=server_state, app_state=app_state, _loop=loop)
                    self._kga_buffered = buffered

                def connection_made(self, transport: Any) -> None:
                    super().connection_made(transport)
                    data, self._kga_buffered = self._kga_buffered, b""
                    if data:  # before the transport reads anything more: the bytes stay in order
                        self.data_received(data)

            def adopt(s: socket.socket, buffered: bytes) -> None:
                s.setblocking(False)
                task = loop.create_task(loop.connect_accepted_socket(lambda: Adopted(buffered), s))

                def done(t: asyncio.Task) -> None:
                    if t.cancelled() or t.exception() is not None:
                        s.close()

                task.add_done_callback(done)

            def handoff(s: socket.socket, buffered: bytes) -> None:
                loop.call_soon_threadsafe(adopt, s, buffered)

            cached: list = [None, b""]

            def date() -> bytes:  # uvicorn's default headers (the date), rebuilt when uvicorn renews them
                headers = server_state.default_headers
                if headers is not cached[0]:
                    cached[1] = b"".join(k + b": " + v + b"\r\n" for k, v in headers)
                    cached[0] = headers
                return cached[1]

            sock.listen(uv_config.backlog)  # (again, when bound and listening already: harmless)
            front = ThreadFront(sock, app.state, handoff, date, max_url)
            front.start()
            self.front = front
            self._log_started_message([sock])

        async def shutdown(self, sockets: list | None = None) -> None:
            if self.front is not None:
                await asyncio.get_running_loop().run_in_executor(None, self.front.stop)
            await super().shutdown(sockets=[])

    return Fronted(uv_config)
