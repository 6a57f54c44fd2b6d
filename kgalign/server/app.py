"""The ASGI application: routes, limits, JSON errors, the web console.

:func:`create_app` builds a Starlette app over one workspace; :func:`serve` runs it
with uvicorn. Every handler translates HTTP into calls of :class:`kgalign.api.Workspace`
(the same calls the CLI makes) and back; errors leave as JSON with the status the
:class:`~kgalign.errors.KgalignError` names, never as an HTML traceback.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from kgalign import __version__
from kgalign.errors import KgalignError
from kgalign.server import integrations
from kgalign.server.config import ServerConfig
from kgalign.server.console import completions_endpoint, examples_endpoint
from kgalign.server.dsl import query_endpoint
from kgalign.server.errors import MethodNotAllowed, NotFound
from kgalign.server.fast import SparqlFastPath
from kgalign.server.http import JSONResponse, error_response
from kgalign.server.limits import BodyLimit, Runner
from kgalign.server.match import match_endpoint
from kgalign.server.openapi import build_document, ok, operation
from kgalign.server.resources import (
    AlignmentCache,
    ReportCache,
    check_endpoint,
    feature_endpoint,
    features_endpoint,
    graph_endpoint,
    graphs_endpoint,
    mappings_endpoint,
    report_endpoint,
    symbol_by_name_endpoint,
    symbol_endpoint,
    symbols_endpoint,
)
from kgalign.server.sparql import ExtensionFunctions, sparql_endpoint

log = logging.getLogger("kgalign.server")
STATIC_DIR = Path(__file__).resolve().parent / "static"

#: The console loads only its own files; API calls go to the same origin.
CONSOLE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'"
)


# -- endpoints defined here -----------------------------------------------------------------------


@operation("GET", "The web console (HTML): queries, symbol pages, feature pages, a link to the report",
           responses={"200": {"description": "the console", "content": {"text/html": {"schema": {"type": "string"}}}}},
           errors=(), tags=["console"])
async def console_endpoint(request: Request) -> Response:
    return FileResponse(STATIC_DIR / "index.html", media_type="text/html",
                        headers={"Content-Security-Policy": CONSOLE_CSP, "Cache-Control": "no-cache"})


@operation("GET", "The web console at /console: the page the report links to (#symbol=IRI&graph=G, #feature=N)",
           responses={"200": {"description": "the console", "content": {"text/html": {"schema": {"type": "string"}}}}},
           errors=(), tags=["console"])
async def console_page_endpoint(request: Request) -> Response:
    return await console_endpoint(request)


@operation("GET", "What this server offers: version, workspace, read-only or not, installed parts, limits",
           responses=ok("the status"), errors=(), tags=["meta"])
async def status_endpoint(request: Request) -> Response:
    state = request.app.state
    cfg: ServerConfig = state.config
    ws = state.ws

    def read() -> dict[str, Any]:
        return {
            "kgalign": __version__,
            "workspace": str(ws.path),
            "read_only": cfg.read_only,
            "graphs": len(ws.graph_names()),
            "embedded": ws.has_space(),
            "features": {
                "dsl": integrations.has_dsl(),
                "matcher": _installed(integrations.matcher_class),
                "report": cfg.report_dir is not None or _installed(integrations.report_html),
                "neural_matching": integrations.neural_scorer_installed(),
            },
            "limits": {"max_body": cfg.max_body, "max_upload": cfg.max_upload,
                       "query_timeout": cfg.query_timeout, "match_timeout": cfg.match_timeout,
                       "workers": cfg.workers, "max_pending": cfg.max_pending},
            "urls": {"file_roots": len(cfg.file_roots), "remote": cfg.allow_remote_urls},
        }

    return JSONResponse(await state.runner.run(read, timeout=cfg.query_timeout, what="the status"))


def _installed(fn) -> bool:
    try:
        fn()
        return True
    except KgalignError:
        return False


@operation("GET", "This OpenAPI description", responses=ok("the OpenAPI 3.1 document"), errors=(), tags=["meta"])
async def openapi_endpoint(request: Request) -> Response:
    return JSONResponse(request.app.state.openapi)


ROUTES = [
    Route("/", console_endpoint, methods=["GET"]),
    Route("/console", console_page_endpoint, methods=["GET"]),
    Route("/console/completions", completions_endpoint, methods=["GET"]),
    Route("/console/examples", examples_endpoint, methods=["GET"]),
    Route("/status", status_endpoint, methods=["GET"]),
    Route("/openapi.json", openapi_endpoint, methods=["GET"]),
    Route("/sparql", sparql_endpoint, methods=["GET", "POST"]),
    Route("/query", query_endpoint, methods=["GET", "POST"]),
    Route("/graphs", graphs_endpoint, methods=["GET", "POST"]),
    Route("/graphs/{name}", graph_endpoint, methods=["GET", "DELETE"]),
    Route("/symbols", symbols_endpoint, methods=["GET"]),
    Route("/symbols/{graph}/{name:path}", symbol_by_name_endpoint, methods=["GET"]),
    Route("/symbol", symbol_endpoint, methods=["GET"]),
    Route("/features", features_endpoint, methods=["GET"]),
    Route("/features/{n}", feature_endpoint, methods=["GET"]),
    Route("/check", check_endpoint, methods=["GET"]),
    Route("/mappings", mappings_endpoint, methods=["GET"]),
    Route("/report", report_endpoint, methods=["GET"]),
    Route("/match", match_endpoint, methods=["POST"]),
]


# -- errors --------------------------------------------------------------------------------------


async def kgalign_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, KgalignError)
    if int(getattr(exc, "http_status", 500)) >= 500:
        log.warning("%s %s: %s", request.method, request.url.path, exc)
    return error_response(exc)


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        err: KgalignError = NotFound(f"no such resource: {request.url.path} (see /openapi.json)")
    elif exc.status_code == 405:
        allowed = [m.strip() for m in (exc.headers or {}).get("Allow", "").split(",") if m.strip()]
        err = MethodNotAllowed(request.method, request.url.path, allowed)
    else:
        err = KgalignError(str(exc.detail))
        err.http_status = exc.status_code  # type: ignore[misc]
    return error_response(err, headers=dict(exc.headers or {}))


async def internal_error(request: Request, exc: Exception) -> Response:
    log.exception("internal error on %s %s", request.method, request.url.path)
    return JSONResponse(
        {"error": "InternalError", "message": f"internal error ({type(exc).__name__}); see the server log"},
        status_code=500,
    )


class SecurityHeaders:
    """ASGI middleware: ``nosniff`` and ``no-referrer`` on every response."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: dict) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {k.lower() for k, _ in headers}
                if b"x-content-type-options" not in names:
                    headers.append((b"x-content-type-options", b"nosniff"))
                if b"referrer-policy" not in names:
                    headers.append((b"referrer-policy", b"no-referrer"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _url_too_long(size: int, limit: int) -> KgalignError:
    err = KgalignError(f"the URL is {size:,} bytes long; the limit is {limit:,}: send a long query in a POST body")
    err.http_status = 414  # type: ignore[misc]
    return err


class URLLimit:
    """ASGI middleware: a request whose path and query string pass ``max_url`` bytes gets 414 JSON.

    uvicorn (h11) reads request heads up to :data:`MAX_REQUEST_HEAD`; longer ones are dropped by
    uvicorn itself with a plain 400 and a closed connection.
    """

    def __init__(self, app: Any, max_url: int) -> None:
        self.app = app
        self.max_url = max_url

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            size = len(scope.get("raw_path") or b"") + len(scope.get("query_string") or b"")
            if size > self.max_url:
                err = _url_too_long(size, self.max_url)
                await error_response(err, headers={"Connection": "close"})(scope, receive, send)
                return
        await self.app(scope, receive, send)


#: Longest path + query string answered (longer: 414 JSON).
MAX_URL = 64 << 10
#: Longest request head uvicorn reads before giving up on a request (its default is 16 KB).
MAX_REQUEST_HEAD = 1 << 20


# -- the app -------------------------------------------------------------------------------------


class KgalignApp(Starlette):
    """The Starlette app with :class:`~kgalign.server.fast.SparqlFastPath` in front of its whole stack
    (the direct route answers its own errors as JSON, so it needs none of the app's wrappers)."""

    def build_middleware_stack(self) -> Any:
        config: ServerConfig = self.state.config
        return SparqlFastPath(super().build_middleware_stack(), max_url=MAX_URL, max_body=config.max_body)


def open_workspace(config: ServerConfig):
    """Read-only unless a write token is configured (pyoxigraph allows one read-write handle per path)."""
    from kgalign.api import Workspace

    if config.read_only:
        return Workspace.open(config.workspace, create=False, read_only=True)
    return Workspace.open(config.workspace)


def create_app(config: ServerConfig | None = None, workspace: Any = None) -> Starlette:
    """The kgalign HTTP service over ``workspace`` (or the one ``config.workspace`` names)."""
    config = config or ServerConfig()
    ws = workspace if workspace is not None else open_workspace(config)
    owned: list[Path] = []

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):
        try:
            yield
        finally:
            app.state.runner.shutdown()
            for d in owned:
                shutil.rmtree(d, ignore_errors=True)

    middleware = [Middleware(SecurityHeaders), Middleware(URLLimit, max_url=MAX_URL)]
    if config.cors_origins:
        middleware.append(Middleware(CORSMiddleware, allow_origins=list(config.cors_origins),
                                     allow_methods=["GET", "POST", "DELETE"],
                                     allow_headers=["Authorization", "Content-Type", "Accept"]))
    middleware.append(Middleware(BodyLimit, max_body=config.max_body, max_upload=config.max_upload))
    routes = [*ROUTES, Mount("/static", app=StaticFiles(directory=STATIC_DIR), name="static")]
    app = KgalignApp(
        routes=routes,
        middleware=middleware,
        exception_handlers={KgalignError: kgalign_error, HTTPException: http_error, Exception: internal_error},
        lifespan=lifespan,
    )
    app.state.config = config
    app.state.ws = ws
    app.state.runner = Runner(config.workers, config.max_pending)
    app.state.alignment_cache = AlignmentCache()
    app.state.sparql_functions = ExtensionFunctions()
    if config.results_dir is not None:
        app.state.results_dir = Path(config.results_dir)
    else:
        app.state.results_dir = Path(tempfile.mkdtemp(prefix="kgalign-alignments-"))
        owned.append(app.state.results_dir)
    app.state.report_cache = ReportCache()
    app.state.openapi = build_document(app.routes)
    return app


#: Seconds a client may take to send a request head (from connecting, or from the request's first
#: byte), and may leave a started body without a byte; then 408 JSON and the connection is closed.
REQUEST_TIMEOUT = 30.0


def http_protocol() -> Any:
    """uvicorn's httptools protocol (a C parser) with h11's guarantees, or ``"h11"`` without httptools.

    A request head over :data:`MAX_REQUEST_HEAD` bytes gets 400 and a closed connection (as h11's
    ``max_incomplete_event_size``); a URL over :data:`MAX_URL` bytes gets the 414 JSON answer of
    :class:`URLLimit` (httptools itself cannot split a URL over 64 KB). Beyond uvicorn: a request
    the parser refuses gets 400 JSON naming what it tripped on; a slow client (a head not whole
    within :data:`REQUEST_TIMEOUT`, a body stalled as long) gets 408 JSON and is closed, a silent
    one is closed; a client that half-closes after a whole request still gets its answer.
    """
    import json

    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
    except ImportError:
        return "h11"

    class URLTooLong(Exception):
        pass

    def _raw_error(status: bytes, err: KgalignError) -> bytes:
        body = json.dumps(err.to_dict(), ensure_ascii=False, separators=(",", ":")).encode()
        return (b"HTTP/1.1 " + status + b"\r\ncontent-type: application/json\r\n"
                b"content-length: " + str(len(body)).encode() + b"\r\nconnection: close\r\n"
                b"x-content-type-options: nosniff\r\nreferrer-policy: no-referrer\r\n\r\n" + body)

    class _Transport:
        """The connection's transport, whose ``write`` is dropped once it is closing: a write that
        finds the peer gone closes a uvloop transport at once, and the response's next write
        would raise (uvicorn learns of the disconnect only a loop turn later)."""

        __slots__ = ("_t", "is_closing", "close", "pause_reading", "resume_reading", "get_extra_info")

        def __init__(self, transport: Any) -> None:
            self._t = transport
            # the calls uvicorn makes per request, bound once (no __getattr__ on the hot path)
            self.is_closing = transport.is_closing
            self.close = transport.close
            self.pause_reading = transport.pause_reading
            self.resume_reading = transport.resume_reading
            self.get_extra_info = transport.get_extra_info

        def write(self, data: bytes) -> None:
            if not self.is_closing():
                self._t.write(data)

        def __getattr__(self, name: str) -> Any:
            return getattr(self._t, name)

    class BoundedHttpToolsProtocol(HttpToolsProtocol):
        _head = 0
        _url_size = 0
        _timer: Any = None
        _began = False  # a byte of a request has arrived on this connection
        _in_body = False
        _half_closed = False
        _refusal = b""  # a 400/414 held back until the requests before it are answered

        def connection_made(self, transport: Any) -> None:
            super().connection_made(_Transport(transport))
            self._arm()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        # -- the slow-client deadline --------------------------------------------------------

        def _arm(self) -> None:
            if self._timer is None:
                self._timer = self.loop.call_later(REQUEST_TIMEOUT, self._timed_out)

        def _disarm(self) -> None:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None

        def _timed_out(self) -> None:
            self._timer = None
            if self.transport.is_closing():
                return
            if self.flow.read_paused:  # the server, not the client, holds the body back: wait on
                self._arm()
                return
            cycle = self.cycle
            if cycle is not None and not cycle.response_complete:  # the app waits for the body: it gets none
                cycle.disconnected = True
                cycle.message_event.set()
            if self._began:
                part = "body" if self._in_body else "head"
                err = KgalignError(f"the request {part} did not arrive within {REQUEST_TIMEOUT:g} s")
                err.http_status = 408  # type: ignore[misc]
                self.transport.write(_raw_error(b"408 Request Timeout", err))
            self.transport.close()

        def on_message_begin(self) -> None:
            super().on_message_begin()
            self._head = self._url_size = 0
            self._began = True
            self._in_body = False
            self._arm()

        def on_body(self, body: bytes) -> None:
            self._disarm()
            self._arm()
            super().on_body(body)

        def on_message_complete(self) -> None:
            self._disarm()
            self._in_body = False
            super().on_message_complete()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.pipeline and (self.cycle is None or self.cycle.response_complete):
                if self._refusal:
                    self.transport.write(self._refusal)
                    self.transport.close()
                elif self._half_closed:
                    self.transport.close()

        def eof_received(self) -> bool | None:
            """The client will send no more: answer the requests it sent whole, then close."""
            cycle = self.cycle
            if cycle is None or cycle.response_complete or cycle.more_body:
                return None  # nothing whole to answer: asyncio closes the connection
            self._half_closed = True
            return True

        # -- the head's size, the URL's length, and the parser's own refusals ------------------

        def _count(self, n: int) -> None:
            self._head += n
            if self._head > MAX_REQUEST_HEAD:
                raise ValueError(f"the request head is longer than {MAX_REQUEST_HEAD:,} bytes")

        def on_url(self, url: bytes) -> None:
            self._count(len(url))
            super().on_url(url)

        def on_header(self, name: bytes, value: bytes) -> None:
            self._count(len(name) + len(value) + 4)
            super().on_header(name, value)

        def on_headers_complete(self) -> None:
            size = len(self.url) - (1 if b"?" in self.url else 0)
            if size > MAX_URL or len(self.url) > 0xFFFF:  # httptools parses URLs up to 64 KB
                self._url_size = size
                raise URLTooLong()
            super().on_headers_complete()
            self._in_body = True  # (the head's deadline runs on until the body's first byte)

        def send_400_response(self, msg: str) -> None:
            if self._url_size:
                err = _url_too_long(self._url_size, MAX_URL)
                status = b"414 URI Too Long"
            else:  # called while uvicorn handles the parser's error: name what it tripped on
                exc = sys.exc_info()[1]
                cause = exc.__cause__ or exc.__context__ if exc is not None else None
                reason = str(cause) if isinstance(cause, ValueError) else str(exc or msg)
                err = KgalignError(f"not a valid HTTP/1.1 request: {reason}")
                status = b"400 Bad Request"
            self._disarm()
            cycle = self.cycle
            if cycle is not None and not cycle.response_complete:
                if not cycle.more_body:  # refused after whole requests: their answers go first
                    self._refusal = _raw_error(status, err)
                    self.flow.pause_reading()
                    return
                cycle.disconnected = True  # refused in this request's body: the app gets no more of it
                cycle.message_event.set()
            self.transport.write(_raw_error(status, err))
            self.transport.close()

    return BoundedHttpToolsProtocol


def serve(config: ServerConfig, *, log_level: str = "info", access_log: bool = False, processes: int = 1,
          threads: bool = True) -> None:
    """Run the server with uvicorn until interrupted (uvloop and httptools when installed); with
    ``processes`` > 1 (read-only servers only), that many processes on one socket
    (:mod:`kgalign.server.processes`). With ``threads``, plain SPARQL queries are answered on
    per-connection threads (:mod:`kgalign.server.threaded`) and everything else by uvicorn."""
    if processes <= 1:
        run_uvicorn(config, None, log_level=log_level, access_log=access_log, threads=threads)
        return
    from kgalign.server import processes as mp

    sock = mp.bind(config)
    children = mp.start_children(config, sock, processes - 1, log_level=log_level, access_log=access_log,
                                 threads=threads)
    try:
        run_uvicorn(config, sock, log_level=log_level, access_log=access_log, threads=threads)
    finally:
        mp.stop_children(children)
        sock.close()


def run_uvicorn(config: ServerConfig, sock: Any, *, log_level: str, access_log: bool, threads: bool = True) -> None:
    """One server process: the app over ``config``, on ``sock`` (else on ``config.host``/``port``)."""
    import uvicorn

    app = create_app(config)
    uv_config = uvicorn.Config(
        app, host=config.host, port=config.port, log_level=log_level, access_log=access_log,
        server_header=False, proxy_headers=False, http=http_protocol(), loop="auto",
        h11_max_incomplete_event_size=MAX_REQUEST_HEAD)
    if threads:
        from kgalign.server.processes import bind
        from kgalign.server.threaded import fronted_server

        if sock is None:
            try:
                sock = bind(config)
            except OSError as e:  # as uvicorn: the reason, then STARTUP_FAILURE
                logging.getLogger("uvicorn.error").error(e)
                sys.exit(3)
        server = fronted_server(app, uv_config, sock, max_url=MAX_URL)
    else:
        server = uvicorn.Server(uv_config)
    try:
        server.run(sockets=[sock] if sock is not None else None)
    except KeyboardInterrupt:  # as uvicorn.run: Ctrl-C is a normal end
        pass
    if not server.started:
        sys.exit(3)  # uvicorn's STARTUP_FAILURE (e.g. the port is taken)
