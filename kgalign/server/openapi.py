"""The OpenAPI 3.1 description of the server, built from the routes themselves.

Each endpoint carries its operation(s) through the :func:`operation` decorator; the
document lists every route of the app and fails to build when a route has no
description, so the two cannot drift apart (``tests/server`` checks both directions).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from starlette.routing import Mount, Route

from kgalign import __version__

ERROR_REF = {"$ref": "#/components/schemas/Error"}
_CONVERTOR = re.compile(r"\{([^}:]+):[^}]+\}")
HTTP_METHODS = ("get", "post", "put", "delete", "patch")


def openapi_path(path: str) -> str:
    """A Starlette path as OpenAPI writes it.

    >>> openapi_path("/features/{n:int}")
    '/features/{n}'
    """
    return _CONVERTOR.sub(r"{\1}", path)


def query(name: str, description: str, *, required: bool = False, schema: dict | None = None) -> dict:
    return {"name": name, "in": "query", "required": required, "description": description,
            "schema": schema or {"type": "string"}}


def path_param(name: str, description: str, schema: dict | None = None) -> dict:
    return {"name": name, "in": "path", "required": True, "description": description,
            "schema": schema or {"type": "string"}}


def json_body(schema: dict, description: str = "") -> dict:
    return {"required": True, "description": description, "content": {"application/json": {"schema": schema}}}


def content(*media_types: str, schema: dict | None = None) -> dict:
    return {mt: {"schema": schema or {"type": "string"}} for mt in media_types}


def ok(description: str, *media_types: str, schema: dict | None = None, status: str = "200") -> dict:
    return {status: {"description": description, "content": content(*(media_types or ("application/json",)),
                                                                     schema=schema or {"type": "object"})}}


def operation(
    method: str,
    summary: str,
    *,
    description: str = "",
    parameters: Iterable[dict] = (),
    request_body: dict | None = None,
    responses: dict | None = None,
    errors: Iterable[int] = (400, 404),
    tags: Iterable[str] = (),
    writes: bool = False,
) -> Callable[[Callable], Callable]:
    """Attach the OpenAPI operation for ``method`` to an endpoint function (stackable)."""

    def deco(fn: Callable) -> Callable:
        ops = dict(getattr(fn, "__openapi__", {}))
        resp = dict(responses or ok("OK"))
        codes = set(errors) | {500, 503, 504}
        if writes:
            codes |= {401, 403, 413}
        for code in sorted(codes):
            resp.setdefault(str(code), {"description": _ERROR_TEXT.get(code, "error"),
                                        "content": {"application/json": {"schema": ERROR_REF}}})
        op: dict[str, Any] = {"summary": summary, "operationId": f"{method.lower()}_{fn.__name__}",
                              "responses": resp}
        if description:
            op["description"] = description
        params = list(parameters)
        if params:
            op["parameters"] = params
        if request_body:
            op["requestBody"] = request_body
        if tags:
            op["tags"] = list(tags)
        if writes:
            op["security"] = [{"writeToken": []}]
        ops[method.lower()] = op
        fn.__openapi__ = ops  # type: ignore[attr-defined]
        return fn

    return deco


_ERROR_TEXT = {
    400: "bad request (the message says what to change)",
    401: "a write without 'Authorization: Bearer <token>'",
    403: "read-only server, wrong token, or a path/URL outside what is allowed",
    404: "unknown name (with suggestions)",
    405: "method not allowed",
    406: "no acceptable media type",
    409: "the workspace lacks a stage, or a name is ambiguous",
    413: "body or upload over the limit",
    415: "unsupported content type",
    500: "internal error (JSON, never a traceback)",
    501: "a part of kgalign this endpoint needs is not installed",
    503: "too many requests running; retry",
    504: "the query ran past its deadline",
}

#: Mounted sub-apps are described here (they carry no endpoint function of their own).
MOUNT_OPERATIONS: dict[str, dict[str, dict]] = {
    "static": {
        "/static/{path}": {
            "get": {
                "summary": "The web console's files (HTML, JavaScript, CSS)",
                "operationId": "get_static",
                "parameters": [path_param("path", "file under kgalign/server/static")],
                "responses": {"200": {"description": "the file"}, "404": {"description": "no such file"}},
                "tags": ["console"],
            }
        }
    }
}


def build_document(routes: Iterable[Any]) -> dict:
    """The OpenAPI document of ``routes``; raises if a route carries no description."""
    paths: dict[str, dict] = {}
    for route in routes:
        if isinstance(route, Mount):
            described = MOUNT_OPERATIONS.get(route.name or "")
            if described is None:
                raise ValueError(f"mount {route.path!r} has no OpenAPI description")
            for p, ops in described.items():
                paths.setdefault(p, {}).update(ops)
            continue
        if not isinstance(route, Route):
            raise ValueError(f"route {route!r} has no OpenAPI description")
        ops = getattr(route.endpoint, "__openapi__", {})
        methods = sorted(m.lower() for m in (route.methods or ()) if m != "HEAD")
        p = openapi_path(route.path)
        for m in methods:
            if m not in ops:
                raise ValueError(f"{m.upper()} {route.path} has no OpenAPI description")
            paths.setdefault(p, {})[m] = ops[m]
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "kgalign",
            "version": __version__,
            "description": (
                "Knowledge-graph alignment in the concept coordinate system of a sparse autoencoder: "
                "the SPARQL 1.1 Protocol, the kgalign query language, symbol and feature pages, mappings, "
                "the pruning report and the OAEI/MELT matcher interface. Errors are JSON: "
                "{\"error\": type, \"message\": ...} with the status in the response."
            ),
        },
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error", "message"],
                    "properties": {
                        "error": {"type": "string", "description": "the error's type, e.g. UnknownNameError"},
                        "message": {"type": "string"},
                        "line": {"type": ["integer", "null"]},
                        "column": {"type": ["integer", "null"]},
                        "suggestions": {"type": "array", "items": {"type": "string"}},
                    },
                    "additionalProperties": True,
                },
            },
            "securitySchemes": {
                "writeToken": {"type": "http", "scheme": "bearer",
                               "description": "the token the server was started with (--write-token)"},
            },
        },
    }
