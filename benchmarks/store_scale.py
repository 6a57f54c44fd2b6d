"""Store scale: WordNet 3.0 nouns as SKOS on both backends, as ratios against Oxigraph's own tools.

Builds ``wordnet-nouns.nt`` (every noun synset a ``skos:Concept`` with prefLabel, altLabels,
definition and broader links, from Debian's wordnet-base) and measures, each step in its own
process (so peak memory is that step's):

1. ``oxigraph load`` of the file into an empty server directory (the server's own bulk load);
2. ``kgalign load`` of the file into the embedded store and into a running Oxigraph server
   (``kgalign init --sparql-endpoint``): time, peak memory, and the ratio to (1);
3. reading every symbol (``ws.symbols()``) on both backends: time and peak memory;
4. SPARQL throughput at 1, 8 and 32 clients (loopback, a fixed number of requests each) of the
   same queries against the Oxigraph server directly and through ``kgalign serve`` (over the
   embedded store, and over the server).

Usage: ``nice -n 10 python benchmarks/store_scale.py [--limit N] [--requests N] [--no-throughput]``. The concept-space
questions (``symbols similar to``, ``sharing features with``) and the report need an embed, which
is CPU-bound and not measured here at full size (see the notes in the module's closing lines).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.store.oxigraph_server import free_port, oxigraph_binary, start_server  # noqa: E402

SKOS = "http://www.w3.org/2004/02/skos/core#"
WN = "http://wordnet-rdf.princeton.edu/wn30/"


def _lit(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"@en'


def build_wordnet(out: Path, limit: int | None) -> int:
    """WordNet 3.0 noun synsets as SKOS N-Triples; returns the number of concepts."""
    src = Path("/usr/share/wordnet/data.noun")
    if not src.exists():
        sys.exit("WordNet 3.0 is not installed (Debian wordnet-base)")
    n = 0
    with open(src, encoding="latin-1") as f, open(out, "w", encoding="utf-8") as w:
        w.write(f"<{WN}nouns> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <{SKOS}ConceptScheme> .\n")
        for line in f:
            if line.startswith("  "):
                continue
            head, _, gloss = line.partition(" | ")
            parts = head.split()
            offset, n_words = parts[0], int(parts[3], 16)
            words = [parts[4 + 2 * i].replace("_", " ") for i in range(n_words)]
            rest = parts[4 + 2 * n_words:]
            n_ptr = int(rest[0])
            s = f"<{WN}{offset}-n>"
            w.write(f"{s} <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <{SKOS}Concept> .\n")
            w.write(f"{s} <{SKOS}inScheme> <{WN}nouns> .\n")
            w.write(f"{s} <{SKOS}prefLabel> {_lit(words[0])} .\n")
            for a in dict.fromkeys(words[1:]):
                if a != words[0]:
                    w.write(f"{s} <{SKOS}altLabel> {_lit(a)} .\n")
            if gloss.strip():
                w.write(f"{s} <{SKOS}definition> {_lit(gloss.strip())} .\n")
            for i in range(n_ptr):
                sym, target, pos = rest[1 + 4 * i], rest[2 + 4 * i], rest[3 + 4 * i]
                if sym in ("@", "@i") and pos == "n":
                    w.write(f"{s} <{SKOS}broader> <{WN}{target}-n> .\n")
            n += 1
            if limit and n >= limit:
                break
    return n


def run_step(code: str, env: dict | None = None) -> dict:
    """Run ``code`` (which prints one JSON line) in a fresh process; add its peak RSS."""
    wrapper = (
        "import json, resource, time\nt0 = time.perf_counter()\n" + code +
        "\nout['seconds'] = round(time.perf_counter() - t0, 2)"
        "\nout['peak_mib'] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)"
        "\nprint(json.dumps(out))"
    )
    r = subprocess.run([sys.executable, "-c", wrapper], capture_output=True, text=True, env={**os.environ, **(env or {})},
                       cwd=REPO)
    if r.returncode != 0:
        sys.exit(f"step failed:\n{r.stderr[-2000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def timed_cmd(args: list[str]) -> tuple[float, int]:
    """Wall seconds and peak RSS (MiB) of a command."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.perf_counter()
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    secs = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return secs, round(max(peak, before) / 1024)


def throughput(url: str, queries: list[str], clients: int, requests: int) -> float:
    """Queries per second over ``requests`` requests split across ``clients`` threads (keep-alive)."""
    import http.client

    parts = urllib.parse.urlsplit(url)
    errors: list[str] = []

    def worker(k: int) -> None:
        conn = http.client.HTTPConnection(parts.netloc, timeout=60)
        for i in range(k, requests, clients):
            body = urllib.parse.urlencode({"query": queries[i % len(queries)]})
            conn.request("POST", parts.path, body=body, headers={
                "Content-Type": "application/x-www-form-urlencoded", "Accept": "application/sparql-results+json"})
            resp = conn.getresponse()
            resp.read()
            if resp.status != 200:
                errors.append(f"HTTP {resp.status}")
        conn.close()

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        sys.exit(f"{url}: {len(errors)} failed requests ({errors[0]})")
    return requests / (time.perf_counter() - t0)


def wait_http(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2).read()
            return
        except OSError:
            time.sleep(0.2)
    sys.exit(f"{url} did not come up")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--limit", type=int, default=None, help="only the first N noun synsets (default all 82,115)")
    ap.add_argument("--requests", type=int, default=400, help="requests per throughput run (default 400)")
    ap.add_argument("--no-throughput", action="store_true", help="stop after the symbols (steps 1-3)")
    ap.add_argument("--embed", type=int, default=0, metavar="N",
                    help="instead: embed the first N concepts on both backends (time, symbols/s, peak memory)")
    args = ap.parse_args()
    if args.embed:
        return embed_figures(args.embed)
    binary = oxigraph_binary()
    if binary is None:
        sys.exit("the Oxigraph server CLI is not installed (pip install oxigraph)")
    tmp = Path(tempfile.mkdtemp(prefix="kga-scale-"))
    nt = tmp / "wordnet-nouns.nt"
    n = build_wordnet(nt, args.limit)
    n_triples = sum(1 for _ in open(nt, encoding="utf-8"))
    print(f"WordNet 3.0 nouns as SKOS: {n:,} concepts, {n_triples:,} triples, {nt.stat().st_size / 2**20:.0f} MiB")

    # 1. The server's own bulk load.
    base_s, base_mib = timed_cmd([binary, "load", "--location", str(tmp / "ox-bulk"), "--file", str(nt)])
    print(f"  oxigraph load (server's bulk load)   {base_s:7.2f} s  {n_triples / base_s:10,.0f} triples/s  peak {base_mib} MiB")

    # 2. kgalign load, embedded and remote.
    emb_ws = tmp / "ws-embedded"
    load = "from kgalign.api import Workspace\nws = Workspace.open({ws!r})\nrep = ws.load({nt!r}, name='wordnet')\nout = {{'triples': rep.info.triples}}"
    emb = run_step(load.format(ws=str(emb_ws), nt=str(nt)))
    print(f"  kgalign load, embedded               {emb['seconds']:7.2f} s  {n_triples / emb['seconds']:10,.0f} triples/s  "
          f"peak {emb['peak_mib']} MiB  ratio {base_s / emb['seconds']:.2f}")
    server = start_server(tmp / "ox-server", binary)
    try:
        cfg = server.store_config
        rem_ws = tmp / "ws-remote"
        subprocess.run([sys.executable, "-m", "kgalign", "-w", str(rem_ws), "init", "--sparql-endpoint", cfg["query_endpoint"],
                        "--update-endpoint", cfg["update_endpoint"], "--graph-store", cfg["graph_store"]],
                       check=True, stdout=subprocess.DEVNULL, cwd=REPO)
        rem = run_step(load.format(ws=str(rem_ws), nt=str(nt)))
        print(f"  kgalign load, Oxigraph server        {rem['seconds']:7.2f} s  {n_triples / rem['seconds']:10,.0f} triples/s  "
              f"peak {rem['peak_mib']} MiB  ratio {base_s / rem['seconds']:.2f} (target >= 0.5)")

        # 3. Symbols.
        syms = "from kgalign.api import Workspace\nws = Workspace.open({ws!r}, read_only=True)\nout = {{'symbols': len(ws.symbols())}}"
        # The store read alone (read_symbols, streamed): its time and the peak it adds to the process.
        read = ("import resource\nfrom kgalign.api import Workspace\nfrom kgalign.symbolic.symbols import read_symbols\n"
                "ws = Workspace.open({ws!r}, read_only=True)\nws.store.graphs()\n"
                "base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024\nt = time.perf_counter()\n"
                "n = len(read_symbols(ws.store, 'wordnet'))\nout = {{'symbols': n, 'read_s': round(time.perf_counter() - t, 2), "
                "'read_peak_mib': round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - base)}}")
        for label, ws in (("embedded", emb_ws), ("Oxigraph server", rem_ws)):
            r = run_step(syms.format(ws=str(ws)))
            print(f"  symbols, {label:<27} {r['seconds']:7.2f} s  {r['symbols']:,} symbols  peak {r['peak_mib']} MiB")
            r = run_step(read.format(ws=str(ws)))
            print(f"    the store read alone      {r['read_s']:7.2f} s  (read_symbols, streamed; adds {r['read_peak_mib']} MiB to the process)")

        if args.no_throughput:
            return
        # 4. SPARQL throughput: the server directly, and kgalign serve over each backend.
        rng = random.Random(0)
        ids = [line.split()[0] for line in open(nt, encoding="utf-8") if f"<{SKOS}prefLabel>" in line]
        picks = rng.sample(ids, 50)
        queries = [f"SELECT ?l ?d WHERE {{ {s} <{SKOS}prefLabel> ?l OPTIONAL {{ {s} <{SKOS}definition> ?d }} }}" for s in picks]
        queries += [f"SELECT ?c ?l WHERE {{ ?c <{SKOS}broader> {s} ; <{SKOS}prefLabel> ?l }} LIMIT 20" for s in picks]
        direct = server.base + "/query"
        serves = []
        for label, ws in (("kgalign serve, embedded", emb_ws), ("kgalign serve, server", rem_ws)):
            port = free_port()
            proc = subprocess.Popen([sys.executable, "-m", "kgalign", "-w", str(ws), "serve", "--port", str(port),
                                     "--workers", "8", "--max-pending", "256"],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=REPO)
            wait_http(f"http://127.0.0.1:{port}/sparql?query=ASK%7B%7D")
            serves.append((label, f"http://127.0.0.1:{port}/sparql", proc))
        try:
            for clients in (1, 8, 32):
                base_qps = throughput(direct, queries, clients, args.requests)
                line = f"  SPARQL {clients:>2} clients: Oxigraph server {base_qps:7.0f} q/s"
                for label, url, _ in serves:
                    qps = throughput(url, queries, clients, args.requests)
                    line += f" | {label} {qps:6.0f} q/s ({qps / base_qps:.2f}x)"
                print(line + "  (target >= 0.8x)")
        finally:
            for _, _, proc in serves:
                proc.terminate()
                proc.wait(10)
    finally:
        server.stop()
    print(f"(work files in {tmp}; remove them when done)")


def embed_figures(n: int) -> None:
    """Embed N WordNet concepts with the default model and SAE on each backend (neural layer local)."""
    tmp = Path(tempfile.mkdtemp(prefix="kga-embed-"))
    nt = tmp / "wordnet-nouns.nt"
    build_wordnet(nt, n)
    step = (
        "from kgalign.api import Workspace\nws = Workspace.open({ws!r})\nws.load({nt!r}, name='wordnet')\n"
        "t = time.perf_counter()\nrep = ws.embed(quiet=True)\nsecs = time.perf_counter() - t\n"
        "out = {{'symbols': rep.n_symbols, 'embed_s': round(secs, 1), 'per_s': round(rep.n_symbols / secs, 1)}}\n"
        "ws.close()"
    )
    for label, env in (("embedded", {}), ("Oxigraph server", {"KGALIGN_STORE_BACKEND": "oxigraph-server"})):
        r = run_step(step.format(ws=str(tmp / label.replace(" ", "-")), nt=str(nt)), env)
        print(f"  embed {r['symbols']:,} WordNet concepts, {label:<16} {r['embed_s']:7.1f} s  {r['per_s']:6.1f} symbols/s  "
              f"peak {r['peak_mib']} MiB (load + embed process)")


if __name__ == "__main__":
    main()
