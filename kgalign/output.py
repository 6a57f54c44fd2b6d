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

    lines = ["  ".join(c.ljust(w) for c, w in zip(cols, widths)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(fit(x, w).ljust(w) for x, w in zip(row, widths)).rstrip() for row in cells]
    return "\n".join(lines)
