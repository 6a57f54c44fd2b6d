"""One base exception for everything kgalign reports to a person.

Every error a user can cause derives from :class:`KgalignError`; the CLI and the
HTTP server catch it once at the boundary and show ``str(error)`` (one clear
message, never a traceback).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable

_SURROGATES = re.compile("[\ud800-\udfff]")
_CONTROL = re.compile("[\x00-\x1f\x7f]")


def printable(text: str) -> str:
    """``text`` with lone surrogates replaced, so printing or encoding it never fails."""
    return _SURROGATES.sub("\ufffd", text)


class KgalignError(Exception):
    """Base of every error kgalign reports to a user."""

    #: Process exit code the CLI uses for this kind of error.
    exit_code: int = 1
    #: HTTP status the server uses for this kind of error.
    http_status: int = 400

    def to_dict(self) -> dict[str, object]:
        return {"error": type(self).__name__, "message": str(self)}


class UsageError(KgalignError):
    """A command or API call was given arguments it cannot use."""

    exit_code = 2


class ConfigError(KgalignError):
    """A configuration value is not one of the allowed ones."""

    exit_code = 2


class WorkspaceError(KgalignError):
    """The workspace is missing, locked, or lacks a stage that is needed."""

    exit_code = 3
    http_status = 409


class LoadError(KgalignError):
    """An artefact could not be loaded; the store was left as it was.

    Carries the file and, where the parser gives them, the 1-based line and column.
    """

    exit_code = 4

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        line: int | None = None,
        column: int | None = None,
    ) -> None:
        # A parser may quote the offending character: keep the message on one line.
        message = _CONTROL.sub(lambda m: repr(m.group())[1:-1], printable(message))
        self.path = path
        self.line = line
        self.column = column
        self.message = message
        where = path or "<input>"
        if line is not None:
            where += f":{line}"
            if column is not None:
                where += f":{column}"
        super().__init__(f"{where}: {message}")

    def to_dict(self) -> dict[str, object]:
        return {
            "error": type(self).__name__,
            "message": str(self),
            "path": self.path,
            "line": self.line,
            "column": self.column,
        }


class QuerySyntaxError(KgalignError):
    """A DSL or SPARQL query does not parse: line, column, caret and what was expected."""

    exit_code = 5

    def __init__(
        self,
        message: str,
        *,
        text: str = "",
        line: int | None = None,
        column: int | None = None,
        expected: Iterable[str] = (),
    ) -> None:
        self.message = message
        self.text = text
        self.line = line
        self.column = column
        self.expected = sorted(set(expected))
        super().__init__(self._render())

    def context(self) -> str:
        """The offending line with a caret under the column (empty when unknown)."""
        if self.line is None or not self.text:
            return ""
        lines = self.text.split("\n") or [""]
        if not 1 <= self.line <= len(lines):
            return ""
        src = _SURROGATES.sub("\ufffd", lines[self.line - 1].rstrip("\r"))
        col = max(1, self.column or 1)
        if len(src) > 120:  # a window around the column, so one long line stays readable
            lo = max(0, min(col - 60, len(src) - 120))
            src = ("…" if lo else "") + src[lo : lo + 120] + ("…" if lo + 120 < len(src) else "")
            col = col - lo + (1 if lo else 0)
        pad = "".join("\t" if ch == "\t" else " " for ch in src[: col - 1])
        return f"  {src}\n  {pad}^"

    def _render(self) -> str:
        head = self.message
        if self.line is not None:
            head = f"line {self.line}, column {self.column}: {head}"
        parts = [head]
        ctx = self.context()
        if ctx:
            parts.append(ctx)
        if self.expected:
            shown = ", ".join(self.expected[:12])
            more = "" if len(self.expected) <= 12 else f" (+{len(self.expected) - 12} more)"
            parts.append(f"expected one of: {shown}{more}")
        return "\n".join(parts)

    def to_dict(self) -> dict[str, object]:
        return {
            "error": type(self).__name__,
            "message": self.message,
            "line": self.line,
            "column": self.column,
            "expected": self.expected,
            "context": self.context(),
        }


class UnknownNameError(KgalignError):
    """A name (symbol, graph, feature, registry entry) matches nothing; suggests the closest."""

    http_status = 404

    def __init__(self, kind: str, name: str, suggestions: Iterable[str] = ()) -> None:
        self.kind = kind
        self.name = name
        self.suggestions = list(suggestions)
        msg = f"unknown {kind} {name!r}"
        if self.suggestions:
            msg += "; did you mean " + ", ".join(repr(s) for s in self.suggestions) + "?"
        super().__init__(msg)

    @classmethod
    def among(cls, kind: str, name: str, known: Iterable[str], n: int = 5) -> UnknownNameError:
        """Build the error with the closest of ``known`` as suggestions."""
        known = list(known)
        close = difflib.get_close_matches(name, known, n=n, cutoff=0.5)
        if not close and len(known) <= 12:
            close = sorted(known)
        return cls(kind, name, close)

    def to_dict(self) -> dict[str, object]:
        return {**super().to_dict(), "kind": self.kind, "name": self.name, "suggestions": self.suggestions}


class AmbiguousNameError(KgalignError):
    """A name matches several symbols; lists the candidates with their graphs."""

    http_status = 409

    def __init__(self, name: str, candidates: Iterable[tuple[str, str]]) -> None:
        self.name = name
        self.candidates = list(candidates)  # (iri, graph)
        listed = "; ".join(f"{iri} (in {graph})" for iri, graph in self.candidates[:10])
        super().__init__(f"{name!r} is ambiguous: {listed}; add 'in graph G' or use the full IRI")

    def to_dict(self) -> dict[str, object]:
        return {**super().to_dict(), "name": self.name, "candidates": [list(c) for c in self.candidates]}


class ModelError(KgalignError):
    """A base model or SAE could not be loaded or does not fit the configuration."""

    exit_code = 6


class EmbedError(KgalignError):
    """Embedding could not run (no corpus, no text for a symbol, mismatched SAE...)."""

    exit_code = 7


class RemoteAccessRefused(KgalignError):
    """An input would make kgalign open a connection or read a file it was not given (SERVICE, LOAD, imports)."""

    http_status = 403

    def __init__(self, message: str, *, operation: str = "", line: int | None = None, column: int | None = None) -> None:
        self.operation = operation
        self.line = line
        self.column = column
        super().__init__(message)

    def to_dict(self) -> dict[str, object]:
        return {**super().to_dict(), "operation": self.operation, "line": self.line, "column": self.column}


class LimitError(LoadError):
    """An input is larger or deeper than kgalign accepts; names the file, position and the limit."""

    http_status = 413

    def __init__(
        self, message: str, *, limit: int | None = None, path: str | None = None,
        line: int | None = None, column: int | None = None,
    ) -> None:
        self.limit = limit
        super().__init__(message, path=path, line=line, column=column)

    def to_dict(self) -> dict[str, object]:
        return {**super().to_dict(), "limit": self.limit}
