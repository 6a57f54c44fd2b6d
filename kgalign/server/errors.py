"""Errors only the HTTP boundary raises; each is a :class:`~kgalign.errors.KgalignError` with its status.

Every error leaves the server as JSON: ``{"error": <type>, "message": ..., <fields>}``.

>>> PayloadTooLarge(1024).to_dict()["limit"]
1024
>>> NotAvailable("the DSL executor", "kgalign.query.run").http_status
501
"""

from __future__ import annotations

from kgalign.errors import KgalignError


class AuthenticationRequired(KgalignError):
    """A write was asked for without a bearer token (401)."""

    http_status = 401


class Forbidden(KgalignError):
    """A wrong token, a read-only server, or a path or URL outside what is allowed (403)."""

    http_status = 403


class NotFound(KgalignError):
    """No such route or resource (404)."""

    http_status = 404


class MethodNotAllowed(KgalignError):
    http_status = 405

    def __init__(self, method: str, path: str, allowed: list[str] | None = None) -> None:
        self.allowed = sorted(allowed or [])
        super().__init__(f"{method} is not allowed on {path}" + (f"; use {', '.join(self.allowed)}" if self.allowed else ""))

    def to_dict(self) -> dict[str, object]:
        return {**super().to_dict(), "allowed": self.allowed}


class NotAcceptable(KgalignError):
    """None of the media types the client accepts can be produced (406)."""

    http_status = 406

    def __init__(self, accept: str, offered: list[str]) -> None:
        self.accept = accept
        self.offered = offered
        super().__init__(f"cannot answer with any of {accept!r}; available: {', '.join(offered)}")

    def to_dict(self) -> dict[str, object]:
        return {**super().to_dict(), "accept": self.accept, "available": self.offered}


class PayloadTooLarge(KgalignError):
    """The request body or upload is over the configured limit (413)."""

    http_status = 413

    def __init__(self, limit: int, what: str = "request body") -> None:
        self.limit = limit
        super().__init__(f"the {what} is larger than the limit of {limit} bytes")

    def to_dict(self) -> dict[str, object]:
        return {**super().to_dict(), "limit": self.limit}


class UnsupportedMediaType(KgalignError):
    http_status = 415

    def __init__(self, content_type: str, supported: list[str]) -> None:
        self.content_type = content_type
        self.supported = supported
        super().__init__(f"cannot read a {content_type or 'body without a content type'}; send one of: {', '.join(supported)}")

    def to_dict(self) -> dict[str, object]:
        return {**super().to_dict(), "content_type": self.content_type, "supported": self.supported}


class NotAvailable(KgalignError):
    """A part of kgalign this endpoint needs is not installed in this build (501)."""

    http_status = 501

    def __init__(self, what: str, needs: str, detail: str = "") -> None:
        self.what = what
        self.needs = needs
        msg = f"{what} is not available in this kgalign build (it needs {needs})"
        super().__init__(msg + (f": {detail}" if detail else ""))

    def to_dict(self) -> dict[str, object]:
        return {**super().to_dict(), "needs": self.needs}


class ServerBusy(KgalignError):
    """Too many requests are running or waiting (503); try again shortly."""

    http_status = 503

    def __init__(self, pending: int) -> None:
        self.pending = pending
        super().__init__(f"the server is busy ({pending} requests running or waiting); try again shortly")

    def to_dict(self) -> dict[str, object]:
        return {**super().to_dict(), "retry_after": 1}


class QueryTimeout(KgalignError):
    """A query, match or load ran past its deadline (504)."""

    http_status = 504

    def __init__(self, what: str, seconds: float) -> None:
        self.what = what
        self.seconds = seconds
        super().__init__(f"{what} did not finish within {seconds:g} s")

    def to_dict(self) -> dict[str, object]:
        return {**super().to_dict(), "timeout": self.seconds}


class BadJSON(KgalignError):
    """The request body is not the JSON the endpoint reads; carries line and column."""

    def __init__(self, message: str, line: int | None = None, column: int | None = None) -> None:
        self.line = line
        self.column = column
        where = f"line {line}, column {column}: " if line is not None else ""
        super().__init__(f"{where}{message}")
        self.message = message

    def to_dict(self) -> dict[str, object]:
        return {"error": type(self).__name__, "message": self.message, "line": self.line, "column": self.column}
