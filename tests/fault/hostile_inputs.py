"""Hostile inputs shared by the fault tests and benchmarks/fuzz_campaign.py.

Damaged copies of real files of every format, the named attacks of issue 10, and
generators of DSL and SPARQL texts (plain functions over a ``random.Random``, and
hypothesis strategies built from them).
"""

from __future__ import annotations

import random
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SAMPLES = sorted(
    [*(REPO / "ontologies").glob("*.ttl"), *(REPO / "ontologies").glob("*.jsonld"),
     *[p for p in (REPO / "tests" / "symbolic" / "data").iterdir() if p.is_file()]]
)

RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"


def named_attacks(loopback_url: str = "http://127.0.0.1:9") -> dict[str, bytes]:
    """Small files that each tried to crash, hang, fetch or blow up kgalign (file name -> bytes)."""
    lol = "".join(
        f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">\n' for i in range(1, 10)
    )
    return {
        "billion-laughs.rdf": (
            '<?xml version="1.0"?>\n<!DOCTYPE r [\n<!ENTITY lol0 "lol">\n' + lol + ']>\n'
            f'<rdf:RDF xmlns:rdf="{RDF}" xmlns:e="http://e/"><rdf:Description rdf:about="http://e/a">'
            "<e:p>&lol3;</e:p></rdf:Description></rdf:RDF>\n"
        ).encode(),
        "external-entity.rdf": (
            '<?xml version="1.0"?>\n<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/hostname">]>\n'
            f'<rdf:RDF xmlns:rdf="{RDF}" xmlns:e="http://e/"><rdf:Description rdf:about="http://e/a">'
            "<e:p>&x;</e:p></rdf:Description></rdf:RDF>\n"
        ).encode(),
        "external-entity-http.rdf": (
            f'<?xml version="1.0"?>\n<!DOCTYPE r [<!ENTITY x SYSTEM "{loopback_url}/e">]>\n'
            f'<rdf:RDF xmlns:rdf="{RDF}" xmlns:e="http://e/"><rdf:Description rdf:about="http://e/a">'
            "<e:p>&x;</e:p></rdf:Description></rdf:RDF>\n"
        ).encode(),
        "parameter-entity.rdf": (
            f'<?xml version="1.0"?>\n<!DOCTYPE r [<!ENTITY % p SYSTEM "{loopback_url}/p"> %p;]>\n'
            f'<rdf:RDF xmlns:rdf="{RDF}"/>\n'
        ).encode(),
        "import-file.owx": (
            b'<?xml version="1.0"?>\n<Ontology xmlns="http://www.w3.org/2002/07/owl#" ontologyIRI="http://e/o">\n'
            b"<Import>file:///etc/hostname</Import>\n<Declaration><Class IRI=\"http://e/A\"/></Declaration>\n"
            b"</Ontology>\n"
        ),
        "import-http.owx": (
            '<?xml version="1.0"?>\n<Ontology xmlns="http://www.w3.org/2002/07/owl#" ontologyIRI="http://e/o">\n'
            f"<Import>{loopback_url}/onto.owl</Import>\n<Declaration><Class IRI=\"http://e/A\"/></Declaration>\n"
            "</Ontology>\n"
        ).encode(),
        "import-http.ttl": (
            f"<http://e/o> a <http://www.w3.org/2002/07/owl#Ontology> ; "
            f"<http://www.w3.org/2002/07/owl#imports> <{loopback_url}/onto.ttl> .\n"
        ).encode(),
        "deep.rdf": (
            f'<?xml version="1.0"?><rdf:RDF xmlns:rdf="{RDF}">' + "<rdf:Description>" * 100_000
            + "</rdf:Description>" * 100_000 + "</rdf:RDF>"
        ).encode(),
        "deep.jsonld": ('{"@id":"http://e/a","http://e/p":' + "[" * 5_000 + "1" + "]" * 5_000 + "}").encode(),
        "deep-object.jsonld": ('{"@id":"http://e/a","http://e/p":' + '{"@value":' * 1_000 + '"x"' + "}" * 1_000 + "}").encode(),
        "deep-list.ttl": ("<http://e/a> <http://e/p> " + "(" * 5_000 + "1" + ")" * 5_000 + " .\n").encode(),
        "deep-bnode.ttl": ("<http://e/a> <http://e/p> " + "[ <http://e/p> " * 5_000 + "1" + " ]" * 5_000 + " .\n").encode(),
        "surrogate.ttl": b'<http://e/a> <http://e/p> "\\uD800" .\n',
        "surrogate.jsonld": b'{"@id":"http://e/a","http://e/p":"\\ud800"}',
        "nul.ttl": b"<http://e/a> <http://e/p> \"a\x00b\" .\n",
        "latin1.ttl": '<http://e/a> <http://e/p> "café" .\n'.encode("latin-1"),
        "html.rdf": b"<!DOCTYPE html><html><body>Not Found</body></html>",
        "huge-number.ttl": ("<http://e/a> <http://e/p> " + "9" * 5_000 + " .\n").encode(),
        "obo-deep.obo": ("format-version: 1.2\n\n[Term]\nid: X:1\nname: " + "(" * 10_000 + "\n").encode(),
    }


# -- damaged files ------------------------------------------------------------------------------

def damage(data: bytes, rng: random.Random) -> tuple[str, bytes]:
    """One damaged copy of ``data`` and the name of the damage."""
    n = len(data)
    how = rng.choice(["truncate", "flip", "insert", "delete", "duplicate", "junk", "nest", "nul", "utf8", "swap"])
    if n == 0:
        return how, data
    i = rng.randrange(n)
    if how == "truncate":
        return how, data[:i]
    if how == "flip":
        b = bytearray(data)
        for _ in range(rng.randint(1, 8)):
            j = rng.randrange(n)
            b[j] = rng.randrange(256)
        return how, bytes(b)
    if how == "insert":
        piece = rng.choice([b"<", b">", b"{", b"}", b"[", b"]", b"(", b")", b'"', b"'", b"\\", b"&", b"&lol;",
                            b"<!ENTITY x \"y\">", b"@prefix : <", b"\n", b"\r", b"#", b"\xff\xfe", b"\xed\xa0\x80"])
        return how, data[:i] + piece * rng.randint(1, 50) + data[i:]
    if how == "delete":
        return how, data[:i] + data[i + rng.randint(1, 200):]
    if how == "duplicate":
        j = min(n, i + rng.randint(1, 500))
        return how, data[:j] + data[i:j] * rng.randint(1, 20) + data[j:]
    if how == "junk":
        return how, bytes(rng.randrange(256) for _ in range(rng.randint(1, 512)))
    if how == "nest":
        o, c = rng.choice([(b"(", b")"), (b"[", b"]"), (b"{", b"}"), (b"<a>", b"</a>"), (b'{"a":', b"}")])
        k = rng.choice([10, 300, 3_000, 20_000])
        return how, data[:i] + o * k + c * k + data[i:]
    if how == "nul":
        return how, data[:i] + b"\x00" + data[i:]
    if how == "utf8":
        return how, data[:i] + rng.choice([b"\xc3", b"\xff", b"\xed\xa0\x80", b"\xf4\x90\x80\x80"]) + data[i:]
    j = rng.randrange(n)
    a, b = sorted((i, j))
    return how, data[:a] + data[b:] + data[a:b]


def damaged_files(rng: random.Random, count: int) -> list[tuple[str, bytes]]:
    """``count`` damaged files (name keeps the sample's extension) cycling over every sample format."""
    out = []
    for k in range(count):
        src = SAMPLES[k % len(SAMPLES)]
        how, data = damage(src.read_bytes()[:200_000], rng)
        out.append((f"{k:04d}-{how}-{src.stem}{src.suffix}", data))
    return out


# -- query texts --------------------------------------------------------------------------------

_DSL_QUESTIONS = [
    "symbols similar to {s}", "symbols sharing features with {s}", "features of {s}",
    "symbols activating feature {n}", "explain feature {n}", "features with no symbolic counterpart",
    "symbols with no neural counterpart", "unstable symbols", "align {g} with {g}", "bridges between {g} and {g}",
    "symbols where {{ ?symbol a ?t }}", "symbols in graph {g} similar to {s}",
]
_DSL_MODIFIERS = [
    "limit {n}", "with score >= {x}", "with stability < {x}", "min overlap {x}", "max score {x}",
    "order by score desc", "in graph {g}", "where {{ ?symbol ?p ?o }}", "limit {big}", "with score > {huge}",
]
_NAMES = ["Negligence", "Duty", "tort:Negligence", "<http://x/y>", '"duty of care"', "Nope", "in", "limit",
          "'\\ud800'", '"\\uD800"', "x" * 300, "é", "\u202e", "a:b:c", "_:b", "?x"]
_GRAPHS = ["negligence-skos", "tort-owl", "liability-kg", "nope", '"a b"', "<urn:x>"]
_SPARQL_INNER = [
    "?s ?p ?o", "?symbol a ?t", "FILTER(?o = 1)", "OPTIONAL {{ ?s ?p ?o }}", "BIND(1 AS ?x)",
    "SERVICE <{lb}/s> {{ ?s ?p ?o }}", "# c\rSERVICE <{lb}/c> {{ }}", "service silent <{lb}/d> {{}}",
    "VALUES ?x {{ 1 2 3 }}", "FILTER(regex(str(?s), \"a\"))", "?s <http://x/SERVICE> ?o", "GRAPH ?g {{ ?s ?p ?o }}",
    "\\u0053ERVICE <{lb}/u> {{}}", "?s ?p \"SERVICE <{lb}/str>\"", "FILTER(?o = '\\ud800')",
]


def _fill(t: str, rng: random.Random, lb: str) -> str:
    return t.format(
        s=rng.choice(_NAMES), g=rng.choice(_GRAPHS), n=rng.choice(["0", "1", "767", "768", "99999999999", "9" * 5000]),
        x=rng.choice(["0", "0.5", "1e308", "1e999", "-1", "9" * 400, "1" + "0" * 320 + ".5", "nan"]),
        big="9" * rng.choice([5, 50, 5000]), huge="9" * rng.choice([20, 309, 400]), lb=lb,
    )


def dsl_text(rng: random.Random, lb: str = "http://127.0.0.1:9") -> str:
    """A DSL text: mostly well-formed questions with odd values, sometimes mangled or nested deeply."""
    q = _fill(rng.choice(_DSL_QUESTIONS), rng, lb)
    for _ in range(rng.randint(0, 3)):
        q += " " + _fill(rng.choice(_DSL_MODIFIERS), rng, lb)
    r = rng.random()
    if r < 0.1:
        k = rng.choice([50, 200, 3_000])
        q = "(" * k + q + ")" * k
    elif r < 0.2:
        k = rng.choice([100, 3_000, 6_000])
        q = "symbols where {" + "{" * k + " ?symbol ?p ?o " + "}" * k + "}"
    elif r < 0.3:
        q = " or ".join([q] * rng.choice([2, 10, 50]))
    elif r < 0.4:
        i = rng.randrange(len(q) + 1)
        q = q[:i] + rng.choice(["{", "}", "(", "\"", "'", "#", "\r", ";", "\ud800", "\x00", "<", "\\"]) + q[i:]
    elif r < 0.45:
        q = "symbols where { " + _fill(rng.choice(_SPARQL_INNER), rng, lb) + " ?symbol ?p ?o }"
    return q


def sparql_text(rng: random.Random, lb: str = "http://127.0.0.1:9") -> str:
    """A SPARQL query: fragments combined, nested, repeated, commented in every way."""
    parts = [_fill(rng.choice(_SPARQL_INNER), rng, lb) for _ in range(rng.randint(1, 4))]
    body = " . ".join(parts)
    r = rng.random()
    if r < 0.15:
        k = rng.choice([100, 129, 3_000, 5_000])
        body = "{" * k + body + "}" * k
    elif r < 0.3:
        k = rng.choice([100, 1_000, 5_000])
        body += " FILTER(" + "(" * k + "1" + ")" * k + ")"
    elif r < 0.4:
        body += " " + " ".join(f"BIND({i} AS ?v{i})" for i in range(rng.choice([10, 500, 3_000])))
    elif r < 0.5:
        body += " FILTER(" + " || ".join(["true"] * rng.choice([10, 2_000, 10_000])) + ")"
    elif r < 0.55:
        body += " FILTER(" + "CONCAT(" * rng.choice([50, 1_000]) + '"a"' + ")" * rng.choice([50, 1_000]) + ")"
    head = rng.choice(["SELECT * WHERE", "select ?s where", "ASK", "CONSTRUCT { ?s ?p ?o } WHERE",
                       "PREFIX e: <" + lb + "/> SELECT * WHERE", "SELECT (COUNT(*) AS ?n) WHERE"])
    q = f"{head} {{ {body} }} LIMIT 3"
    if rng.random() < 0.1:
        i = rng.randrange(len(q) + 1)
        q = q[:i] + rng.choice(["}", "{", "\"", "#", "\r", "\ud800", "<", "\\u"]) + q[i:]
    return q


def sparql_update_text(rng: random.Random, lb: str = "http://127.0.0.1:9") -> str:
    return rng.choice([
        f"LOAD <{lb}/data.ttl>",
        f"LOAD SILENT <{lb}/data.ttl> INTO GRAPH <urn:x>",
        f"# c\rLOAD <{lb}/hidden.ttl>",
        f"load<{lb}/x>",
        f"INSERT {{ GRAPH <urn:x> {{ ?s ?p ?o }} }} WHERE {{ SERVICE <{lb}/s> {{ ?s ?p ?o }} }}",
        "INSERT DATA { GRAPH <urn:x> { <urn:a> <urn:p> " + "(" * 3000 + "1" + ")" * 3000 + " } }",
        "DELETE WHERE { GRAPH <urn:nothing> { ?s ?p ?o } }",
    ])
