"""load, graphs, symbols, resolve, sparql, drop."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from kgalign.commands import open_workspace
from kgalign.errors import UsageError
from kgalign.output import OUTPUT_FORMATS, render_rows
from kgalign.store.rdfio import serialize_results, serialize_triples
from kgalign.store.terms import Literal, NamedNode, Triples
from kgalign.symbolic.formats import FORMATS
from kgalign.symbolic.symbols import KINDS


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "init",
        help="create a workspace, choosing where its RDF lives (embedded, or a SPARQL 1.1 server)",
        description="Create the workspace (or change an empty one's store). Without options the RDF lives in "
        "the workspace directory (embedded Oxigraph). With --sparql-endpoint it lives on a SPARQL 1.1 server "
        "(Oxigraph server, Fuseki, Virtuoso, QLever...); concept vectors and indexes stay in the workspace "
        "directory. Recorded in workspace.json; every command then uses it.",
    )
    p.add_argument("--sparql-endpoint", metavar="URL", help="the server's SPARQL query endpoint")
    p.add_argument("--update-endpoint", metavar="URL", help="its SPARQL update endpoint (none: read-only)")
    p.add_argument("--graph-store", metavar="URL", help="its Graph Store Protocol endpoint, for bulk loads")
    p.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for a query or update (default 120)")
    p.add_argument("--no-atomic-updates", action="store_true",
                   help="the server applies an update request operation by operation (e.g. Virtuoso)")
    p.add_argument("--no-chunked-uploads", action="store_true",
                   help="the server cannot read a chunked request body (e.g. Virtuoso 7): spool each upload "
                   "to a temporary file and send its length")
    p.set_defaults(func=cmd_init)

    p = sub.add_parser(
        "load", help="load artefacts into the workspace, one named graph each",
        description="Load artefacts (files, folders, globs) into the workspace, each into its own named graph "
        "(urn:kgalign:graph:NAME). A folder is searched recursively for the known extensions "
        f"({', '.join(KNOWN_EXTENSIONS)}); files load in sorted order. Loading a name again replaces "
        "its graph atomically; a failed load leaves the workspace as it was.",
    )
    p.add_argument("files", nargs="+", metavar="PATH",
                   help="a file, a folder (searched recursively) or a glob ('data/**/*.owl'); RDF/XML, OWL, Turtle, "
                   "N-Triples, N-Quads, TriG, JSON-LD, OWL/XML, OBO, N3 (rules), SWRL in any RDF syntax")
    p.add_argument("--name", help="graph name (default: the file's stem); only with one file")
    p.add_argument("--format", choices=sorted(FORMATS), help="override the format detected from extension/content")
    p.add_argument("--follow-imports", action="store_true",
                   help="follow OWL/XML <Import>s (opens the files and URLs they name; off by default)")
    p.set_defaults(func=cmd_load)

    p = sub.add_parser("graphs", help="list the loaded artefacts with their provenance",
                       description="List the loaded artefacts: name, triples, symbols, format, source, load time.")
    p.add_argument("--format", "-f", choices=OUTPUT_FORMATS, default="table", help="output format (default: table)")
    p.set_defaults(func=cmd_graphs)

    p = sub.add_parser("symbols", help="list symbols",
                       description="List the symbols (classes, properties, individuals, concepts, rules) of every "
                       "graph, or of GRAPH.")
    p.add_argument("graph_pos", nargs="?", metavar="GRAPH", help="only this graph (same as --graph)")
    p.add_argument("--graph", "-g", help="only this graph")
    p.add_argument("--kind", choices=KINDS, help="only this kind")
    p.add_argument("--format", "-f", choices=OUTPUT_FORMATS, default="table", help="output format (default: table)")
    p.set_defaults(func=cmd_symbols)

    p = sub.add_parser("resolve", help="resolve a name (local name, label, CURIE, IRI) to symbols",
                       description="Resolve a name to the symbols it may mean: full IRI, CURIE, local name, label, "
                       "alternative or hidden label, or SKOS notation (insensitive to case, spaces, underscores "
                       "and camelCase). An unknown name gets the closest known names.")
    p.add_argument("name", help="what to resolve: DutyOfCare, 'duty of care', tort:DutyOfCare, <IRI>, C0101")
    p.add_argument("--graph", "-g", help="only this graph")
    p.add_argument("--format", "-f", choices=OUTPUT_FORMATS, default="table", help="output format (default: table)")
    p.set_defaults(func=cmd_resolve)

    p = sub.add_parser(
        "sparql",
        help="run a SPARQL query (text, or a file with -q)",
        description="Run a SPARQL 1.1 query over every graph of the workspace (the default graph is their "
        "union). SELECT and ASK results print as a table, or in the W3C SPARQL results formats "
        "(json, xml, csv, tsv); CONSTRUCT and DESCRIBE results as Turtle (table, turtle), N-Triples "
        "or JSON-LD (json).",
    )
    p.add_argument("query", nargs="?", help="the query text")
    p.add_argument("-q", "--query-file", type=Path, help="read the query from this file ('-' for stdin)")
    p.add_argument("--format", "-f", choices=(*OUTPUT_FORMATS, "xml", "ntriples", "turtle"), default="table",
                   help="output format (default: table)")
    p.add_argument("--allow-federation", action="append", metavar="IRI_PREFIX", default=None,
                   help="let SERVICE reach endpoints whose IRI starts with this ('*': any); repeatable")
    p.set_defaults(func=cmd_sparql)

    p = sub.add_parser("drop", help="remove an artefact's graph",
                       description="Remove an artefact's graph and its provenance from the workspace.")
    p.add_argument("graph", help="the graph name (see 'kgalign graphs')")
    p.set_defaults(func=cmd_drop)


def cmd_init(args: argparse.Namespace) -> int:
    from kgalign.api import CONFIG_FILE, WorkspaceConfig, default_workspace_path
    from kgalign.store import open_store
    from kgalign.store.remote import EndpointConfig, check_url

    path = Path(args.workspace) if args.workspace else default_workspace_path()
    cfg_path = path / CONFIG_FILE
    if args.sparql_endpoint is None:
        if args.update_endpoint or args.graph_store:
            raise UsageError("--update-endpoint and --graph-store need --sparql-endpoint")
        store_cfg = None
    else:
        remote = EndpointConfig(
            query_endpoint=check_url(args.sparql_endpoint),
            update_endpoint=check_url(args.update_endpoint) if args.update_endpoint else None,
            graph_store=check_url(args.graph_store) if args.graph_store else None,
            timeout=args.timeout, atomic_updates=not args.no_atomic_updates,
            chunked_uploads=not args.no_chunked_uploads,
        )
        store_cfg = remote.to_dict()
    config = WorkspaceConfig.read(cfg_path) if cfg_path.exists() else WorkspaceConfig()
    if cfg_path.exists() and config.store != store_cfg:
        with open_store(config.store, path, read_only=True) if (path / "store").exists() or config.store else _Nothing() as old:
            if old is not None and old.graphs():
                raise UsageError(
                    f"the workspace at {path} already holds artefacts in its store ({old.location}); "
                    "drop them first or init another workspace directory"
                )
    # Check the new store answers (and can be written to, when it has an update endpoint).
    store = open_store(store_cfg, path, read_only=store_cfg is not None and not store_cfg.get("update_endpoint"))
    try:
        found = store.graphs()
        where = store.location
    finally:
        store.close()
    path.mkdir(parents=True, exist_ok=True)
    config.store = store_cfg
    config.write(cfg_path)
    note = f"; {len(found)} artefact(s) already there" if found else ""
    if store_cfg is None:
        print(f"workspace at {path}: embedded store in {where}{note}")
    else:
        extra = "".join(f"; {k.replace('_', ' ')}: {store_cfg[k]}" for k in ("update_endpoint", "graph_store") if k in store_cfg)
        print(f"workspace at {path}: SPARQL endpoint {where}{extra}{note}")
    return 0


class _Nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


#: Extensions a folder is searched for (every format kgalign reads).
KNOWN_EXTENSIONS: tuple[str, ...] = tuple(sorted({e for f in FORMATS.values() for e in f.extensions}
                                                 - {".xml", ".json"}))
_GLOB_CHARS = set("*?[")


def expand_paths(items: list[str]) -> list[Path]:
    """Files, folders (recursively, known extensions only, sorted) and globs as a list of files.

    A folder skips files whose extension kgalign does not read (``.xml`` and ``.json`` only load
    when named or globbed, since folders hold many that are not RDF); a name that matches nothing
    is an error naming it.
    """
    out: list[Path] = []
    for item in items:
        p = Path(item)
        if p.is_dir():
            found = sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in KNOWN_EXTENSIONS
                           and not any(part.startswith(".") for part in f.relative_to(p).parts))
            if not found:
                raise UsageError(f"{item}: no artefacts in this folder (looked for {', '.join(KNOWN_EXTENSIONS)})")
            out.extend(found)
        elif not p.exists() and _GLOB_CHARS & set(item):
            import glob

            found = sorted(Path(f) for f in glob.glob(item, recursive=True) if Path(f).is_file())
            if not found:
                raise UsageError(f"{item}: the pattern matches no file")
            out.extend(found)
        else:
            out.append(p)  # the loader names a missing file itself
    return list(dict.fromkeys(out))


def graph_names_for(files: list[Path]) -> dict[Path, str | None]:
    """None (the stem) for each file, unless two files share a stem: then their path, made a name."""
    from kgalign.symbolic.loaders import default_graph_name

    stems: dict[str, list[Path]] = {}
    for f in files:
        stems.setdefault(default_graph_name(f), []).append(f)
    names: dict[Path, str | None] = {}
    for stem, fs in stems.items():
        for f in fs:
            if len(fs) == 1:
                names[f] = None
            else:
                parent = (f.parent.name or "root").replace(".", "-")
                names[f] = default_graph_name(Path(f"{parent}-{stem}"))
    return names


def cmd_load(args: argparse.Namespace) -> int:
    files = expand_paths([str(f) for f in args.files])
    if args.name and len(files) > 1:
        raise UsageError(f"--name takes one file and {len(files)} were given; load the others separately")
    names = graph_names_for(files) if not args.name else {files[0]: args.name}
    ws = open_workspace(args, write=True)
    for f in files:
        rep = ws.load(f, name=names[f], format=args.format, follow_imports=args.follow_imports)
        verb = "replaced" if rep.replaced else "loaded"
        merged = rep.info.source_graphs
        note = f"; its {len(merged)} named graph(s) merged into one" if merged else ""
        print(f"{verb} {rep.info.name}: {rep.info.triples} triples from {f} ({rep.info.format}{note})")
    return 0


def cmd_graphs(args: argparse.Namespace) -> int:
    ws = open_workspace(args)
    rows = [g.to_dict() for g in ws.graphs()]
    for r in rows:
        r["symbols"] = len(ws.symbols(r["name"]))
    print(render_rows(rows, ["name", "triples", "symbols", "format", "source", "loaded_at", "iri"], args.format))
    return 0


def cmd_symbols(args: argparse.Namespace) -> int:
    if args.graph_pos and args.graph and args.graph_pos != args.graph:
        raise UsageError(f"two graphs given: {args.graph_pos} and --graph {args.graph}")
    ws = open_workspace(args)
    syms = ws.symbols(args.graph or args.graph_pos, args.kind)
    rows = [s.to_dict() for s in syms]
    cols = ["graph", "kind", "label", "iri"] if args.format == "table" else list(rows[0]) if rows else []
    print(render_rows(rows, cols, args.format))
    return 0


def cmd_resolve(args: argparse.Namespace) -> int:
    ws = open_workspace(args)
    found = ws.resolve(args.name, args.graph)
    if not found:
        ws.resolve_one(args.name, args.graph)  # raises with "did you mean"
    rows = [s.to_dict() for s in found]
    print(render_rows(rows, ["graph", "kind", "label", "iri", "definitions"] if args.format == "table" else None, args.format))
    return 0


_RESULT_FORMATS = {
    "json": "application/sparql-results+json",
    "xml": "application/sparql-results+xml",
    "csv": "text/csv",
    "tsv": "text/tab-separated-values",
}
_GRAPH_FORMATS = {
    "table": "text/turtle",
    "turtle": "text/turtle",
    "ntriples": "application/n-triples",
    "json": "application/ld+json",
    "xml": "application/rdf+xml",
}


def _term(t: object) -> str | None:
    if t is None:
        return None
    if isinstance(t, (NamedNode, Literal)):
        return t.value
    return str(t)


def read_query(args: argparse.Namespace) -> str:
    """The query text from the command line, a file, or stdin ('-q -')."""
    if args.query_file is not None and args.query:
        raise UsageError("give the query text or -q FILE, not both")
    if args.query_file is not None:
        if str(args.query_file) == "-":
            return sys.stdin.read()
        try:
            return args.query_file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            reason = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
            raise UsageError(f"cannot read the query file {args.query_file}: {reason}") from None
    if args.query:
        return args.query
    raise UsageError("give the query text or -q FILE")


def cmd_sparql(args: argparse.Namespace) -> int:
    if args.allow_federation:
        from kgalign.symbolic.sparql_guard import set_federation

        set_federation(args.allow_federation)
    text = read_query(args)
    ws = open_workspace(args)
    res = ws.sparql_raw(text)
    out = sys.stdout.buffer
    if isinstance(res, Triples):
        if args.format not in _GRAPH_FORMATS:
            raise UsageError(
                f"a CONSTRUCT or DESCRIBE result is a graph: use --format {', '.join(sorted(_GRAPH_FORMATS))}"
            )
        out.write(serialize_triples(res, _GRAPH_FORMATS[args.format]))
        if args.format == "json":
            out.write(b"\n")
        return 0
    if args.format in ("ntriples", "turtle"):
        raise UsageError(f"{args.format} is for CONSTRUCT and DESCRIBE results; use table, json, xml, csv or tsv")
    if isinstance(res, bool):
        if args.format in _RESULT_FORMATS:
            out.write(serialize_results(res, _RESULT_FORMATS[args.format]))
            out.write(b"\n")
        else:
            print("true" if bool(res) else "false")
        return 0
    if args.format in _RESULT_FORMATS:
        data = serialize_results(res, _RESULT_FORMATS[args.format])
        out.write(data)
        if not data.endswith(b"\n"):
            out.write(b"\n")
        return 0
    names = res.variables
    rows = [{n: _term(row[n]) for n in names} for row in res]
    print(render_rows(rows, names, "table"))
    return 0


def cmd_drop(args: argparse.Namespace) -> int:
    ws = open_workspace(args, write=True)
    ws.drop(args.graph)
    print(f"dropped {args.graph}")
    return 0
