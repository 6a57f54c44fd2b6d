"""The kgalign query language at ``/query``: JSON in, JSON out.

``POST /query`` with ``{"query": "..."}`` (or ``GET /query?query=...``) runs
``kgalign.query.run(ws, text)`` in a worker thread with the query deadline and answers
the result's ``to_dict()`` (``columns`` and ``rows`` at least). A syntax error answers
400 with ``line``, ``column``, ``expected`` and a caret ``context``; a build without the
executor answers 501.
"""

from __future__ import annotations

import time
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from kgalign.errors import UsageError
from kgalign.server import integrations
from kgalign.server.errors import UnsupportedMediaType
from kgalign.server.http import JSONResponse, media_type, parse_json
from kgalign.server.openapi import json_body, ok, operation, query


def result_dict(result: Any) -> dict:
    """A DSL result as JSON: its own ``to_dict()``, with ``columns`` and ``rows`` guaranteed."""
    d = dict(result.to_dict()) if hasattr(result, "to_dict") else {}
    if "columns" not in d:
        d["columns"] = list(getattr(result, "columns", []))
    if "rows" not in d:
        d["rows"] = list(getattr(result, "rows", []))
    return d


def run_dsl(ws, text: str) -> dict:
    integrations.dsl_runner()  # 501 when the query language is not installed
    t0 = time.perf_counter()
    d = result_dict(ws.query(text))
    d.setdefault("elapsed_ms", round((time.perf_counter() - t0) * 1000, 2))
    return d


async def _query_text(request: Request) -> str:
    if request.method == "GET":
        text = request.query_params.get("query")
    else:
        mt = media_type(request)
        if mt not in ("application/json", ""):
            raise UnsupportedMediaType(mt, ["application/json"])
        data = parse_json(await request.body())
        if not isinstance(data, dict):
            raise UsageError('send a JSON object: {"query": "..."}')
        text = data.get("query")
        if text is not None and not isinstance(text, str):
            raise UsageError("'query' must be a string")
    if not text or not text.strip():
        raise UsageError('give the query: {"query": "..."}')
    return text


_RESULT = {"type": "object", "required": ["columns", "rows"], "properties": {
    "columns": {"type": "array", "items": {"type": "string"}},
    "rows": {"type": "array", "items": {"type": "object"}}}}


@operation("POST", "Run a query in the kgalign query language",
           request_body=json_body({"type": "object", "required": ["query"],
                                   "properties": {"query": {"type": "string"}}}),
           responses=ok("the result: columns and rows", schema=_RESULT),
           errors=(400, 404, 409, 413, 415, 501), tags=["query"])
@operation("GET", "Run a query in the kgalign query language (for links)",
           parameters=[query("query", "the query text", required=True)],
           responses=ok("the result: columns and rows", schema=_RESULT),
           errors=(400, 404, 409, 501), tags=["query"])
async def query_endpoint(request: Request) -> Response:
    state = request.app.state
    integrations.dsl_runner()  # 501 before reading anything when the executor is missing
    text = await _query_text(request)
    body = await state.runner.run(run_dsl, state.ws, text, timeout=state.config.query_timeout, what="the query")
    return JSONResponse(body)
