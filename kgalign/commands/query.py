"""query, explain, shell."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from kgalign.commands import open_workspace
from kgalign.errors import KgalignError, UsageError
from kgalign.output import OUTPUT_FORMATS, render_rows
from kgalign.query.grammar import KEYWORDS  # noqa: F401 (the shell completes them)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("query", help="run a DSL query (or a whole SPARQL query)",
                       description="Run a query in kgalign's query language (see the README: 'symbols similar to "
                       "X', 'features of X', 'align A with B', 'rules using X', ...) or a whole SPARQL query.")
    p.add_argument("text", nargs="?", help="the query; or -q FILE")
    p.add_argument("-q", "--query-file", type=Path, help="read the query from a file ('-' for stdin)")
    p.add_argument("--format", "-f", choices=OUTPUT_FORMATS, default="table", help="output format (default: table)")
    p.set_defaults(func=cmd_query)

    p = sub.add_parser("explain", help="show the plan of a DSL query",
                       description="Show the operators a DSL query runs (index scans, SPARQL semi-joins, "
                       "filters, limits) without running it.")
    p.add_argument("text", help="the DSL query")
    p.set_defaults(func=cmd_explain)

    p = sub.add_parser("shell", help="interactive query shell with history and completion",
                       description="An interactive shell for DSL and SPARQL queries, with history (kept in the "
                       "workspace) and completion of keywords, symbol and graph names.")
    p.set_defaults(func=cmd_shell)


def _text(args: argparse.Namespace) -> str:
    if args.query_file is not None:
        return sys.stdin.read() if str(args.query_file) == "-" else args.query_file.read_text()
    if not args.text:
        raise UsageError("give the query text or -q FILE")
    return args.text


def print_result(result, fmt: str = "table") -> None:
    if fmt == "json":
        print(json.dumps(result.to_dict(), indent=2, default=str))
        return
    records = result.records()
    if fmt in ("csv", "tsv"):  # for scripts: numbers as computed, not shortened for the eye as in tables
        records = [{k: repr(v) if isinstance(v, float) else v for k, v in r.items()} for r in records]
    print(render_rows(records, result.columns, fmt))
    if fmt == "table":
        extra = result.extra.get("features") if result.extra else None
        for info in extra or []:
            print(f"\nfeature {info['feature']}: {info['label']} (density {info['density']})")
            for sn in info.get("snippets", []):
                print(f"  {sn['activation']:.3f}  {sn['text'][:100]}")
        print(f"({len(result)} rows, {result.elapsed_ms:.1f} ms)", file=sys.stderr)


def cmd_query(args: argparse.Namespace) -> int:
    ws = open_workspace(args)
    print_result(ws.query(_text(args)), args.format)
    return 0


def cmd_explain(args: argparse.Namespace) -> int:
    ws = open_workspace(args)
    print(ws.explain(args.text))
    return 0


def cmd_shell(args: argparse.Namespace) -> int:
    from prompt_toolkit import PromptSession
    from prompt_toolkit.completion import WordCompleter
    from prompt_toolkit.history import FileHistory

    ws = open_workspace(args)
    names = sorted({s.local_name for s in ws.symbols()} | set(ws.graph_names()))
    completer = WordCompleter(list(KEYWORDS) + names, ignore_case=True, sentence=False)
    history = Path(ws.path) / "shell_history"
    try:
        session: PromptSession = PromptSession(history=FileHistory(str(history)), completer=completer)
    except OSError:
        session = PromptSession(completer=completer)
    print("kgalign shell — DSL or SPARQL; end with Enter; Ctrl-D to quit")
    while True:
        try:
            text = session.prompt("kgalign> ")
        except KeyboardInterrupt:
            continue
        except EOFError:
            return 0
        if not text.strip():
            continue
        try:
            print_result(ws.query(text))
        except KgalignError as e:
            print(f"error: {e}")
