"""Rendering rows for people and scripts: aligned tables, JSON, CSV, TSV."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from typing import Any

OUTPUT_FORMATS = ("table", "json", "csv", "tsv")


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, (list, tuple)):
        return ", ".join(_cell(x) for x in v)
    return str(v)


def render_rows(rows: Sequence[dict[str, Any]], columns: Sequence[str] | None = None, fmt: str = "table") -> str:
    """Render dict rows as an aligned table, JSON (list of objects), CSV or TSV."""
    cols = list(columns) if columns else (list(rows[0].keys()) if rows else [])
    if fmt == "json":
        return json.dumps([{c: r.get(c) for c in cols} for r in rows], indent=2, default=str)
    if fmt in ("csv", "tsv"):
        buf = io.StringIO()
        w = csv.writer(buf, delimiter="," if fmt == "csv" else "\t", lineterminator="\n")
        w.writerow(cols)
        for r in rows:
            w.writerow([_cell(r.get(c)) for c in cols])
        return buf.getvalue().rstrip("\n")
    if not rows:
        return "(no results)"
    cells = [[_cell(r.get(c)) for c in cols] for r in rows]
    widths = [min(60, max(len(c), *(len(row[i]) for row in cells))) for i, c in enumerate(cols)]

    def fit(s: str, w: int) -> str:
        return s if len(s) <= w else s[: w - 1] + "…"

    lines = ["  ".join(c.ljust(w) for c, w in zip(cols, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(fit(x, w).ljust(w) for x, w in zip(row, widths, strict=True)).rstrip() for row in cells]
    return "\n".join(lines)


def exit_codes_epilog() -> str:
    """The exit codes scripts can rely on, for ``kgalign --help``: one line per kind of error.

    Built from the error classes, so a new kind of error shows up here by itself.

    >>> print(exit_codes_epilog().splitlines()[1])
      0    success
    """
    from kgalign import errors

    by_code: dict[int, list[str]] = {2: ["bad command-line arguments"]}
    seen: set[type] = set()
    todo: list[type] = [errors.KgalignError]
    while todo:
        cls = todo.pop(0)
        if cls in seen:
            continue
        seen.add(cls)
        todo.extend(cls.__subclasses__())
        doc = (cls.__doc__ or cls.__name__).strip().splitlines()[0].rstrip(".")
        if cls is errors.KgalignError:
            doc = "any other error"
        by_code.setdefault(cls.exit_code, []).append(f"{doc[0].lower() + doc[1:]} ({cls.__name__})")
    lines = ["exit codes:", "  0    success"]
    for code in sorted(by_code):
        first, *rest = by_code[code]
        lines.append(f"  {code:<4} {first}")
        lines.extend(f"       {r}" for r in rest)
    lines.append("  130  interrupted (Ctrl-C); the workspace is unchanged by the unfinished step")
    lines.append("Errors print one line on stderr ('kgalign: error: ...'), never a traceback.")
    return "\n".join(lines)
