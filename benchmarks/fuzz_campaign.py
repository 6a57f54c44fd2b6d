"""A bounded fuzz campaign against kgalign (issue 10's "done when"): prints what it tried and what failed.

Run: ``nice -n 10 .venv/bin/python benchmarks/fuzz_campaign.py [--dsl 5000 --sparql 2000 --files 500]``.

- builds a workspace of the three demo ontologies, embedded with the default model and SAE;
- starts a real ``kgalign serve`` on 127.0.0.1 (with a write token, so updates are tried too) and
  a loopback listener every SERVICE / LOAD / import / entity in the inputs points at;
- sends DSL queries to ``/query`` (and some through the CLI) and SPARQL bodies to ``/sparql`` (GET,
  POST form, POST sparql-query, dataset parameters, updates with the token), plus hostile requests;
- loads damaged copies of files of every format with ``kgalign load`` in a worker process, and each
  named attack in its own process with its peak RSS.

Counts: inputs tried, crashes (a process killed by a signal), tracebacks (in any output or the
server log), HTTP 500s, hangs (no answer within 10 s), loopback connections, peak RSS per small file.
Asserts nothing; exits 1 when any failure count is not 0.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "fault"))

import hostile_inputs as hostile  # noqa: E402
from fault_support import KGALIGN, Loopback, Served, peak_rss_of  # noqa: E402

HANG = 10.0
TOKEN = "fuzz-write-token-0123456789"

WORKER = r"""
import json, resource, sys, traceback
from kgalign.api import Workspace
from kgalign.errors import KgalignError
ws = Workspace.open(sys.argv[1])
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
for line in sys.stdin:
    path = line.strip()
    out = {"path": path}
    try:
        rep = ws.load(path, name="fuzz")
        out["ok"] = rep.info.triples
    except KgalignError as e:
        out["error"] = str(e)
    except BaseException as e:
        out["traceback"] = traceback.format_exc()
    out["rss_kb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps(out), flush=True)
"""


class Tally:
    def __init__(self) -> None:
        self.tried = 0
        self.crashes = 0
        self.tracebacks = 0
        self.http_500 = 0
        self.hangs = 0
        self.examples: dict[str, list[str]] = {}

    def fail(self, kind: str, what: str) -> None:
        setattr(self, kind, getattr(self, kind) + 1)
        ex = self.examples.setdefault(kind, [])
        if len(ex) < 5:
            ex.append(what[:300])


def build_workspace(root: Path, keep: Path | None = None) -> Path:
    if keep is not None and (keep / "neural" / "run.json").exists():
        import shutil

        shutil.copytree(keep, root / "ws")
        return root / "ws"
    ws = root / "ws"
    files = sorted(str(p) for p in (REPO / "ontologies").glob("*") if p.suffix in (".ttl", ".jsonld"))
    subprocess.run([*KGALIGN, "-w", str(ws), "load", *files], check=True, capture_output=True)
    r = subprocess.run([*KGALIGN, "-w", str(ws), "embed", "--quiet"], capture_output=True, text=True)
    if r.returncode != 0:
        print("embed failed (the DSL runs against an unembedded workspace):", r.stderr.strip()[:300])
    elif keep is not None:
        import shutil

        shutil.copytree(ws, keep)
    return ws


def check_response(t: Tally, r, what: str) -> None:
    if r.status_code >= 500 and r.status_code not in (503, 504):
        t.fail("http_500", f"{r.status_code} {what}: {r.text[:200]}")
    if "Traceback" in r.text:
        t.fail("tracebacks", what)


def http_phase(t: Tally, served: Served, rng: random.Random, lb: Loopback, n_dsl: int, n_sparql: int) -> dict:
    import httpx

    client = httpx.Client(base_url=served.url, timeout=HANG)
    stats = {"dsl": 0, "sparql": 0, "updates": 0, "hostile": 0, "restarts": 0}

    def send(method: str, url: str, what: str, **kw) -> None:
        t.tried += 1
        if t.tried % 250 == 0:
            print(f"  {t.tried} tried; crashes {t.crashes}, 500s {t.http_500}, hangs {t.hangs}, "
                  f"loopback {lb.connections}", flush=True)
        try:
            r = client.request(method, url, **kw)
            check_response(t, r, what)
        except (httpx.InvalidURL, UnicodeEncodeError):  # the client cannot even send it: try as a POST form
            params = kw.get("params") or {}
            try:
                r = client.post(url, data=params)
                check_response(t, r, what + " (as POST)")
            except (httpx.InvalidURL, UnicodeEncodeError):
                stats["unsendable"] = stats.get("unsendable", 0) + 1
            except httpx.HTTPError:
                t.fail("hangs", what + " (as POST)")
        except httpx.TimeoutException:
            t.fail("hangs", what)
        except httpx.HTTPError as e:
            if not served.alive():
                t.fail("crashes", f"{what} (server exit {served.proc.returncode})")
                served.stop()
                served.start()
                stats["restarts"] += 1
            else:
                t.fail("hangs", f"{what}: {type(e).__name__}")

    for i in range(n_dsl):
        q = hostile.dsl_text(rng, lb.url)
        if i % 3 == 0:
            send("GET", "/query", f"DSL GET {q[:120]!r}", params={"query": q})
        else:
            body = json.dumps({"query": q}, ensure_ascii=rng.random() < 0.5).encode("utf-8", "surrogatepass")
            send("POST", "/query", f"DSL {q[:120]!r}", content=body, headers={"content-type": "application/json"})
        stats["dsl"] += 1
    for i in range(n_sparql):
        q = hostile.sparql_text(rng, lb.url)
        kind = i % 5
        enc = q.encode("utf-8", "surrogatepass")
        if kind == 0:
            send("GET", "/sparql", f"SPARQL GET {q[:120]!r}", params={"query": q})
        elif kind == 1:
            send("POST", "/sparql", f"SPARQL form {q[:120]!r}", data={"query": q})
        elif kind == 2:
            send("POST", "/sparql", f"SPARQL body {q[:120]!r}", content=enc,
                 headers={"content-type": "application/sparql-query"})
        elif kind == 3:
            send("GET", "/sparql", f"SPARQL dataset {q[:120]!r}",
                 params={"query": q, "default-graph-uri": "urn:kgalign:graph:tort-owl",
                         "named-graph-uri": "urn:kgalign:graph:negligence-skos"})
        else:
            u = hostile.sparql_update_text(rng, lb.url)
            send("POST", "/sparql", f"UPDATE {u[:120]!r}", content=u.encode(),
                 headers={"content-type": "application/sparql-update", "authorization": f"Bearer {TOKEN}"})
            stats["updates"] += 1
        stats["sparql"] += 1
    hostile_requests = [
        ("GET", "/features/" + "9" * 5000, {}),
        ("GET", "/features/99999999999", {}),
        ("GET", "/features/-1", {}),
        ("GET", "/symbols", {"params": {"limit": "9" * 5000}}),
        ("POST", "/query", {"content": b'{"query":' + b"[" * 5000 + b"]" * 5000 + b"}",
                            "headers": {"content-type": "application/json"}}),
        ("POST", "/query", {"content": b'{"query": "unstable symbols \\ud800"}',
                            "headers": {"content-type": "application/json"}}),
        ("POST", "/query", {"content": b'{"query": "\\udc00"}', "headers": {"content-type": "application/json"}}),
        ("POST", "/sparql", {"content": b"SELECT * { ?s ?p \"\xed\xa0\x80\" }",
                             "headers": {"content-type": "application/sparql-query"}}),
        ("GET", "/sparql?query=" + "a" * 200_000, {}),
        ("GET", "/symbols/" + "x" * 5000 + "/y", {}),
        ("POST", "/match", {"content": b"{" * 5000, "headers": {"content-type": "application/json"}}),
    ]
    for method, url, kw in hostile_requests:
        send(method, url, f"{method} {url[:80]}", **kw)
        stats["hostile"] += 1
    # Still answering afterwards?
    ok = False
    for _ in range(5):  # a loaded machine may need more than one 10 s try; a dead server never answers
        try:
            ok = client.get("/status", timeout=60).status_code == 200 and client.post(
                "/query", json={"query": "unstable symbols limit 1"}, timeout=60).status_code < 500
        except httpx.HTTPError:
            ok = False
        if ok:
            break
    stats["alive_after"] = served.alive()
    stats["answering_after"] = ok
    log = served.log_text()
    stats["server_log_tracebacks"] = log.count("Traceback")
    t.tracebacks += stats["server_log_tracebacks"]
    return stats


def cli_phase(t: Tally, ws: Path, rng: random.Random, lb: Loopback, n: int) -> None:
    for _ in range(n):
        q = hostile.dsl_text(rng, lb.url)
        t.tried += 1
        try:
            r = subprocess.run([*KGALIGN, "-w", str(ws), "query", q], capture_output=True, timeout=60,
                               text=True, errors="replace")
        except subprocess.TimeoutExpired:
            t.fail("hangs", f"CLI {q[:100]!r}")
            continue
        except (ValueError, OSError):  # a NUL byte, or an argument over 128 KB, cannot be passed
            continue
        if r.returncode < 0:
            t.fail("crashes", f"CLI {q[:100]!r} signal {-r.returncode}")
        if "Traceback" in r.stderr:
            t.fail("tracebacks", f"CLI {q[:100]!r}: {r.stderr[-200:]}")


def files_phase(t: Tally, root: Path, rng: random.Random, lb: Loopback, n: int) -> dict:
    d = root / "files"
    d.mkdir()
    paths = []
    for name, data in hostile.damaged_files(rng, n):
        p = d / name
        p.write_bytes(data)
        paths.append(p)
    worker_ws = root / "load-ws"
    results = {"loaded": 0, "refused": 0, "worker_peak_mb": 0.0}
    pending = list(paths)
    while pending:
        proc = subprocess.Popen([sys.executable, "-c", WORKER, str(worker_ws)], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        while pending:
            p = pending.pop(0)
            t.tried += 1
            t0 = time.perf_counter()
            proc.stdin.write(str(p) + "\n")
            proc.stdin.flush()
            line = proc.stdout.readline()
            if time.perf_counter() - t0 > HANG:
                t.fail("hangs", f"load {p.name} took {time.perf_counter() - t0:.1f}s")
            if not line:
                proc.wait()
                t.fail("crashes", f"load {p.name}: worker exit {proc.returncode}")
                break
            out = json.loads(line)
            if "traceback" in out:
                t.fail("tracebacks", f"load {p.name}: {out['traceback'][-300:]}")
            elif "ok" in out:
                results["loaded"] += 1
            else:
                results["refused"] += 1
            results["worker_peak_mb"] = max(results["worker_peak_mb"], out["rss_kb"] / 1024)
        else:
            proc.stdin.close()
            proc.wait()
    # Every named attack in its own process: time, peak RSS, one clean line.
    attacks = {}
    for name, data in hostile.named_attacks(lb.url).items():
        p = d / name
        p.write_bytes(data)
        t.tried += 1
        r = peak_rss_of(["-w", str(root / "attack-ws"), "load", str(p)], timeout=60)
        attacks[name] = {"bytes": len(data), "rc": r.rc, "seconds": round(r.seconds, 2), "cpu": round(r.cpu_seconds, 2),
                         "peak_rss_mb": round(r.max_rss_kb / 1024, 1), "message": r.err.strip()[-160:]}
        if r.rc < 0 and r.rc != -999:
            t.fail("crashes", f"attack {name}: signal {-r.rc}")
        if r.rc == -999 or r.cpu_seconds > HANG:  # CPU seconds: the wall clock of a shared machine says little
            t.fail("hangs", f"attack {name}: {r.cpu_seconds:.1f} CPU s ({r.seconds:.1f}s wall)")
        if "Traceback" in r.err:
            t.fail("tracebacks", f"attack {name}: {r.err[-300:]}")
    fifo = d / "fifo.ttl"
    os.mkfifo(fifo)
    t.tried += 1
    r = peak_rss_of(["-w", str(root / "attack-ws"), "load", str(fifo)], timeout=300)
    attacks["fifo.ttl"] = {"rc": r.rc, "seconds": round(r.seconds, 2), "cpu": round(r.cpu_seconds, 2),
                           "message": r.err.strip()[-160:]}
    if r.rc == -999 or r.cpu_seconds > HANG:
        t.fail("hangs", f"load of a FIFO ({r.seconds:.1f}s wall)")
    results["attacks"] = attacks
    return results


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dsl", type=int, default=5000)
    ap.add_argument("--cli-dsl", type=int, default=100)
    ap.add_argument("--sparql", type=int, default=2000)
    ap.add_argument("--files", type=int, default=500)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--attacks-only", action="store_true", help="with --files 0: run the named attacks only")
    ap.add_argument("--keep-workspace", type=Path, default=None,
                    help="reuse the embedded workspace kept here (built and kept there on the first run)")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    t = Tally()
    lb = Loopback()
    t0 = time.perf_counter()
    http = {"hostile": 0, "answering_after": None, "restarts": 0}
    files = {"loaded": 0, "refused": 0, "worker_peak_mb": 0.0, "attacks": {}}
    with tempfile.TemporaryDirectory(prefix="kgalign-fuzz-") as tmp:
        root = Path(tmp)
        if args.dsl or args.sparql or args.cli_dsl:
            ws = build_workspace(root, args.keep_workspace)
            print(f"workspace ready in {time.perf_counter() - t0:.0f}s", flush=True)
        if args.dsl or args.sparql:
            served = Served(ws, token=TOKEN, extra=["--query-timeout", "8"]).start()
            try:
                http = http_phase(t, served, rng, lb, args.dsl, args.sparql)
            finally:
                served.stop()
            print(f"HTTP phase done at {time.perf_counter() - t0:.0f}s: {http}", flush=True)
        if args.cli_dsl:
            cli_phase(t, ws, rng, lb, args.cli_dsl)
        if args.files or args.attacks_only:
            files = files_phase(t, root, rng, lb, args.files)
    lb.close()
    print()
    print(f"inputs tried:            {t.tried:,} ({args.dsl:,} DSL over HTTP + {args.cli_dsl} DSL by CLI, "
          f"{args.sparql:,} SPARQL bodies over HTTP, {args.files} damaged files + "
          f"{len(files['attacks'])} named attacks, {http['hostile']} hostile requests)")
    print(f"crashes:                 {t.crashes}")
    print(f"tracebacks:              {t.tracebacks}")
    print(f"HTTP 500s:               {t.http_500}")
    print(f"hangs > {HANG:.0f} s:            {t.hangs}")
    print(f"loopback connections:    {lb.connections}")
    print(f"server answering after:  {http['answering_after']} (restarts {http['restarts']})")
    print(f"damaged files:           {files['loaded']} loaded, {files['refused']} refused; "
          f"load worker peak RSS {files['worker_peak_mb']:.0f} MB")
    print("named attacks (bytes, exit code, wall s, CPU s, peak RSS MB, message):")
    for name, a in files["attacks"].items():
        print(f"  {name:28s} {a.get('bytes', 0):>9,} rc={a['rc']:<4} {a['seconds']:>6.2f}s {a.get('cpu', 0):>5.2f}s "
              f"{a.get('peak_rss_mb', 0):>7.1f} MB  {a['message'][:110]}")
    for kind, ex in t.examples.items():
        print(f"examples of {kind}:")
        for e in ex:
            print("   ", e)
    print(f"total time {time.perf_counter() - t0:.0f}s")
    failed = t.crashes + t.tracebacks + t.http_500 + t.hangs + lb.connections
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
