"""A bounded load test of ``kgalign serve`` on loopback: throughput and latency of /sparql and /query.

Builds a workspace from the demo ontologies (and two OAEI Conference ontologies when
../shared is there), embeds one small graph so the neural questions have a space to
ask, starts ``kgalign serve`` read-only in its own process, and drives it with an async
httpx client at 1, 8 and 32 concurrent clients. Each run stops after ``--requests``
requests or ``--seconds`` seconds, whichever comes first. Any non-200 answer is an
error; the script exits 1 if there was one.

    .venv/bin/python benchmarks/http_load.py                      # build, serve, measure
    .venv/bin/python benchmarks/http_load.py --requests 2000 --seconds 20
    .venv/bin/python benchmarks/http_load.py --url http://127.0.0.1:8000   # an already running server
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
ONTOLOGIES = REPO / "ontologies"
OAEI = REPO.parent / "shared" / "data" / "oaei-conference"
EMBEDDED = "negligence-skos"
CONCURRENCY = (1, 8, 32)


@dataclass
class Run:
    endpoint: str
    clients: int
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def row(self) -> str:
        lat = sorted(self.latencies)
        n = len(lat)
        p50 = statistics.median(lat) * 1000 if n else float("nan")
        p99 = lat[min(n - 1, int(0.99 * n))] * 1000 if n else float("nan")
        rps = n / self.seconds if self.seconds else 0.0
        return (f"{self.endpoint:<8} {self.clients:>7} {n:>8} {len(self.errors):>6} {rps:>9.1f} "
                f"{p50:>8.1f} {p99:>8.1f}")


def build_workspace(root: Path, sae_dir: Path | None) -> Path:
    """Load the demo ontologies (+ cmt and confOf) and embed one small graph."""
    from kgalign.api import Workspace
    from kgalign.index.build import default_sae_dir

    ws = Workspace.open(root / "ws")
    files = sorted(ONTOLOGIES.glob("*.ttl")) + [ONTOLOGIES / "liability-kg.jsonld"]
    if (OAEI / "cmt.owl").is_file():
        files += [OAEI / "cmt.owl", OAEI / "confOf.owl"]
    for f in files:
        ws.load(f)
    if sae_dir is None and not (default_sae_dir() / "cfg.json").is_file():
        from kgalign.neural.sae.io import save_sae
        from kgalign.neural.sae.registry import build_sae, make_config

        sae_dir = root / "tiny-sae"
        save_sae(build_sae(make_config("topk", d_in=384, d_sae=512, k=16), seed=0), sae_dir)
        print(f"(no shipped SAE: embedding with an untrained TopK SAE at {sae_dir}; latency figures are unaffected)")
    if sae_dir is not None:
        ws.config.sae = str(sae_dir)
        ws.save_config()
    texts = [t for s in ws.symbols(EMBEDDED) for t in (s.label, *s.definitions[:1])]
    t0 = time.perf_counter()
    ws.embed([EMBEDDED], corpus=texts, corpus_name=f"{EMBEDDED} labels", quiet=True)
    print(f"workspace: {len(ws.graph_names())} graphs, {len(ws.symbols())} symbols; "
          f"embedded {EMBEDDED} in {time.perf_counter() - t0:.1f}s")
    iris = [s.iri for s in ws.symbols(EMBEDDED, "concept")][:4]
    ws.close()
    (root / "iris.txt").write_text("\n".join(iris))
    return root / "ws"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(ws: Path, port: int, workers: int) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k != "KGALIGN_WRITE_TOKEN"}
    cmd = [sys.executable, "-m", "kgalign", "-w", str(ws), "serve", "--port", str(port), "--no-access-log",
           "--log-level", "warning", "--workers", str(workers), "--max-pending", "1024"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited: {proc.stderr.read()}")
        try:
            httpx.get(f"http://127.0.0.1:{port}/status", timeout=1)
            return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("the server did not start within 120 s")


def workloads(iris: list[str]) -> dict[str, list[dict]]:
    """Request bodies per endpoint, used round-robin."""
    sparql = [
        "SELECT ?c ?label WHERE { GRAPH <urn:kgalign:graph:tort-owl> { ?c a owl:Class ; rdfs:label ?label } } "
        "ORDER BY ?label LIMIT 50",
        "SELECT ?g (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g",
        "ASK { ?s a skos:Concept }",
        f"SELECT ?s ?l WHERE {{ GRAPH <urn:kgalign:graph:{EMBEDDED}> {{ ?s skos:prefLabel ?l }} }} LIMIT 100",
    ]
    dsl = ["unstable symbols limit 10", "features with no symbolic counterpart limit 10"]
    dsl += [f"symbols similar to <{iri}> limit 10" for iri in iris[:2]]
    dsl += [f"features of <{iri}>" for iri in iris[2:4]]
    return {
        "sparql": [{"method": "POST", "url": "/sparql", "data": {"query": q},
                    "headers": {"Accept": "application/sparql-results+json"}} for q in sparql],
        "dsl": [{"method": "POST", "url": "/query", "json": {"query": q}} for q in dsl],
    }


async def measure(base: str, endpoint: str, requests: list[dict], clients: int, max_requests: int,
                  max_seconds: float) -> Run:
    run = Run(endpoint, clients)
    counter = itertools.count()
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as client:
        for req in requests:  # warm up (symbol table, concept space, caches)
            await client.request(**req)
        t0 = time.perf_counter()
        deadline = t0 + max_seconds

        async def worker() -> None:
            while True:
                i = next(counter)
                if i >= max_requests or time.perf_counter() > deadline:
                    return
                req = requests[i % len(requests)]
                s = time.perf_counter()
                try:
                    r = await client.request(**req)
                    if r.status_code != 200:
                        run.errors.append(f"{r.status_code}: {r.text[:200]}")
                        continue
                except httpx.HTTPError as e:
                    run.errors.append(f"{type(e).__name__}: {e}")
                    continue
                run.latencies.append(time.perf_counter() - s)

        await asyncio.gather(*(worker() for _ in range(clients)))
        run.seconds = time.perf_counter() - t0
    return run


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--url", help="measure this running server instead of starting one")
    ap.add_argument("--workspace", type=Path, help="serve this (embedded) workspace instead of building one")
    ap.add_argument("--sae", type=Path, help="SAE directory for the built workspace (default: shipped, else tiny)")
    ap.add_argument("--requests", type=int, default=600, help="at most this many requests per run (default 600)")
    ap.add_argument("--seconds", type=float, default=10.0, help="at most this long per run (default 10)")
    ap.add_argument("--workers", type=int, default=8, help="server worker threads (default 8)")
    ap.add_argument("--endpoints", nargs="+", default=["sparql", "dsl"], choices=["sparql", "dsl"])
    args = ap.parse_args(argv)

    proc = None
    tmp = None
    iris: list[str] = []
    if args.url:
        base = args.url.rstrip("/")
        iris = [b["c"]["value"] for b in httpx.get(f"{base}/sparql", params={
            "query": "SELECT ?c WHERE { ?c a skos:Concept } LIMIT 4"}).json()["results"]["bindings"]]
    else:
        tmp = tempfile.TemporaryDirectory(prefix="kgalign-load-")
        root = Path(tmp.name)
        ws = args.workspace or build_workspace(root, args.sae)
        if (root / "iris.txt").exists():
            iris = (root / "iris.txt").read_text().split()
        port = free_port()
        proc = start_server(ws, port, args.workers)
        base = f"http://127.0.0.1:{port}"
        if not iris:
            iris = [b["c"]["value"] for b in httpx.get(f"{base}/sparql", params={
                "query": "SELECT ?c WHERE { ?c a skos:Concept } LIMIT 4"}).json()["results"]["bindings"]]
    status = httpx.get(f"{base}/status").json()
    print(f"server: {base}  kgalign {status['kgalign']}  graphs {status['graphs']}  embedded {status['embedded']}  "
          f"workers {status['limits']['workers']}  CPUs {os.cpu_count()}")
    print(f"bounds: {args.requests} requests or {args.seconds:g} s per run\n")
    print(f"{'endpoint':<8} {'clients':>7} {'requests':>8} {'errors':>6} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8}")
    total_errors = 0
    try:
        loads = workloads(iris)
        for endpoint in args.endpoints:
            for clients in CONCURRENCY:
                run = asyncio.run(measure(base, endpoint, loads[endpoint], clients, args.requests, args.seconds))
                print(run.row(), flush=True)
                total_errors += len(run.errors)
                for e in run.errors[:3]:
                    print(f"    error: {e}")
    finally:
        if proc is not None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                proc.kill()
        if tmp is not None:
            tmp.cleanup()
    print(f"\n{'no errors' if total_errors == 0 else f'{total_errors} ERRORS'}")
    return 0 if total_errors == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
