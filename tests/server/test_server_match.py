"""POST /match, the OAEI matcher web interface as MELT packages it (multipart files or URLs)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import url2pathname

import pytest
import rdflib

ALIGN = rdflib.Namespace("http://knowledgeweb.semanticweb.org/heterogeneity/alignment#")
OAEI = "http://oaei.ontologymatching.org/"
BROKEN_RDF = b"""<?xml version='1.0'?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about="http://x/a"></rdf:Descr>
</rdf:RDF>
"""

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("kgalign.align.matcher") is None,
    reason="the matcher (kgalign.align.matcher) is not installed yet: /match answers 501 until it is",
)


def cells(rdf: bytes | str) -> list[tuple[str, str, str, float]]:
    """(entity1, entity2, relation, measure) of every Cell, read with rdflib as RDF/XML."""
    g = rdflib.Graph().parse(data=rdf, format="xml")
    out = []
    for c in g.subjects(rdflib.RDF.type, ALIGN.Cell):
        out.append((str(g.value(c, ALIGN.entity1)), str(g.value(c, ALIGN.entity2)),
                    str(g.value(c, ALIGN.relation)), float(g.value(c, ALIGN.measure))))
    assert (None, rdflib.RDF.type, ALIGN.Alignment) in g
    return out


def test_multipart_files_in_alignment_out(client, oaei_files):
    files = {
        "source": ("cmt.owl", (oaei_files / "cmt.owl").read_bytes(), "application/octet-stream"),
        "target": ("confOf.owl", (oaei_files / "confOf.owl").read_bytes(), "application/octet-stream"),
        "inputAlignment": ("cmt-confOf.rdf", (oaei_files / "cmt-confOf.rdf").read_bytes(), "application/octet-stream"),
    }
    r = client.post("/match", files=files)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/xml")
    got = cells(r.content)
    assert len(got) == int(r.headers["x-kgalign-mappings"]) >= 5
    assert all(e1.startswith("http://cmt#") and e2.startswith("http://confOf#") for e1, e2, _, _ in got)
    assert all(rel == "=" and 0 < m <= 1 for _, _, rel, m in got)
    assert r.headers["x-kgalign-input-alignment"] in ("used", "read, not used by this matcher")
    g = rdflib.Graph().parse(data=r.content, format="xml")
    onto1 = g.value(next(g.subjects(rdflib.RDF.type, ALIGN.Alignment)), ALIGN.onto1)
    assert str(onto1) == "http://cmt"


def test_url_mode_answers_a_file_url_as_melt_does(client, file_root, http_ws):
    data = {"source": (file_root / "cmt.owl").as_uri(), "target": (file_root / "sub" / "confOf.owl").as_uri(),
            "parameters": '{"' + OAEI + 'matchingDataProperties": false, "' + OAEI + 'matchingObjectProperties": '
                          'false, "unknownKey": 1, "\\u00fcber\\r\\nX-Evil": 2}'}
    r = client.post("/match", data=data)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    url = r.text.strip()
    assert url.startswith("file:///")
    path = Path(url2pathname(urlsplit(url).path))
    got = cells(path.read_bytes())
    assert got, "no class mappings"
    for e1, e2, _, _ in got:  # properties were not asked for
        assert http_ws.symbol(e1, "cmt").kind == http_ws.symbol(e2, "confOf").kind == "class"
    assert r.headers["x-kgalign-ignored-parameters"] == "unknownKey, ?ber  X-Evil"  # no header injection
    assert "x-evil" not in r.headers
    # the same request asking for the alignment itself (YAML parameters this time)
    data["parameters"] = f"{OAEI}matchingDataProperties: false\n{OAEI}matchingObjectProperties: false\nunknownKey: 1\n"
    r2 = client.post("/match", data=data, headers={"Accept": "application/rdf+xml"})
    assert r2.headers["content-type"].startswith("application/rdf+xml")
    assert sorted(cells(r2.content)) == sorted(got)


def test_match_input_errors_are_json(client, oaei_files):
    cmt = ("cmt.owl", (oaei_files / "cmt.owl").read_bytes())
    r = client.post("/match", files={"source": cmt})
    assert r.status_code == 400 and "No target" in r.json()["message"]
    r = client.post("/match", json={"source": "x", "target": "y"})
    assert r.status_code == 415
    r = client.post("/match", files={"source": cmt, "target": ("broken.owl", BROKEN_RDF)})
    assert r.status_code == 400 and r.json()["error"] == "LoadError" and r.json()["line"] == 3
    r = client.post("/match", files={"source": cmt, "target": cmt, "parameters": ("p.json", b"[1, 2]")})
    assert r.status_code == 400 and "parameters" in r.json()["message"]
    r = client.post("/match", files={"source": cmt, "target": cmt, "parameters": ("p.json", b'{"class_threshold": 7}')})
    assert r.status_code == 400 and "class_threshold" in r.json()["message"]


def test_get_match_is_not_allowed(client):
    r = client.get("/match")
    assert r.status_code == 405 and r.json()["allowed"] == ["POST"]
