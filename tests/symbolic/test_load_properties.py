"""Property-based tests of the loaders: junk and damaged files only ever raise LoadError and never
change the store."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kgalign.errors import LoadError
from kgalign.symbolic.loaders import load_file
from kgalign.symbolic.store import OxigraphStore

from .conftest import DATA

EXTENSIONS = [".ttl", ".nt", ".nq", ".trig", ".n3", ".rdf", ".owl", ".xml", ".jsonld", ".json", ".obo", ".owx", ".txt", ""]
REAL_FILES = ["zoo.ttl", "zoo.nt", "zoo.rdf", "zoo.jsonld", "people.nq", "people.trig", "cell.obo", "pizza-mini.owx"]
_counter = itertools.count()


@pytest.fixture(scope="module")
def shared(tmp_path_factory) -> tuple[OxigraphStore, Path]:
    store = OxigraphStore(tmp_path_factory.mktemp("props") / "store")
    load_file(store, DATA / "zoo.ttl", name="zoo")
    load_file(store, DATA / "people.trig")
    yield store, tmp_path_factory.mktemp("inputs")
    store.close()


def _write(where: Path, content: bytes, suffix: str) -> Path:
    path = where / f"input-{next(_counter)}{suffix}"
    path.write_bytes(content)
    return path


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(content=st.binary(max_size=2000), suffix=st.sampled_from(EXTENSIONS), replace=st.booleans())
def test_random_bytes_raise_only_load_error_and_change_nothing(
    shared: tuple[OxigraphStore, Path], content: bytes, suffix: str, replace: bool
) -> None:
    store, where = shared
    before = store.snapshot()
    path = _write(where, content, suffix)
    with pytest.raises(LoadError) as e:
        load_file(store, path, name="zoo" if replace else None)
    assert e.value.path == str(path) and str(e.value).startswith(str(path))
    assert store.snapshot() == before


@st.composite
def damaged(draw: st.DrawFn) -> tuple[bytes, str]:
    """A real file of some format, cut short or with a few bytes overwritten, inserted or deleted."""
    name = draw(st.sampled_from(REAL_FILES))
    data = bytearray((DATA / name).read_bytes())
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, max(0, len(data) - 1)))
        how = draw(st.sampled_from(["cut", "overwrite", "insert", "delete"]))
        junk = draw(st.binary(min_size=1, max_size=8))
        if how == "cut":
            data = data[:at]
        elif how == "overwrite":
            data[at : at + len(junk)] = junk
        elif how == "insert":
            data[at:at] = junk
        else:
            del data[at : at + len(junk)]
    suffix = "." + name.rsplit(".", 1)[1] if draw(st.booleans()) else draw(st.sampled_from(EXTENSIONS))
    return bytes(data), suffix


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=damaged())
def test_damaged_real_files_load_completely_or_not_at_all(shared: tuple[OxigraphStore, Path], case: tuple[bytes, str]) -> None:
    store, where = shared
    content, suffix = case
    before = store.snapshot()
    path = _write(where, content, suffix)
    try:
        info = load_file(store, path, name="damaged").info
    except LoadError as e:
        assert e.path == str(path)
        assert e.line is None or e.line >= 1
        assert e.column is None or e.column >= 1
        assert store.snapshot() == before
        return
    # Some damage leaves a valid file: then it is loaded whole, and dropping it restores the store.
    assert info.triples == store.count(info.iri) > 0
    store.drop_artefact("damaged")
    assert store.snapshot() == before
