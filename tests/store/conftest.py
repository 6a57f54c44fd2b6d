"""Workspaces on both backends: the embedded store and a real Oxigraph server."""

from __future__ import annotations

import itertools

import pytest

from .oxigraph_server import OxigraphServer, oxigraph_binary, start_server

BACKENDS = ("oxigraph", "oxigraph-server")
_counter = itertools.count()


@pytest.fixture(scope="session")
def oxigraph_server(tmp_path_factory) -> OxigraphServer:
    """One Oxigraph server for the session; each test clears it (``server_store``)."""
    binary = oxigraph_binary()
    if binary is None:
        pytest.skip("the Oxigraph server CLI is not installed (pip install oxigraph)")
    server = start_server(tmp_path_factory.mktemp("oxigraph-server"), binary)
    yield server
    server.stop()


@pytest.fixture
def server_store_config(oxigraph_server: OxigraphServer) -> dict:
    """The running server, emptied for this test."""
    import urllib.request

    req = urllib.request.Request(
        oxigraph_server.base + "/update", data=b"DROP ALL", method="POST",
        headers={"Content-Type": "application/sparql-update"},
    )
    with urllib.request.urlopen(req, timeout=30):
        pass
    return oxigraph_server.store_config


@pytest.fixture(params=BACKENDS)
def backend_ws(request, tmp_path):
    """A fresh workspace on each backend."""
    from kgalign.api import CONFIG_FILE, Workspace, WorkspaceConfig

    path = tmp_path / f"ws{next(_counter)}"
    path.mkdir()
    cfg = WorkspaceConfig()
    if request.param == "oxigraph-server":
        cfg.store = request.getfixturevalue("server_store_config")
    cfg.write(path / CONFIG_FILE)
    ws = Workspace.open(path)
    yield ws
    ws.close()
