"""Small HTTP helpers shared by the endpoints: JSON out, content negotiation, the write token.

>>> negotiate("text/csv;q=0.5, application/sparql-results+json", ["application/sparql-results+json", "text/csv"])
'application/sparql-results+json'
>>> negotiate("text/*", ["application/json", "text/csv"])
'text/csv'
>>> negotiate(None, ["application/json", "text/csv"])
'application/json'
"""

from __future__ import annotations

import dataclasses
import hmac
import json
import math
from collections.abc import Sequence
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from kgalign.errors import UsageError
from kgalign.server.errors import AuthenticationRequired, BadJSON, Forbidden, NotAcceptable
from kgalign.store.terms import BlankNode, Literal, NamedNode


def jsonable(value: Any) -> Any:
    """Turn what the Python API returns (dataclasses, RDF terms, numpy numbers) into JSON values."""
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [jsonable(v) for v in value]
    if isinstance(value, (NamedNode, Literal)):
        return value.value
    if isinstance(value, BlankNode):
        return f"_:{value.value}"
    if hasattr(value, "to_dict"):
        return jsonable(value.to_dict())
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return jsonable(dataclasses.asdict(value))
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        return jsonable(value.item())
    if hasattr(value, "tolist"):
        return jsonable(value.tolist())
    return str(value)


class JSONResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        # "replace": a lone surrogate from a client's text must not turn an answer into a 500
        return json.dumps(jsonable(content), ensure_ascii=False, separators=(",", ":")).encode("utf-8", "replace")


def error_response(error: Any, headers: dict[str, str] | None = None) -> JSONResponse:
    """The JSON body of a :class:`~kgalign.errors.KgalignError` with its HTTP status."""
    status = int(getattr(error, "http_status", 500))
    hdrs = dict(headers or {})
    if status == 401:
        hdrs.setdefault("WWW-Authenticate", 'Bearer realm="kgalign"')
    if status == 503:
        hdrs.setdefault("Retry-After", "1")
    return JSONResponse(error.to_dict(), status_code=status, headers=hdrs)


# -- content negotiation ----------------------------------------------------------------------


def _parse_accept(accept: str) -> list[tuple[str, float, int]]:
    out = []
    for i, part in enumerate(accept.split(",")):
        bits = [b.strip() for b in part.split(";")]
        mt = bits[0].lower()
        if not mt:
            continue
        q = 1.0
        for b in bits[1:]:
            if b.lower().startswith("q="):
                try:
                    q = float(b[2:])
                except ValueError:
                    q = 0.0
        out.append((mt, q, i))
    return out


def negotiate(accept: str | None, offers: Sequence[str]) -> str | None:
    """The offer the ``Accept`` header likes best (ties go to the earlier offer); None when none fits."""
    if not accept or not accept.strip():
        return offers[0]
    ranges = _parse_accept(accept)
    best: tuple[float, int, int] | None = None
    chosen = None
    for oi, offer in enumerate(offers):
        o_type, _, o_sub = offer.partition("/")
        q_here: tuple[float, int] | None = None  # (q, specificity)
        for mt, q, _ in ranges:
            r_type, _, r_sub = mt.partition("/")
            if mt == offer:
                spec = 3
            elif r_type == o_type and r_sub == "*":
                spec = 2
            elif mt in ("*/*", "*"):
                spec = 1
            else:
                continue
            if q_here is None or spec > q_here[1]:
                q_here = (q, spec)
        if q_here is None or q_here[0] <= 0:
            continue
        key = (q_here[0], q_here[1] if q_here[1] == 3 else 0, -oi)
        if best is None or key > best:
            best, chosen = key, offer
    return chosen


def negotiate_or_406(request: Request, offers: Sequence[str]) -> str:
    accept = request.headers.get("accept")
    chosen = negotiate(accept, offers)
    if chosen is None:
        raise NotAcceptable(accept or "", list(offers))
    return chosen


# -- request bodies ---------------------------------------------------------------------------


def parse_json(body: bytes) -> Any:
    """Parse a JSON body; a syntax error becomes :class:`BadJSON` with line and column."""
    from kgalign.errors import LimitError
    from kgalign.limits import loads_json

    try:
        return loads_json(body.decode("utf-8"))
    except UnicodeDecodeError as e:
        raise BadJSON(f"the body is not UTF-8 text ({e.reason} at byte {e.start})") from None
    except json.JSONDecodeError as e:
        raise BadJSON(f"invalid JSON: {e.msg}", line=e.lineno, column=e.colno) from None
    except LimitError as e:
        raise BadJSON(f"invalid JSON: {e.message}", line=e.line, column=e.column) from None
    except (ValueError, RecursionError) as e:
        raise BadJSON(f"invalid JSON: {e}") from None


def media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


# -- the write token ----------------------------------------------------------------------------


def require_write(request: Request) -> None:
    """Let a write through only with ``Authorization: Bearer <write token>`` on a read-write server."""
    token = request.app.state.config.write_token
    if token is None:
        raise Forbidden("this server is read-only: start it with --write-token (or KGALIGN_WRITE_TOKEN) to allow writes")
    auth = request.headers.get("authorization", "")
    scheme, _, given = auth.partition(" ")
    if not auth or scheme.lower() != "bearer" or not given.strip():
        raise AuthenticationRequired("this request writes to the workspace: send 'Authorization: Bearer <write token>'")
    if not hmac.compare_digest(given.strip().encode("utf-8"), token.encode("utf-8")):
        raise Forbidden("the bearer token is not the write token")


def int_param(request: Request, name: str, default: int, lo: int = 0, hi: int = 10_000) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        if len(raw) > 20:
            raise ValueError(raw)
        v = int(raw)
    except ValueError:
        shown = raw if len(raw) <= 40 else raw[:37] + "…"
        raise UsageError(f"parameter {name!r} must be an integer, not {shown!r}") from None
    if not lo <= v <= hi:
        raise UsageError(f"parameter {name!r} must be between {lo} and {hi}, not {v}")
    return v
