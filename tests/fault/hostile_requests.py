"""Hostile HTTP requests as raw bytes, and a client that sends them on a real socket.

Shared by benchmarks/fuzz_campaign.py (``--raw``) and the server tests: every case is a named
byte string (or a script of sends, pauses, half-closes and resets) with a class; :func:`exchange`
plays one against ``127.0.0.1:PORT`` and reads what comes back, bounded in time.
"""

from __future__ import annotations

import random
import socket
import struct
import time
from dataclasses import dataclass, field
from urllib.parse import quote

QUICK = "ASK { ?s ?p ?o }"
#: A query that runs for seconds on the demo graphs (a cross product, ~5 s quiet): trips a 2 s
#: --query-timeout, then ends on its own.
SLOW = ("SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . VALUES ?x { "
        + " ".join(str(i) for i in range(40)) + " } }")
#: One that runs for hours on them (three-way): a query the deadline answers but cannot stop.
RUNAWAY = ("SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . "
           "VALUES ?x { 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 } }")
TOKEN = "fuzz-write-token-0123456789"


@dataclass
class Case:
    """One hostile exchange. ``steps``: bytes to send, or ("pause", s), ("close",), ("shut_wr",), ("rst",),
    ("noread", s) — hold the connection ``s`` seconds without reading, then close."""

    name: str
    klass: str
    steps: list = field(default_factory=list)
    #: whether a whole answer is due (False: the server may also just wait or close)
    answer: bool = True
    #: how many answers are due (pipelining)
    want: int = 1


@dataclass
class Outcome:
    statuses: list[int]
    bodies: list[bytes]
    heads: list[bytes]
    closed: bool
    seconds: float
    error: str | None = None
    raw: bytes = b""

    @property
    def status(self) -> int | None:
        return self.statuses[0] if self.statuses else None


def _parse(raw: bytes) -> tuple[list[int], list[bytes], list[bytes], bool]:
    """The whole responses in ``raw``: statuses, bodies, heads, and whether the last one is complete."""
    statuses, bodies, heads = [], [], []
    rest = raw
    while rest:
        head, sep, after = rest.partition(b"\r\n\r\n")
        if not sep:
            return statuses, bodies, heads, False
        lines = head.split(b"\r\n")
        try:
            status = int(lines[0].split(b" ")[1])
        except (IndexError, ValueError):
            return statuses, bodies, heads, False
        length, chunked = None, False
        for line in lines[1:]:
            k, _, v = line.partition(b":")
            k = k.strip().lower()
            if k == b"content-length":
                length = int(v.strip())
            elif k == b"transfer-encoding" and b"chunked" in v.lower():
                chunked = True
        if chunked:
            body, pos = b"", 0
            while True:
                nl = after.find(b"\r\n", pos)
                if nl < 0:
                    return statuses, bodies, heads, False
                size = int(after[pos:nl].split(b";")[0], 16)
                if len(after) < nl + 2 + size + 2:
                    return statuses, bodies, heads, False
                body += after[nl + 2:nl + 2 + size]
                pos = nl + 2 + size + 2
                if size == 0:
                    break
            rest = after[pos:]
        else:
            length = length or 0
            if len(after) < length:
                return statuses, bodies, heads, False
            body, rest = after[:length], after[length:]
        statuses.append(status)
        bodies.append(body)
        heads.append(head)
    return statuses, bodies, heads, True


def exchange(port: int, case: Case, *, timeout: float = 10.0) -> Outcome:
    """Play ``case`` against 127.0.0.1:``port``; read until ``case.want`` answers, a close, or ``timeout``."""
    t0 = time.monotonic()
    raw = b""
    closed = False
    error = None
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        for step in case.steps:
            if isinstance(step, bytes):
                try:
                    s.sendall(step)
                except OSError as e:  # the server closed on us: read what it said
                    error = f"send: {type(e).__name__}"
                    break
            elif step[0] == "pause":
                time.sleep(step[1])
            elif step[0] == "close":  # leave at once, reading nothing
                s.close()
                return Outcome([], [], [], True, time.monotonic() - t0, "closed by us")
            elif step[0] == "shut_wr":
                s.shutdown(socket.SHUT_WR)
            elif step[0] == "rst":  # read a little of the answer, then reset the connection
                try:
                    s.recv(64)
                except OSError:
                    pass
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                s.close()
                return Outcome([], [], [], True, time.monotonic() - t0, "reset by us")
            elif step[0] == "noread":
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
                time.sleep(step[1])
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                s.close()
                return Outcome([], [], [], True, time.monotonic() - t0, "never read")
        deadline = t0 + timeout
        while True:
            statuses, _, _, complete = _parse(raw)
            if len(statuses) >= case.want and complete:
                break
            left = deadline - time.monotonic()
            if left <= 0:
                error = error or "timeout"
                break
            s.settimeout(left)
            try:
                chunk = s.recv(1 << 16)
            except TimeoutError:
                error = error or "timeout"
                break
            except OSError as e:
                error = f"recv: {type(e).__name__}"
                closed = True
                break
            if not chunk:
                closed = True
                break
            raw += chunk
    finally:
        s.close()
    statuses, bodies, heads, _ = _parse(raw)
    return Outcome(statuses, bodies, heads, closed, time.monotonic() - t0, error, raw)


# -- the cases --------------------------------------------------------------------------------------


def _get(qs: bytes | str, extra: bytes = b"", path: bytes = b"/sparql") -> bytes:
    if isinstance(qs, str):
        qs = qs.encode("utf-8", "surrogatepass")
    return b"GET " + path + b"?" + qs + b" HTTP/1.1\r\nHost: x\r\n" + extra + b"\r\n"


def _post(body: bytes, ctype: bytes = b"application/sparql-query", extra: bytes = b"",
          length: bytes | None = None) -> bytes:
    cl = b"Content-Length: " + (length if length is not None else str(len(body)).encode()) + b"\r\n"
    return b"POST /sparql HTTP/1.1\r\nHost: x\r\nContent-Type: " + ctype + b"\r\n" + cl + extra + b"\r\n" + body


def _form(query: str) -> bytes:
    return b"query=" + quote(query.encode("utf-8", "surrogatepass"), safe="").encode()


def _q(query: str) -> bytes:
    return b"query=" + quote(query.encode("utf-8", "surrogatepass"), safe="").encode()


def catalogue(max_body: int = 1 << 20) -> list[Case]:
    """The fixed hostile cases, by class."""
    ok = _get(_q(QUICK))
    cases: list[Case] = []

    def add(klass: str, name: str, *steps, answer: bool = True, want: int = 1) -> None:
        cases.append(Case(name, klass, list(steps), answer, want))

    # request lines
    for name, line in [
        ("garbage", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"),  # a TLS hello
        ("no-version", b"GET /sparql?" + _q(QUICK) + b"\r\nHost: x\r\n\r\n"),
        ("http-0.9", b"GET /sparql\r\n\r\n"),
        ("http-2.0", b"GET /sparql?" + _q(QUICK) + b" HTTP/2.0\r\nHost: x\r\n\r\n"),
        ("http-1.0", b"GET /sparql?" + _q(QUICK) + b" HTTP/1.0\r\n\r\n"),
        ("h2-preface", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"),
        ("lowercase-method", b"get /sparql?" + _q(QUICK) + b" HTTP/1.1\r\nHost: x\r\n\r\n"),
        ("unknown-method", b"BREW /sparql?" + _q(QUICK) + b" HTTP/1.1\r\nHost: x\r\n\r\n"),
        ("long-method", b"G" * 5000 + b" /sparql HTTP/1.1\r\nHost: x\r\n\r\n"),
        ("absolute-form", b"GET http://x/sparql?" + _q(QUICK) + b" HTTP/1.1\r\nHost: x\r\n\r\n"),
        ("asterisk", b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n"),
        ("tab-separated", b"GET\t/sparql?" + _q(QUICK) + b"\tHTTP/1.1\r\nHost: x\r\n\r\n"),
        ("double-space", b"GET  /sparql?" + _q(QUICK) + b" HTTP/1.1\r\nHost: x\r\n\r\n"),
        ("lf-only", b"GET /sparql?" + _q(QUICK) + b" HTTP/1.1\nHost: x\n\n"),
        ("nul-in-path", b"GET /spa\x00rql?" + _q(QUICK) + b" HTTP/1.1\r\nHost: x\r\n\r\n"),
        ("utf8-in-path", "GET /spärql HTTP/1.1\r\nHost: x\r\n\r\n".encode()),
        ("bytes-in-path", b"GET /sparql\xff\xfe HTTP/1.1\r\nHost: x\r\n\r\n"),
        ("fragment", b"GET /sparql?" + _q(QUICK) + b"#frag HTTP/1.1\r\nHost: x\r\n\r\n"),
        ("dot-segments", b"GET /x/../sparql?" + _q(QUICK) + b" HTTP/1.1\r\nHost: x\r\n\r\n"),
        ("encoded-path", b"GET /sp%61rql?" + _q(QUICK) + b" HTTP/1.1\r\nHost: x\r\n\r\n"),
        ("trailing-slash", b"GET /sparql/?" + _q(QUICK) + b" HTTP/1.1\r\nHost: x\r\n\r\n"),
        ("empty-lines-first", b"\r\n\r\n" + ok),
        ("only-crlf", b"\r\n\r\n\r\n\r\n"),
    ]:
        add("request-line", name, line, answer=name not in ("only-crlf",))
    # headers
    for name, extra in [
        ("huge-header-100k", b"X-Big: " + b"a" * 100_000 + b"\r\n"),
        ("huge-header-2m", b"X-Big: " + b"a" * 2_000_000 + b"\r\n"),
        ("many-headers", b"".join(b"X-H%d: v\r\n" % i for i in range(5000))),
        ("obs-fold", b"Accept: application/json,\r\n text/csv\r\n"),
        ("no-colon", b"Accept application/json\r\n"),
        ("space-before-colon", b"Accept : application/json\r\n"),
        ("nul-in-value", b"Accept: appli\x00cation/json\r\n"),
        ("latin1-in-value", b"Accept: text/csv; x=\xe9\r\n"),
        ("utf8-in-value", "Accept: text/csv; x=\u2603\r\n".encode()),
        ("bad-header-name", b"Acc(ept: text/csv\r\n"),
        ("accept-garbage", b"Accept: */*;q=abc, ;;;, text/csv;q=2\r\n"),
        ("accept-long", b"Accept: " + b"text/x%d, " * 1 + b"a/b, " * 3000 + b"\r\n"),
        ("accept-nothing", b"Accept: image/png\r\n"),
        ("expect-100", b"Expect: 100-continue\r\n"),
        ("connection-close", b"Connection: close\r\n"),
        ("connection-upgrade", b"Connection: Upgrade\r\nUpgrade: websocket\r\n"),
        ("upgrade-h2c", b"Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n"),
        ("content-length-on-get", b"Content-Length: 0\r\n"),
        ("origin", b"Origin: http://elsewhere.example\r\n"),
        ("x-forwarded", b"X-Forwarded-For: 1.2.3.4\r\nX-Forwarded-Proto: https\r\n"),
    ]:
        add("headers", name, _get(_q(QUICK), extra))
    add("headers", "no-host", b"GET /sparql?" + _q(QUICK) + b" HTTP/1.1\r\n\r\n")
    add("headers", "two-hosts", b"GET /sparql?" + _q(QUICK) + b" HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n")
    # bodies and their lengths
    q = _form(QUICK)
    form = b"application/x-www-form-urlencoded"
    for name, data in [
        ("form", _post(q, form)),
        ("sparql-query", _post(QUICK.encode())),
        ("cl-short", _post(q + b"&junk=1", form, length=str(len(q)).encode())),
        ("cl-negative", _post(q, form, length=b"-1")),
        ("cl-huge", _post(q, form, length=b"99999999999999999999")),
        ("cl-plus", _post(q, form, length=b"+" + str(len(q)).encode())),
        ("cl-list", _post(q, form, length=str(len(q)).encode() + b", " + str(len(q)).encode())),
        ("cl-hex", _post(q, form, length=hex(len(q)).encode())),
        ("cl-twice-differ", _post(q, form, extra=b"Content-Length: 3\r\n")),
        ("cl-and-te", _post(b"%x\r\n%s\r\n0\r\n\r\n" % (len(q), q), form, extra=b"Transfer-Encoding: chunked\r\n")),
        ("ctype-charset", _post(QUICK.encode(), b"application/sparql-query; charset=utf-8")),
        ("ctype-upper", _post(QUICK.encode(), b"APPLICATION/SPARQL-QUERY")),
        ("ctype-latin1", _post(QUICK.encode("latin-1"), b"application/sparql-query; charset=latin-1")),
        ("ctype-missing", b"POST /sparql HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s" % (len(q), q)),
        ("ctype-json", _post(b'{"query": "ASK {}"}', b"application/json")),
        ("ctype-multipart", _post(b"--b\r\n\r\nx\r\n--b--\r\n", b"multipart/form-data; boundary=b")),
        ("no-length", b"POST /sparql HTTP/1.1\r\nHost: x\r\nContent-Type: application/sparql-query\r\n\r\n"),
        ("empty-form", _post(b"", form)),
        ("form-query-empty", _post(b"query=", form)),
        ("form-both", _post(q + b"&update=CLEAR+ALL", form)),
        ("form-two-queries", _post(q + b"&" + q, form)),
        ("form-bad-percent", _post(b"query=ASK%zz%%{%", form)),
        ("form-invalid-utf8-pct", _post(b"query=ASK+%7B+%3Fs+%3Fp+%22%ff%fe%22+%7D", form)),
        ("form-surrogate-pct", _post(b"query=ASK+%7B+%3Fs+%3Fp+%22%ed%a0%80%22+%7D", form)),
        ("form-nul-pct", _post(b"query=ASK+%7B+%3Fs+%3Fp+%22%00%22+%7D", form)),
        ("form-raw-invalid-utf8", _post(b"query=ASK+{+?s+?p+\"\xff\"+}", form)),
        ("form-many-params", _post(b"&".join(b"p%d=%d" % (i, i) for i in range(20_000)) + b"&" + q, form)),
        ("body-invalid-utf8", _post(b"ASK { ?s ?p \"\xc3\x28\" }")),
        ("body-surrogate", _post(b"ASK { ?s ?p \"\xed\xa0\x80\" }")),
        ("body-nul", _post(b"ASK { ?s ?p \"\x00\" }")),
        ("body-bom", _post(b"\xef\xbb\xbf" + QUICK.encode())),
        ("body-utf16", _post(QUICK.encode("utf-16"))),
        ("body-over-limit", _post(b"ASK {} #" + b"x" * (max_body + 10))),
        ("body-over-limit-unsent", _post(b"", length=str(max_body * 4).encode()) + b"x" * 1000),
        ("chunked", b"POST /sparql HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                    b"Transfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n" % (len(q), q)),
        ("chunked-ext-trailer", b"POST /sparql HTTP/1.1\r\nHost: x\r\nContent-Type: application/sparql-query\r\n"
                                b"Transfer-Encoding: chunked\r\n\r\n%x;ext=1\r\n%s\r\n0\r\nX-T: 1\r\n\r\n"
                                % (len(QUICK), QUICK.encode())),
        ("chunked-bad-size", b"POST /sparql HTTP/1.1\r\nHost: x\r\nContent-Type: application/sparql-query\r\n"
                             b"Transfer-Encoding: chunked\r\n\r\nzz\r\nASK {}\r\n0\r\n\r\n"),
        ("chunked-huge-size", b"POST /sparql HTTP/1.1\r\nHost: x\r\nContent-Type: application/sparql-query\r\n"
                              b"Transfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\nASK {}\r\n0\r\n\r\n"),
        ("chunked-over-limit", b"POST /sparql HTTP/1.1\r\nHost: x\r\nContent-Type: application/sparql-query\r\n"
                               b"Transfer-Encoding: chunked\r\n\r\n" + b"10000\r\n" + b"x" * 0x10000 + b"\r\n"
                               + (b"10000\r\n" + b"y" * 0x10000 + b"\r\n") * (max_body // 0x10000 + 1)
                               + b"0\r\n\r\n"),
        ("te-gzip", b"POST /sparql HTTP/1.1\r\nHost: x\r\nContent-Type: application/sparql-query\r\n"
                    b"Transfer-Encoding: gzip\r\n\r\nASK {}"),
    ]:
        add("body", name, data, answer=name not in ("no-length", "cl-huge", "te-gzip"))
    # query strings
    for name, qs in [
        ("qs-invalid-utf8-raw", b"query=ASK+{+?s+?p+\"\xff\xfe\"+}"),
        ("qs-invalid-utf8-pct", b"query=ASK+%7B+%3Fs+%3Fp+%22%ff%fe%22+%7D"),
        ("qs-surrogate-pct", b"query=ASK+%7B+%3Fs+%3Fp+%22%ed%a0%80%22+%7D"),
        ("qs-nul-pct", b"query=ASK+%7B+%3Fs+%3Fp+%22%00%22+%7D"),
        ("qs-bad-percent", b"query=ASK%zz%%{%"),
        ("qs-empty", b""),
        ("qs-only-query", b"query"),
        ("qs-query-empty", b"query="),
        ("qs-two-queries", _q(QUICK) + b"&" + _q(QUICK)),
        ("qs-query-and-update", _q(QUICK) + b"&update=CLEAR+ALL"),
        ("qs-update-only", b"update=CLEAR+ALL"),
        ("qs-graph-garbage", _q(QUICK) + b"&default-graph-uri=%00%ff&named-graph-uri=<<>>"),
        ("qs-format-garbage", _q(QUICK) + b"&format=%ff%00&output=x"),
        ("qs-format-csv", _q(QUICK.replace("ASK", "SELECT * WHERE").replace("}", "} LIMIT 2")) + b"&format=csv"),
        ("qs-using-graph", _q(QUICK) + b"&using-graph-uri=urn:x"),
        ("qs-many-params", b"&".join(b"p%d=%d" % (i, i) for i in range(3000)) + b"&" + _q(QUICK)),
        ("qs-60k", _q("ASK { ?s ?p ?o } #" + "x" * 60_000)),
        ("qs-70k", _q("ASK { ?s ?p ?o } #" + "x" * 70_000)),
        ("qs-1m", _q("ASK { ?s ?p ?o } #" + "x" * 1_000_000)),
    ]:
        add("query-string", name, _get(qs))
    # the queries themselves
    for name, text in [
        ("deep-braces", "SELECT * WHERE " + "{" * 3000 + " ?s ?p ?o " + "}" * 3000),
        ("deep-parens", "SELECT * WHERE { FILTER(" + "(" * 3000 + "1" + ")" * 3000 + ") }"),
        ("deep-unclosed", "SELECT * WHERE " + "{" * 20000),
        ("many-unions", "SELECT * WHERE { " + " UNION ".join(["{ ?s ?p ?o }"] * 2000) + " } LIMIT 1"),
        ("huge-values", "SELECT * WHERE { VALUES ?x { " + " ".join(str(i) for i in range(40_000)) + " } } LIMIT 1"),
        ("lone-surrogate", "ASK { ?s ?p \"\ud800\" }"),
        ("nul", "ASK { ?s ?p \"\x00\" }"),
        ("bidi-and-zero-width", "ASK { ?s ?p \"\u202e\u200b\ufeff\" }"),
        ("service-loopback", "SELECT * WHERE { SERVICE <http://127.0.0.1:9/> { ?s ?p ?o } }"),
        ("load-in-query", "LOAD <http://127.0.0.1:9/x>"),
        ("regex-blowup", "SELECT * WHERE { ?s ?p ?o FILTER(REGEX(STR(?o), \"(a+)+$\")) } LIMIT 5"),
        ("timeout", SLOW),
        ("big-string", "SELECT (CONCAT(" + ",".join(["\"" + "x" * 1000 + "\""] * 500) + ") AS ?x) WHERE {}"),
        ("describe-all", "DESCRIBE ?s WHERE { ?s ?p ?o }"),
        ("kga-unknown-fn", "PREFIX kga: <urn:kgalign:fn:> SELECT * WHERE { BIND(kga:nope(1) AS ?x) }"),
        ("syntax-error", "SELECT * WHERE { ?s ?p }"),
        ("not-sparql", "\u2603" * 1000),
    ]:
        add("query", name + "-get", _get(_q(text)))
        add("query", name + "-post", _post(text.encode("utf-8", "surrogatepass")))
    # connections: pipelining, partial heads, slow clients, half-closes, resets
    handed = _post(b"INSERT DATA { GRAPH <urn:x:fuzz> { <urn:x:a> <urn:x:b> <urn:x:c> } }",
                   b"application/sparql-update", extra=b"Authorization: Bearer wrong-token-000000\r\n")
    add("connection", "pipeline-10", ok * 10, want=10)
    add("connection", "pipeline-mixed", ok + _post(q, form) + handed + ok + _get(b"") + ok, want=6)
    add("connection", "pipeline-then-garbage", ok + ok + b"GARBAGE\r\n\r\n", want=3)
    add("connection", "pipeline-200", ok * 200, want=200)
    add("connection", "partial-head-close", ok[:20], ("close",), answer=False)
    add("connection", "partial-head-shut-wr", ok[:20], ("shut_wr",), answer=False)
    add("connection", "head-then-shut-wr", ok, ("shut_wr",))
    add("connection", "partial-body-shut-wr", _post(q, form)[:-3], ("shut_wr",), answer=False)
    add("connection", "cl-long-shut-wr", _post(q, form, length=str(len(q) + 50).encode()), ("shut_wr",), answer=False)
    add("connection", "slow-head", ok[:10], ("pause", 1.5), ok[10:])
    add("connection", "slow-body", _post(q, form)[:-4], ("pause", 1.5), _post(q, form)[-4:])
    add("connection", "slowloris-bytes", *[x for i in range(0, 40) for x in (ok[i:i + 1], ("pause", 0.1))],
        ok[40:])
    add("connection", "idle-then-request", ("pause", 2.0), ok)
    add("connection", "keepalive-gap", ok, ("pause", 2.0), ok, want=2)
    add("connection", "connect-close", ("close",), answer=False)
    add("connection", "connect-silent", answer=False)
    add("connection", "rst-mid-answer", _get(_q("DESCRIBE ?s WHERE { ?s ?p ?o }")), ("rst",), answer=False)
    add("connection", "rst-mid-timeout", _get(_q(SLOW)), ("pause", 0.3), ("rst",), answer=False)
    add("connection", "never-read", _get(_q("CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o . ?a ?b ?c } LIMIT 200000"))
        * 4, ("noread", 3.0), answer=False)
    add("connection", "shut-wr-timeout", _get(_q(SLOW)), ("shut_wr",))
    return cases


def random_case(rng: random.Random, i: int) -> Case:
    """A random mutation of a plain request: bytes flipped, inserted, cut or repeated in the head or body."""
    base = rng.choice([
        _get(_q(QUICK)), _post(_form(QUICK), b"application/x-www-form-urlencoded"), _post(QUICK.encode()),
        _get(_q("SELECT ?s WHERE { ?s ?p ?o } ORDER BY ?s LIMIT 3")),
    ])
    data = bytearray(base)
    for _ in range(rng.randint(1, 4)):
        op = rng.random()
        pos = rng.randrange(len(data) + 1)
        if op < 0.3 and data:
            data[min(pos, len(data) - 1)] = rng.choice([0, 9, 10, 13, 32, 37, 63, 127, 128, 0xC3, 0xED, 0xFF,
                                                        rng.randrange(256)])
        elif op < 0.5:
            data[pos:pos] = rng.choice([b"\r\n", b"%", b"%ff", b"%ed%a0%80", b"\x00", b"{" * 50, b"\xff",
                                        b"Transfer-Encoding: chunked\r\n", b"Content-Length: 5\r\n", b"#", b" "])
        elif op < 0.7:
            del data[pos:pos + rng.randint(1, 8)]
        else:
            a = rng.randrange(len(data))
            data[pos:pos] = data[a:a + rng.randint(1, 40)] * rng.randint(1, 50)
    return Case(f"random-{i}", "random", [bytes(data)], answer=False)
