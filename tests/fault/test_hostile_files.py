"""Damaged and hostile files: a clean LoadError naming the file (and line/column where there is one),
the store unchanged, nothing fetched or read beyond the file, small files in small memory."""

from __future__ import annotations

import os
import random
import time

import pytest
from fault_support import peak_rss_of
from hostile_inputs import damaged_files, named_attacks

from kgalign.errors import KgalignError, LimitError, LoadError

SMALL_ATTACKS = ["billion-laughs.rdf", "external-entity.rdf", "external-entity-http.rdf", "parameter-entity.rdf",
                 "import-file.owx", "import-http.owx", "surrogate.jsonld"]


def _load(ws, path):
    before = ws.store.snapshot()
    try:
        ws.load(path, name="victim")
    except LoadError as e:
        assert ws.store.snapshot() == before, f"{path.name}: a failed load changed the store"
        return e
    return None


def test_named_attacks_are_refused_quickly_and_fetch_nothing(small_ws, tmp_path, loopback):
    attacks = named_attacks(loopback.url)
    refused = {}
    for name, data in attacks.items():
        p = tmp_path / name
        p.write_bytes(data)
        t0 = time.process_time()  # CPU seconds: the wall clock of a shared machine says little
        err = _load(small_ws, p)
        assert time.process_time() - t0 < 10, f"{name} took {time.process_time() - t0:.1f} CPU s"
        refused[name] = err
        if err is not None:
            assert str(err).startswith(str(p)), err
            assert "/etc/hostname" not in str(err) or name.startswith("external-entity"), err
    for name in ("billion-laughs.rdf", "external-entity.rdf", "external-entity-http.rdf", "parameter-entity.rdf",
                 "deep.rdf", "deep.jsonld", "deep-object.jsonld"):
        assert isinstance(refused[name], LimitError), (name, refused[name])
        assert refused[name].line is not None, (name, str(refused[name]))
    assert "lol" in str(refused["billion-laughs.rdf"])
    assert "external entity" in str(refused["external-entity.rdf"])
    assert loopback.connections == 0


def test_owlxml_import_is_recorded_not_followed(small_ws, tmp_path, loopback):
    p = tmp_path / "imports.owx"
    p.write_bytes(named_attacks(loopback.url)["import-http.owx"])
    assert _load(small_ws, p) is None  # loads: the Import is a triple, not a fetch
    rows = small_ws.sparql(
        "SELECT ?o { GRAPH <urn:kgalign:graph:victim> { ?x <http://www.w3.org/2002/07/owl#imports> ?o } }"
    )
    assert [r["o"].value for r in rows] == [f"{loopback.url}/onto.owl"]
    p2 = tmp_path / "imports-file.owx"
    p2.write_bytes(named_attacks()["import-file.owx"])
    assert _load(small_ws, p2) is None
    assert small_ws.sparql("ASK { GRAPH <urn:kgalign:graph:victim> { ?s ?p ?o FILTER(CONTAINS(STR(?o), "
                           f"\"{os.uname().nodename}\")) }} }}").__bool__() is False
    assert loopback.connections == 0


def test_fifo_and_directory_are_refused_at_once(small_ws, tmp_path):
    fifo = tmp_path / "pipe.ttl"
    os.mkfifo(fifo)
    t0 = time.process_time()
    with pytest.raises(LoadError, match="named pipe"):
        small_ws.load(fifo)
    assert time.process_time() - t0 < 5
    with pytest.raises(LoadError, match="directory"):
        small_ws.load(tmp_path)


def test_non_ascii_file_names_get_distinct_graphs(small_ws, tmp_path):
    names = []
    for stem in ("本体", "オントロジー", "ñandú"):
        p = tmp_path / f"{stem}.ttl"
        p.write_text(f'<http://e/{len(names)}> <http://e/p> "x" .\n')
        names.append(small_ws.load(p).info.name)
    assert len(set(names)) == 3 and names[2] == "nandu"


def test_damaged_files_of_every_format_fail_cleanly(small_ws, tmp_path):
    rng = random.Random(10)
    outcomes = {"loaded": 0, "refused": 0}
    for name, data in damaged_files(rng, 60):
        p = tmp_path / name
        p.write_bytes(data)
        try:
            err = _load(small_ws, p)
        except KgalignError as e:  # any of ours is acceptable; anything else fails the test
            err = e
        outcomes["refused" if err is not None else "loaded"] += 1
        if err is not None:
            assert "\n" not in str(err).strip(), f"{name}: {err}"
    assert outcomes["refused"] > 0


@pytest.mark.parametrize("name", SMALL_ATTACKS)
def test_a_small_file_never_takes_200_mb(tmp_path, loopback, name):
    """Each ≤ 2 KB attack in its own `kgalign load` process: a clean refusal or load, peak RSS < 200 MB."""
    data = named_attacks(loopback.url)[name]
    assert len(data) <= 2048
    p = tmp_path / name
    p.write_bytes(data)
    r = peak_rss_of(["-w", str(tmp_path / "ws"), "load", str(p)], timeout=120)
    assert r.rc in (0, 4), (r.rc, r.err)
    assert "Traceback" not in r.err
    assert r.max_rss_kb < 200 * 1024, f"{name}: peak RSS {r.max_rss_kb / 1024:.0f} MB"
    assert loopback.connections == 0
