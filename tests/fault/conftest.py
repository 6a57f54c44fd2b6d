"""Fixtures of the fault suite: a loopback listener and a small loaded workspace."""

from __future__ import annotations

import pytest
from fault_support import ONTOLOGIES, Loopback


@pytest.fixture()
def loopback():
    lb = Loopback()
    yield lb
    lb.close()


@pytest.fixture(scope="module")
def small_ws(tmp_path_factory):
    """A workspace with one demo ontology loaded (not embedded)."""
    from kgalign.api import Workspace

    path = tmp_path_factory.mktemp("fault-ws") / "ws"
    ws = Workspace.open(path)
    ws.load(ONTOLOGIES / "negligence-skos.ttl")
    yield ws
    ws.close()
