"""The direct route for SPARQL queries: ``GET``/``POST /sparql`` without Starlette's request machinery.

:class:`SparqlFastPath` is the outermost middleware of the app. A plain SPARQL query (GET with
a ``query`` parameter, or a POST of the query form or of ``application/sparql-query``) is parsed,
checked and run exactly as :func:`kgalign.server.sparql.sparql_endpoint` does (the same parsing,
guard, deadline, worker pool, negotiation and JSON errors), and its bytes are sent with the
headers the full stack would add. Everything else goes on, untouched, to the app: updates (the
body already read is handed on), the service description, HEAD, browser (CORS) requests, and
requests the size limits or media types refuse — so the app's answers stay the reference.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import parse_qsl

from kgalign.errors import KgalignError
from kgalign.server.http import JSONResponse, error_response
from kgalign.server.sparql import parse_parts, run_query

log = logging.getLogger("kgalign.server")

SECURITY_HEADERS = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer")]
_QUERY_BODIES = ("application/x-www-form-urlencoded", "application/sparql-query")


class SparqlFastPath:
    """ASGI middleware: answers plain SPARQL queries at ``/sparql`` itself; the rest goes to ``app``."""

    def __init__(self, app: Any, max_url: int, max_body: int) -> None:
        self.app = app
        self.max_url = max_url
        self.max_body = max_body

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] != "/sparql" or scope["method"] not in ("GET", "POST"):
            await self.app(scope, receive, send)
            return
        qs = scope.get("query_string") or b""
        if len(scope.get("raw_path") or b"") + len(qs) > self.max_url:
            await self.app(scope, receive, send)
            return
        ctype = accept = length = None
        for k, v in scope["headers"]:
            if k == b"content-type":
                ctype = ctype if ctype is not None else v
            elif k == b"accept":
                accept = accept if accept is not None else v
            elif k == b"content-length":
                length = length if length is not None else v
            elif k == b"origin":  # a browser's request: CORS headers are the app's business
                await self.app(scope, receive, send)
                return
        try:
            url_query = qs.decode()
            accept_text = accept.decode("latin-1") if accept is not None else None
        except UnicodeDecodeError:
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        body = b""
        if method == "GET":
            names = {k for k, _ in parse_qsl(url_query, keep_blank_values=True)}
            if "query" not in names or "update" in names:  # the service description, a refused update
                await self.app(scope, receive, send)
                return
            mt = ""
        else:
            mt = (ctype or b"").decode("latin-1").split(";")[0].strip().lower()
            if mt not in _QUERY_BODIES:
                await self.app(scope, receive, send)
                return
            try:
                declared = int(length) if length is not None else None
            except ValueError:
                declared = None
            if declared is not None and declared > self.max_body:
                await self.app(scope, receive, send)
                return
            body, more = await _read_body(receive, self.max_body)
            if more:  # the client left before its body was whole: nothing of it is run
                return
            if more is None:  # over the limit while streaming: the app's 413
                from kgalign.server.errors import PayloadTooLarge

                await _send(send, error_response(PayloadTooLarge(self.max_body, "request body")))
                return
        state = scope["app"].state
        try:
            req = parse_parts(method, mt, url_query, body)
            if req.query is None:  # an update: the app checks the write token and runs it
                await self.app(scope, _replay(body, receive), send)
                return
            out, content_type = await run_query(state, req, accept_text)
        except KgalignError as e:
            if int(getattr(e, "http_status", 500)) >= 500:
                log.warning("%s %s: %s", method, "/sparql", e)
            await _send(send, error_response(e))
            return
        except Exception as e:
            log.exception("internal error on %s %s", method, "/sparql")
            await _send(send, JSONResponse(
                {"error": "InternalError", "message": f"internal error ({type(e).__name__}); see the server log"},
                status_code=500))
            return
        await send({"type": "http.response.start", "status": 200, "headers": [
            (b"vary", b"Accept"), (b"content-length", str(len(out)).encode()),
            (b"content-type", content_type.encode("latin-1")), *SECURITY_HEADERS]})
        await send({"type": "http.response.body", "body": out})


async def _read_body(receive: Any, limit: int) -> tuple[bytes, bool | None]:
    """``(body, False)`` for the whole body, ``(b"", None)`` once it passes ``limit`` bytes, and
    ``(b"", True)`` when the client disconnects before the body is whole (a cut update must not run)."""
    chunks = []
    seen = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"", True
        chunk = message.get("body", b"")
        seen += len(chunk)
        if seen > limit:
            return b"", None
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks), False


def _replay(body: bytes, receive: Any) -> Any:
    """A ``receive`` that hands on the body already read, then the connection's own messages."""
    sent = False

    async def replay() -> dict:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def _send(send: Any, response: Any) -> None:
    await send({"type": "http.response.start", "status": response.status_code,
                "headers": [*response.raw_headers, *SECURITY_HEADERS]})
    await send({"type": "http.response.body", "body": response.body})
