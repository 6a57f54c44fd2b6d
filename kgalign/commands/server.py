"""serve: the HTTP service and web console over a workspace."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from kgalign.errors import KgalignError, UsageError
from kgalign.server.config import MATCH_NEURAL_POLICIES, WRITE_TOKEN_ENV, MiB, ServerConfig


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "serve",
        help="serve the workspace over HTTP: SPARQL protocol, query language, symbol/feature pages, "
        "OAEI matcher interface, web console",
        description="Serve the workspace over HTTP (read-only unless a write token is set).",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    p.add_argument("--port", "-p", type=int, default=8000, help="port (default 8000; 0 = any free port)")
    p.add_argument("--write-token", default=None,
                   help=f"bearer token that allows writes (uploads, SPARQL UPDATE); default ${WRITE_TOKEN_ENV}; "
                   "without one the workspace is opened read-only")
    p.add_argument("--write-token-file", type=Path, default=None, metavar="FILE",
                   help="read the write token from this file (keeps it out of 'ps'; so does $KGALIGN_WRITE_TOKEN)")
    p.add_argument("--allow-federation", action="append", metavar="IRI_PREFIX", default=None,
                   help="let SPARQL SERVICE (and, with the token, LOAD) reach endpoints whose IRI starts with "
                        "this ('*': any); repeatable; default: none")
    p.add_argument("--max-body", type=_size, default=1 * MiB, help="largest request body, e.g. 1M (default 1M)")
    p.add_argument("--max-upload", type=_size, default=64 * MiB, help="largest upload, e.g. 64M (default 64M)")
    p.add_argument("--query-timeout", type=float, default=30.0, help="seconds per query (default 30)")
    p.add_argument("--match-timeout", type=float, default=300.0, help="seconds per match or load (default 300)")
    p.add_argument("--workers", type=int, default=8, help="query worker threads (default 8)")
    p.add_argument("--processes", type=int, default=1,
                   help="server processes sharing the port (read-only servers only; each has its own "
                        "--workers and --max-pending and its own copy of the workspace's caches); default 1")
    p.add_argument("--max-pending", type=int, default=64, help="requests running or waiting before 503 (default 64)")
    p.add_argument("--file-root", action="append", default=[], metavar="DIR",
                   help="a directory file: URLs may point into (repeatable); none = no file: URLs")
    p.add_argument("--allow-remote-urls", action="store_true", help="let /match and /graphs fetch http(s) URLs")
    p.add_argument("--cors-origin", action="append", default=[], metavar="ORIGIN",
                   help="an origin allowed to call the API from a browser (repeatable)")
    p.add_argument("--report-dir", default=None, help="serve this pre-built report directory at /report")
    p.add_argument("--match-neural", choices=MATCH_NEURAL_POLICIES, default="auto",
                   help="embed the ontologies posted to /match: auto (when installed and small), never, always")
    p.add_argument("--log-level", default="info", choices=("critical", "error", "warning", "info", "debug"),
                   help="server log level (default: info)")
    p.add_argument("--no-threads", action="store_true",
                   help="answer SPARQL queries on the event loop's worker pool too, not on per-connection threads")
    p.add_argument("--access-log", action="store_true", help="log every request (off by default: it costs throughput)")
    p.add_argument("--no-access-log", action="store_true", help="do not log every request (the default)")
    p.set_defaults(func=cmd_serve)


def _size(text: str) -> int:
    """``1M``, ``512K``, ``2G`` or a number of bytes."""
    t = text.strip().upper().removesuffix("B")
    mult = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(t[-1:], 1)
    num = t[:-1] if t[-1:] in "KMG" else t
    try:
        return int(float(num) * mult)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (use e.g. 1M, 512K, 1048576)") from None


def _token_from_file(path: Path | None) -> str | None:
    """The first line of ``path`` (a regular file of at most 4 KB), or None without a path."""
    if path is None:
        return None
    from kgalign.errors import UsageError
    from kgalign.limits import check_regular_file

    try:
        check_regular_file(path, max_bytes=4096)
        token = path.read_text(encoding="utf-8").strip().splitlines()[0].strip()
    except (OSError, UnicodeDecodeError, IndexError, KgalignError) as e:
        raise UsageError(f"cannot read the write token from {path}: {e}") from None
    if not token:
        raise UsageError(f"the write token file {path} is empty")
    return token


def cmd_serve(args: argparse.Namespace) -> int:
    from kgalign.server import serve

    token = args.write_token or _token_from_file(args.write_token_file) or ServerConfig.token_from_env()
    if args.allow_federation:
        from kgalign.symbolic.sparql_guard import set_federation

        set_federation(args.allow_federation)
    config = ServerConfig(
        workspace=args.workspace, host=args.host, port=args.port, write_token=token,
        max_body=args.max_body, max_upload=args.max_upload, query_timeout=args.query_timeout,
        match_timeout=args.match_timeout, workers=args.workers, max_pending=args.max_pending,
        file_roots=tuple(args.file_root), allow_remote_urls=args.allow_remote_urls,
        cors_origins=tuple(args.cors_origin), report_dir=args.report_dir, match_neural=args.match_neural,
    )
    if args.processes < 1:
        raise UsageError(f"--processes must be at least 1, not {args.processes}")
    if args.processes > 1 and not config.read_only:
        raise UsageError("--processes needs a read-only server (no write token): the store has one writer, and a "
                         "write in one process would leave the others' handles and caches stale")
    mode = "read-write (writes need the bearer token)" if token else "read-only"
    shown = "localhost" if config.host in ("127.0.0.1", "::1") else config.host
    print(f"kgalign: serving {args.workspace or 'the default workspace'} {mode} at "
          f"http://{shown}:{config.port}/ (console), /sparql, /query, /openapi.json", file=sys.stderr, flush=True)
    if config.host not in ("127.0.0.1", "::1", "localhost"):
        print(f"kgalign: warning: bound to {config.host}: reachable from other machines", file=sys.stderr)
    serve(config, log_level=args.log_level, access_log=args.access_log and not args.no_access_log,
          processes=args.processes, threads=not args.no_threads)
    return 0
