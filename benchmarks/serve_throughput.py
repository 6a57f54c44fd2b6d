"""SPARQL throughput of ``kgalign serve`` against Oxigraph server's own, same data, same queries, one run.

Builds WordNet 3.0 noun synsets as SKOS (``store_scale.build_wordnet``, ``--limit`` synsets), loads
them once into an Oxigraph server (through kgalign's remote load, so the server holds exactly what a
kgalign workspace holds; the server runs with ``--union-default-graph``) and once into an embedded
kgalign workspace, then drives, at 1, 8 and 32 concurrent clients:

- Oxigraph server's ``/query`` directly (the baseline);
- ``kgalign serve`` over the embedded workspace (``/sparql``);
- ``kgalign serve`` over a workspace whose store is that Oxigraph server (``--remote``).

The client is threads with keep-alive ``http.client`` connections posting the query form
(``application/x-www-form-urlencoded``, ``Accept: application/sparql-results+json``). The query mix
(curator queries, fixed seed): a concept's label and definition, its narrower concepts with labels,
concepts by exact label or alt label, its siblings counted per parent (a join + GROUP BY), and an ASK.
Every request must answer 200; before timing, each query's results from each system are compared
(same solutions). The client's own CPU per request is printed, so one can see it is not the limit.

    nice -n 10 .venv/bin/python benchmarks/serve_throughput.py                 # 20,000 synsets
    nice -n 10 .venv/bin/python benchmarks/serve_throughput.py --remote --processes 2 --rounds 7

Measured 2026-12-03, session 3 (2 cores shared with two other engineers' work, load average 4-10 during the
runs; 20,000 synsets, 115,829 triples; 200 queries; 1,000 POSTs per run, median of 5 rounds; the two routes
side by side with ``--processes 2 --variant 'loop route (--no-threads)=--no-threads' --variant 'loop route
--processes 2=--no-threads --processes 2'``), req/s and ratio to Oxigraph server, last run (load 4-9):

    clients  Oxigraph server  kgalign serve   --processes 2   --no-threads (loop)   --no-threads --processes 2
          1    2727           2168 (0.80x)    2212 (0.81x)    1438 (0.53x)          1280 (0.47x)
          8    3956           2040 (0.52x)    2419 (0.61x)    1917 (0.48x)          2656 (0.67x)
         32    3150           1654 (0.53x)    2158 (0.69x)    1391 (0.44x)          1893 (0.60x)

Four runs of this code: kgalign serve (per-connection threads, the default) 0.63-0.80x / 0.49-0.60x /
0.53-0.67x at 1 / 8 / 32 clients; --processes 2 (three runs) 0.75-0.81x / 0.56-0.70x / 0.69-0.73x; the loop
route (--no-threads, what serve ran before) 0.33-0.53x / 0.38-0.56x / 0.44-0.70x; --remote (kgalign serve
over the Oxigraph server, thread route) 0.27x / 0.32x / 0.38x (last session 0.15-0.25x / 0.17-0.25x / 0.28-0.36x).
Server CPU per request: Oxigraph 0.14-0.26 ms,
kgalign serve 0.27-0.29 ms at 1 client and 0.28-0.54 ms at 8-32, the loop route 0.39-0.76 ms. A bare
30-line Python thread-per-connection server calling pyoxigraph's query + serialize costs 0.19-0.21 ms per
request on the same queries (kgalign's execute_query instead: 0.22-0.27 ms), so the thread route is close
to the floor of "Python + pyoxigraph"; the rest of the gap at 8-32 clients is CPU: on 2 busy cores the
client's ~0.17 ms plus the server's CPU per request set the rate. The "Where the time goes" breakdown at the end
shows the thread route's own work (no socket) beside the loop route's in-process call.

Measured 2026-12-03, session 6, on a QUIET machine (load 0.0-1.1: nothing else running), same code as above:

    clients  Oxigraph server  kgalign serve   --processes 2    (run 1, 3 rounds)
          1    2409           1935 (0.80x)    1920 (0.80x)
          8    2907           1930 (0.66x)    3242 (1.12x)
         32    2711           1835 (0.68x)    2613 (0.96x)
    clients  Oxigraph server  kgalign serve   --processes 2    (run 2, 5 rounds)
          1    1908           1139 (0.60x)    1581 (0.83x)
          8    2769           1677 (0.61x)    2356 (0.85x)
         32    2215           1277 (0.58x)    1825 (0.82x)

So ``kgalign serve --processes 2`` (a read-only server) meets the 0.8x target at 1, 8 and 32 clients when
the machine is quiet; one process does not (server CPU per request 0.32-0.63 ms against Oxigraph's
0.18-0.30: one interpreter lock, whose hand-offs grow with the clients). ``--workers 2`` (two queries at once
per process) gave 0.75-0.79x / 0.82x in one run, 0.78x / 0.61x / 0.57x in the next: noise, not adopted.
A py-spy sample of the one-process server at 8 clients holds the interpreter lock only ~22% of the time
(pyoxigraph and the kernel have the rest): the cost is the threads' hand-offs, not Python work.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from store_scale import SKOS, build_wordnet, run_step, wait_http  # noqa: E402

from kgalign.store.managed import free_port, oxigraph_binary  # noqa: E402

JSON_RESULTS = "application/sparql-results+json"


def query_mix(nt: Path, n: int, seed: int = 0) -> list[str]:
    """``n`` concepts' worth of curator queries (five kinds, interleaved)."""
    rng = random.Random(seed)
    ids, labels = [], []
    for line in open(nt, encoding="utf-8"):
        if f"<{SKOS}prefLabel>" in line:
            s, _, rest = line.partition(" ")
            ids.append(s)
            labels.append(rest.split(" ", 1)[1].rsplit(" ", 1)[0])
    picks = rng.sample(range(len(ids)), n)
    p = f"PREFIX skos: <{SKOS}>\n"
    out = []
    for i in picks:
        s, lab = ids[i], labels[i]
        out += [
            p + f"SELECT ?l ?d WHERE {{ {s} skos:prefLabel ?l OPTIONAL {{ {s} skos:definition ?d }} }}",
            p + f"SELECT ?c ?l WHERE {{ ?c skos:broader {s} ; skos:prefLabel ?l }} ORDER BY ?l LIMIT 20",
            p + f"SELECT ?c ?d WHERE {{ ?c skos:prefLabel|skos:altLabel {lab} OPTIONAL {{ ?c skos:definition ?d }} }}",
            p + f"SELECT ?p (COUNT(?c) AS ?n) WHERE {{ {s} skos:broader ?p . ?c skos:broader ?p }} GROUP BY ?p",
            p + f"ASK {{ {s} skos:broader ?p }}",
        ]
    return out


def post(conn: http.client.HTTPConnection, path: str, query: str) -> tuple[int, bytes]:
    body = urllib.parse.urlencode({"query": query})
    conn.request("POST", path, body=body, headers={
        "Content-Type": "application/x-www-form-urlencoded", "Accept": JSON_RESULTS})
    resp = conn.getresponse()
    return resp.status, resp.read()


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds the processes (and their threads) have used so far."""
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def throughput(url: str, queries: list[str], clients: int, requests: int,
               pids: list[int] | None = None) -> tuple[float, float, float]:
    """(requests/s, client CPU ms per request, server CPU ms per request) over ``requests`` requests
    on ``clients`` keep-alive threads."""
    parts = urllib.parse.urlsplit(url)
    errors: list[str] = []
    start = threading.Barrier(clients + 1)

    def worker(k: int) -> None:
        conn = http.client.HTTPConnection(parts.netloc, timeout=120)
        start.wait()
        for i in range(k, requests, clients):
            status, data = post(conn, parts.path, queries[i % len(queries)])
            if status != 200:
                errors.append(f"HTTP {status}: {data[:200]!r}")
        conn.close()

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    r0 = resource.getrusage(resource.RUSAGE_SELF)
    s0 = cpu_seconds(pids) if pids else 0.0
    start.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    secs = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    s1 = cpu_seconds(pids) if pids else 0.0
    if errors:
        sys.exit(f"{url}: {len(errors)} failed requests ({errors[0]})")
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    return requests / secs, 1000 * cpu / requests, 1000 * (s1 - s0) / requests


def solutions(data: bytes) -> object:
    """A comparable form of a SPARQL JSON result (sorted rows; ASK as a bool)."""
    doc = json.loads(data)
    if "boolean" in doc:
        return doc["boolean"]
    rows = [tuple(sorted((k, v["type"], v["value"], v.get("datatype", ""), v.get("xml:lang", ""))
                         for k, v in b.items())) for b in doc["results"]["bindings"]]
    return sorted(rows)


def check_same(urls: dict[str, str], queries: list[str]) -> None:
    """Every system gives the same solutions for every query (ORDER BY ... LIMIT ties aside: compared as sets)."""
    conns = {k: http.client.HTTPConnection(urllib.parse.urlsplit(u).netloc, timeout=120) for k, u in urls.items()}
    for q in queries:
        answers = {}
        for k, u in urls.items():
            status, data = post(conns[k], urllib.parse.urlsplit(u).path, q)
            if status != 200:
                sys.exit(f"{k}: HTTP {status} for {q!r}: {data[:300]!r}")
            answers[k] = solutions(data)
        first = next(iter(answers.values()))
        for k, a in answers.items():
            if a != first:
                sys.exit(f"{k} answers {q!r} differently from {next(iter(answers))}")
    for c in conns.values():
        c.close()


def breakdown(ws_path: Path, queries: list[str], rounds: int = 5) -> None:
    """Where one request's time goes, in this process (no network): ms per query, best of ``rounds``."""
    import asyncio

    import pyoxigraph as ox

    from kgalign.server import limits
    from kgalign.server.app import create_app
    from kgalign.server.config import ServerConfig
    from kgalign.server.sparql import execute_query, parse_parts

    app = create_app(ServerConfig(workspace=ws_path))
    ws = app.state.ws
    raw = ox.Store.read_only(str(ws_path / "store"))
    json_mt = ox.QueryResultsFormat.JSON
    bodies = [urllib.parse.urlencode({"query": q}).encode() for q in queries]

    async def call(body: bytes) -> None:
        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
                 "scheme": "http", "path": "/sparql", "raw_path": b"/sparql", "query_string": b"", "root_path": "",
                 "headers": [(b"host", b"x"), (b"content-type", b"application/x-www-form-urlencoded"),
                             (b"accept", JSON_RESULTS.encode()), (b"content-length", str(len(body)).encode())],
                 "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80), "state": {}}
        messages = [{"type": "http.request", "body": body, "more_body": False}]
        out: list[dict] = []

        async def receive() -> dict:
            return messages.pop() if messages else {"type": "http.disconnect"}

        async def send(m: dict) -> None:
            out.append(m)

        await app(scope, receive, send)
        assert out[0]["status"] == 200, out

    def best(fn) -> float:
        fn()
        times = []
        for _ in range(rounds):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        return 1000 * min(times) / len(queries)

    def asgi() -> None:
        async def go() -> None:
            for b in bodies:
                await call(b)
        asyncio.run(go())

    steps = {
        "pyoxigraph: Store.query + serialize (JSON)": lambda: [
            raw.query(q, use_default_graph_as_union=True).serialize(format=json_mt) for q in queries],
        "kgalign store: + guard, hidden graphs, prefixes": lambda: [
            ws.sparql_serialized(q, lambda kind: JSON_RESULTS) for q in queries],
        "kgalign thread route's work (form parsing + execute_query; no socket)": lambda: [
            execute_query(ws, parse_parts("POST", "application/x-www-form-urlencoded", "", b), JSON_RESULTS,
                          app.state.sparql_functions.get(ws)) for b in bodies],
        "kgalign app in-process (loop route: direct route + worker thread)": asgi,
    }
    figures = {k: best(f) for k, f in steps.items()}
    original = limits.Runner.run

    async def inline(self, fn, *args, timeout, what="the query"):  # noqa: ANN001
        return fn(*args)

    limits.Runner.run = inline  # type: ignore[method-assign]
    try:
        figures["kgalign app in-process, loop route without its worker thread (comparison only)"] = best(asgi)
    finally:
        limits.Runner.run = original  # type: ignore[method-assign]
    print("Where the time goes (this process, no network; ms per request, best of "
          f"{rounds} passes over the {len(queries)} queries):")
    for k, v in figures.items():
        print(f"  {k:<78} {v:6.3f} ms")


def start_oxigraph(binary: str, location: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen([binary, "serve", "--location", str(location), "--bind", f"127.0.0.1:{port}",
                             "--union-default-graph"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    wait_http(base + "/query?query=ASK%7B%7D")
    return proc, base


def start_kgalign(ws: Path, extra: list[str], src: str | None = None) -> tuple[subprocess.Popen, str, list[int]]:
    """``kgalign serve`` over ``ws`` (from the source tree ``src`` when given): process, URL, its pids."""
    port = free_port()
    env = {**os.environ, "PYTHONPATH": src} if src else None
    proc = subprocess.Popen([sys.executable, "-m", "kgalign", "-w", str(ws), "serve", "--port", str(port), *extra],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=src or REPO, env=env)
    base = f"http://127.0.0.1:{port}"
    wait_http(base + "/sparql?query=ASK%7B%7D")
    children = subprocess.run(["ps", "-o", "pid=", "--ppid", str(proc.pid)], capture_output=True, text=True).stdout
    return proc, base + "/sparql", [proc.pid, *map(int, children.split())]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--limit", type=int, default=20000, help="noun synsets to load (default 20,000)")
    ap.add_argument("--requests", type=int, default=600, help="requests per run (default 600)")
    ap.add_argument("--rounds", type=int, default=5, help="rounds per concurrency level; the median is shown")
    ap.add_argument("--clients", default="1,8,32", help="concurrency levels (default 1,8,32)")
    ap.add_argument("--concepts", type=int, default=40, help="concepts in the query mix (5 queries each)")
    ap.add_argument("--remote", action="store_true", help="also kgalign serve over the Oxigraph server")
    ap.add_argument("--processes", type=int, default=1, help="also kgalign serve --processes N (N > 1)")
    ap.add_argument("--before", default=None, metavar="SRC",
                    help="also kgalign serve from another source tree (e.g. a worktree of the commit before)")
    ap.add_argument("--serve-args", default="", help="extra 'kgalign serve' options, e.g. '--workers 4'")
    ap.add_argument("--variant", action="append", default=[], metavar="LABEL=ARGS",
                    help="also kgalign serve with these options, e.g. 'loop route=--no-threads' (repeatable)")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    args = ap.parse_args()
    binary = oxigraph_binary()
    if binary is None:
        sys.exit("the Oxigraph server CLI is not installed (pip install oxigraph)")
    tmp = Path(tempfile.mkdtemp(prefix="kga-serve-"))
    procs: list[subprocess.Popen] = []
    try:
        nt = tmp / "wordnet-nouns.nt"
        n = build_wordnet(nt, args.limit)
        n_triples = sum(1 for _ in open(nt, encoding="utf-8"))
        queries = query_mix(nt, args.concepts)
        load = ("from kgalign.api import Workspace\nws = Workspace.open({ws!r})\n"
                "rep = ws.load({nt!r}, name='wordnet')\nout = {{'triples': rep.info.triples}}\nws.close()")
        run_step(load.format(ws=str(tmp / "ws-embedded"), nt=str(nt)))
        proc, ox_base = start_oxigraph(binary, tmp / "ox")
        procs.append(proc)
        subprocess.run([sys.executable, "-m", "kgalign", "-w", str(tmp / "ws-remote"), "init",
                        "--sparql-endpoint", ox_base + "/query", "--update-endpoint", ox_base + "/update",
                        "--graph-store", ox_base + "/store?no_transaction"],
                       check=True, stdout=subprocess.DEVNULL, cwd=REPO)
        run_step(load.format(ws=str(tmp / "ws-remote"), nt=str(nt)))
        extra = args.serve_args.split()
        urls = {"oxigraph server": ox_base + "/query"}
        pids = {"oxigraph server": [procs[0].pid]}
        variants = [("kgalign serve (embedded)", tmp / "ws-embedded", extra, None)]
        if args.processes > 1:
            variants.append((f"kgalign serve --processes {args.processes}", tmp / "ws-embedded",
                             [*extra, "--processes", str(args.processes)], None))
        if args.remote:
            variants.append(("kgalign serve (over the server)", tmp / "ws-remote", extra, None))
        for v in args.variant:
            label, _, opts = v.partition("=")
            variants.append((f"kgalign serve, {label}", tmp / "ws-embedded", [*extra, *opts.split()], None))
        if args.before:
            variants.append(("kgalign serve, before (embedded)", tmp / "ws-embedded", [], args.before))
        for label, ws, opts, src in variants:
            proc, urls[label], pids[label] = start_kgalign(ws, opts, src)
            procs.append(proc)
        print(f"WordNet 3.0 nouns as SKOS: {n:,} concepts, {n_triples:,} triples; {len(queries)} queries "
              f"(label+definition, narrower, by label, siblings per parent, ASK); {args.requests} POSTs per run")
        check_same(urls, queries)
        for k in urls:  # warm both: caches, first-query costs
            throughput(urls[k], queries, 4, min(len(queries), args.requests))
        print(f"req/s, median of {args.rounds} rounds (systems alternate within a round); CPU ms per request "
              "of the server process (for kgalign over the server: its own process only) and of the client")
        print(f"{'clients':>7} | " + " | ".join(f"{k:>40}" for k in urls) + " | ratios to the server")
        for clients in (int(c) for c in args.clients.split(",")):
            runs: dict[str, list[tuple[float, float, float]]] = {k: [] for k in urls}
            for _ in range(args.rounds):
                for k, u in urls.items():
                    runs[k].append(throughput(u, queries, clients, args.requests, pids[k]))
            res = {k: tuple(statistics.median(r[i] for r in v) for i in range(3)) for k, v in runs.items()}
            base = res["oxigraph server"][0]
            cells = " | ".join(f"{qps:7.0f} req/s (server {scpu:.2f}, client {cpu:.2f})"
                               for qps, cpu, scpu in res.values())
            ratios = " ".join(f"{res[k][0] / base:.2f}x" for k in urls if k != "oxigraph server")
            print(f"{clients:>7} | {cells} | {ratios}", flush=True)
        print("(target: kgalign serve >= 0.8x the server at 1, 8 and 32 clients)")
        for p in procs[1:]:  # the breakdown opens the embedded store itself
            p.terminate()
            p.wait(10)
        breakdown(tmp / "ws-embedded", queries)
    finally:
        for p in procs:
            p.terminate()
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
        if args.keep:
            print(f"(work files in {tmp})")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
