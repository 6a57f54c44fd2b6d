"""A bounded fuzz campaign against kgalign (issue 10's "done when"): prints what it tried and what failed.

Run: ``nice -n 10 .venv/bin/python benchmarks/fuzz_campaign.py [--dsl 5000 --sparql 2000 --files 500]``.

- builds a workspace of the three demo ontologies, embedded with the default model and SAE;
- starts a real ``kgalign serve`` on 127.0.0.1 (with a write token, so updates are tried too) and
  a loopback listener every SERVICE / LOAD / import / entity in the inputs points at;
- sends DSL queries to ``/query`` (and some through the CLI) and SPARQL bodies to ``/sparql`` (GET,
  POST form, POST sparql-query, dataset parameters, updates with the token), plus hostile requests;
- loads damaged copies of files of every format with ``kgalign load`` in a worker process, and each
  named attack in its own process with its peak RSS;
- with ``--raw N``: speaks raw bytes on real sockets to two real ``kgalign serve`` processes, the
  thread route (the default) and ``--no-threads``: the hostile requests of
  tests/fault/hostile_requests.py (malformed request lines, odd headers, Content-Length lies, chunked
  bodies, bad UTF-8 and percent-encoding, NULs, lone surrogates, huge and deep queries, time-outs,
  pipelining, partial heads, slow clients, half-closes, resets, clients that never read) and N random
  mutations of plain requests, then more connections at once than the thread route has threads. After
  every input a plain query must still be answered on each route, and both routes must answer alike
  (status class; the same body for a 2xx, the same error name for a JSON error).

Raw-socket run only: ``nice -n 10 .venv/bin/python benchmarks/fuzz_campaign.py --dsl 0 --sparql 0
--cli-dsl 0 --files 0 --raw 300``.

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
import hostile_requests as raw_requests  # noqa: E402
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
        #: raw phase: a plain query not answered after a hostile input; the routes answering
        #: differently; an error answer that is not JSON naming what went wrong; threads left over
        self.liveness = 0
        self.route_mismatch = 0
        self.unclear = 0
        self.thread_leaks = 0
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


ROUTES = {"threads": [], "no-threads": ["--no-threads"]}
LIVE = raw_requests.Case("liveness", "liveness", [raw_requests._get(raw_requests._q(raw_requests.QUICK))])
TRUE = b'{"head":{},"boolean":true}'


def _threads_of(pid: int) -> int:
    try:
        return len(os.listdir(f"/proc/{pid}/task"))
    except OSError:
        return -1


def _summary(o, port: int) -> tuple:
    """What both routes must agree on: the first status's class, and the body of a 2xx (its own
    port left out: the service description names it) or the error name."""
    if not o.statuses:
        return (None,)
    status, body = o.statuses[0], o.bodies[0]
    if 200 <= status < 300:
        return (2, body.replace(b":%d/" % port, b":PORT/"))
    try:
        return (status // 100, json.loads(body).get("error"))
    except (ValueError, AttributeError):
        return (status // 100, "not JSON")


def raw_phase(t: Tally, root: Path, rng: random.Random, n_random: int, n_conns: int = 150) -> dict:
    """Hostile raw bytes against both routes; returns per-route figures."""
    ws = build_plain_workspace(root)
    served = {}
    for route, extra in ROUTES.items():
        copy = root / f"raw-{route}"
        import shutil

        shutil.copytree(ws, copy / "ws")
        served[route] = Served(copy / "ws", token=TOKEN, extra=[*extra, "--query-timeout", "2"]).start()
    stats = {r: {"inputs": 0, "answered": 0, "liveness_ok": 0, "threads_start": _threads_of(s.proc.pid)}
             for r, s in served.items()}
    classes: dict[str, int] = {}
    cases = raw_requests.catalogue() + [raw_requests.random_case(rng, i) for i in range(n_random)]
    try:
        for n, case in enumerate(cases, 1):
            classes[case.klass] = classes.get(case.klass, 0) + 1
            outcomes = {}
            for route, s in served.items():
                t.tried += 1
                stats[route]["inputs"] += 1
                what = f"{route} {case.klass}/{case.name}"
                try:
                    o = raw_requests.exchange(s.port, case, timeout=HANG if case.answer else 3.0)
                except OSError as e:  # cannot even connect
                    o = raw_requests.Outcome([], [], [], True, 0.0, f"connect: {e}")
                outcomes[route] = o
                if not s.alive():
                    t.fail("crashes", f"{what} (server exit {s.proc.returncode})")
                    s.stop()
                    s.start()
                    continue
                if o.statuses:
                    stats[route]["answered"] += 1
                if case.answer and (len(o.statuses) < case.want):
                    t.fail("hangs", f"{what}: {len(o.statuses)} of {case.want} answers ({o.error})")
                for status, body in zip(o.statuses, o.bodies, strict=True):
                    if status >= 500 and status not in (503, 504):
                        t.fail("http_500", f"{what}: {status} {body[:200]!r}")
                    if status >= 400:
                        try:
                            message = json.loads(body).get("message")
                        except (ValueError, AttributeError):
                            message = None
                        if not message:
                            t.fail("unclear", f"{what}: {status} {body[:200]!r}")
                if b"Traceback" in o.raw:
                    t.fail("tracebacks", what)
                live = raw_requests.exchange(s.port, LIVE, timeout=HANG)
                if live.status == 200 and live.bodies[0] == TRUE:
                    stats[route]["liveness_ok"] += 1
                else:
                    t.fail("liveness", f"{what}: then {live.statuses} {live.error}")
            a, b = (_summary(o, served[r].port) for r, o in outcomes.items())
            if a != b and (case.answer or (a[0] is not None and b[0] is not None)):
                t.fail("route_mismatch", f"{case.klass}/{case.name}: threads {str(a)[:120]} vs no-threads {str(b)[:120]}")
            if n % 50 == 0:
                print(f"  raw {n}/{len(cases)}; hangs {t.hangs}, 500s {t.http_500}, liveness {t.liveness}, "
                      f"mismatches {t.route_mismatch}", flush=True)
        for route, s in served.items():  # more connections at once than the thread route has threads
            stats[route]["concurrent"] = _many_connections(t, s.port, n_conns, route)
            classes["concurrent"] = classes.get("concurrent", 0) + 1
        # Kept-alive connections close after 5 s idle, timed-out queries end a few seconds later:
        # then no more threads than at the start and the worker pool (up to --workers, 8) remain.
        deadline = time.monotonic() + 60
        while True:
            time.sleep(2)
            ends = {route: _threads_of(s.proc.pid) for route, s in served.items()}
            if all(ends[r] <= stats[r]["threads_start"] + 8 for r in ends) or time.monotonic() > deadline:
                break
        for route in served:
            stats[route]["threads_end"] = ends[route]
            if stats[route]["threads_end"] > stats[route]["threads_start"] + 8:
                t.fail("thread_leaks", f"{route}: {stats[route]['threads_start']} threads at the start, "
                                       f"{stats[route]['threads_end']} at the end")
    finally:
        for route, s in served.items():
            t0 = time.perf_counter()
            s.stop()
            stats[route]["stop_seconds"] = round(time.perf_counter() - t0, 2)
            log = s.log_text()
            stats[route]["log_tracebacks"] = log.count("Traceback")
            if stats[route]["log_tracebacks"]:
                t.tracebacks += stats[route]["log_tracebacks"]
                i = log.index("Traceback")
                t.examples.setdefault("tracebacks", []).append(f"{route} log: {log[i:i + 600]}")
    stats["classes"] = classes
    for route, extra in ROUTES.items():
        stats[route]["runaway"] = _runaway_queries(root, ws, route, extra)
    return stats


def _runaway_queries(root: Path, ws: Path, route: str, extra: list[str], workers: int = 2) -> dict:
    """A known limit, measured: ``workers`` queries that time out but run on for hours (a thread
    cannot be killed) hold every query slot until they end; what does a plain query get meanwhile,
    and how does the server stop (uvicorn re-raises SIGTERM after its shutdown: rc -15)?"""
    import shutil
    import threading

    copy = root / f"runaway-{route}"
    shutil.copytree(ws, copy / "ws")
    s = Served(copy / "ws", extra=[*extra, "--query-timeout", "1", "--workers", str(workers)]).start()
    slow = raw_requests.Case("runaway", "runaway", [raw_requests._get(raw_requests._q(raw_requests.RUNAWAY))])
    got: list = []
    threads = [threading.Thread(target=lambda: got.append(raw_requests.exchange(s.port, slow).status))
               for _ in range(workers)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    live = raw_requests.exchange(s.port, LIVE, timeout=HANG)
    t0 = time.perf_counter()
    s.stop()
    return {"runaway_statuses": got, "then_plain_query": live.status,
            "stop_seconds": round(time.perf_counter() - t0, 1), "exit": s.proc.returncode}


def _many_connections(t: Tally, port: int, n: int, route: str) -> dict:
    """``n`` connections at once, half of them silent, half sending a plain query: every query answered?"""
    import socket
    import threading

    silent = []
    for _ in range(n // 2):
        try:
            silent.append(socket.create_connection(("127.0.0.1", port), timeout=HANG))
        except OSError:
            break
    answered = []

    def one() -> None:
        o = raw_requests.exchange(port, LIVE, timeout=3 * HANG)
        answered.append(o.status == 200 and o.bodies[0] == TRUE)

    threads = [threading.Thread(target=one) for _ in range(n - n // 2)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    for s in silent:
        s.close()
    ok = sum(answered)
    t.tried += len(threads)
    if ok < len(threads):
        t.fail("hangs", f"{route}: {len(threads) - ok} of {len(threads)} concurrent queries unanswered "
                        f"beside {len(silent)} silent connections")
    return {"queries": len(threads), "answered": ok, "silent": len(silent)}


def build_plain_workspace(root: Path) -> Path:
    """The three demo ontologies, loaded, not embedded (the raw phase needs SPARQL only)."""
    ws = root / "plain-ws"
    files = sorted(str(p) for p in (REPO / "ontologies").glob("*") if p.suffix in (".ttl", ".jsonld"))
    subprocess.run([*KGALIGN, "-w", str(ws), "load", *files], check=True, capture_output=True)
    return ws


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
    ap.add_argument("--raw", type=int, default=0,
                    help="raw-socket phase against both routes: the hostile catalogue plus this many random mutations")
    ap.add_argument("--route", choices=list(ROUTES), default="threads",
                    help="the serve route the httpx phase (--dsl, --sparql) runs against (default: threads)")
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
    raw: dict = {}
    files = {"loaded": 0, "refused": 0, "worker_peak_mb": 0.0, "attacks": {}}
    with tempfile.TemporaryDirectory(prefix="kgalign-fuzz-") as tmp:
        root = Path(tmp)
        if args.dsl or args.sparql or args.cli_dsl:
            ws = build_workspace(root, args.keep_workspace)
            print(f"workspace ready in {time.perf_counter() - t0:.0f}s", flush=True)
        if args.dsl or args.sparql:
            served = Served(ws, token=TOKEN, extra=[*ROUTES[args.route], "--query-timeout", "8"]).start()
            try:
                http = http_phase(t, served, rng, lb, args.dsl, args.sparql)
            finally:
                served.stop()
            print(f"HTTP phase done at {time.perf_counter() - t0:.0f}s: {http}", flush=True)
        if args.cli_dsl:
            cli_phase(t, ws, rng, lb, args.cli_dsl)
        if args.files or args.attacks_only:
            files = files_phase(t, root, rng, lb, args.files)
        if args.raw:
            raw = raw_phase(t, root, rng, args.raw)
            print(f"raw phase done at {time.perf_counter() - t0:.0f}s", flush=True)
    lb.close()
    print()
    print(f"inputs tried:            {t.tried:,} ({args.dsl:,} DSL over HTTP + {args.cli_dsl} DSL by CLI, "
          f"{args.sparql:,} SPARQL bodies over HTTP, {args.files} damaged files + "
          f"{len(files['attacks'])} named attacks, {http['hostile']} hostile requests)")
    print(f"crashes:                 {t.crashes}")
    print(f"tracebacks:              {t.tracebacks}")
    print(f"HTTP 500s:               {t.http_500}")
    print(f"hangs > {HANG:.0f} s:            {t.hangs}")
    if raw:
        print(f"raw inputs by class:     {raw['classes']}")
        for route in ROUTES:
            r = raw[route]
            print(f"  {route:11s} inputs {r['inputs']}, answered {r['answered']}, liveness checks passed "
                  f"{r['liveness_ok']}/{r['inputs']}, concurrent {r.get('concurrent')}, threads "
                  f"{r['threads_start']} -> {r.get('threads_end')}, log tracebacks {r['log_tracebacks']}, "
                  f"stop {r['stop_seconds']} s")
            print(f"  {'':11s} runaway queries (known limit): {r['runaway']}")
        print(f"liveness failures:       {t.liveness}")
        print(f"route mismatches:        {t.route_mismatch}")
        print(f"unclear error answers:   {t.unclear}")
        print(f"thread leaks:            {t.thread_leaks}")
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
    failed = (t.crashes + t.tracebacks + t.http_500 + t.hangs + lb.connections + t.liveness + t.route_mismatch
              + t.unclear + t.thread_leaks)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
