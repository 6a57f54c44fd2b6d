"""report: write the ontology-pruning report (HTML, JSON, Markdown) of an embedded workspace."""

from __future__ import annotations

import argparse
from pathlib import Path

from kgalign.commands import open_workspace


def register(sub: argparse._SubParsersAction) -> None:
    from kgalign.report import FORMATS

    p = sub.add_parser("report", help="write the pruning report: merge candidates, bridges, pruning candidates, "
                                      "blind spots, stability, behavioural checks")
    p.add_argument("-o", "--out", type=Path, default=Path("kgalign-report"), help="directory to write into "
                   "(default: ./kgalign-report)")
    p.add_argument("--format", nargs="+", choices=list(FORMATS), default=list(FORMATS), metavar="FORMAT",
                   help=f"one or more of {', '.join(FORMATS)} (default: all)")
    p.add_argument("--no-behaviour", action="store_true",
                   help="skip the behavioural checks (they load the model and run it; ~20 s on the demo)")
    p.set_defaults(func=cmd_report)


def cmd_report(args: argparse.Namespace) -> int:
    from kgalign.report import write_report

    ws = open_workspace(args)
    paths = write_report(ws, args.out, args.format, behaviour=not args.no_behaviour)
    for fmt, path in paths.items():
        print(f"report ({fmt}): {path}")
    return 0
