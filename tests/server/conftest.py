"""Fixtures for the HTTP tests: one real workspace per session (two OAEI Conference ontologies,
the three demo systems, one of them embedded with a tiny SAE, a cmt–confOf alignment in the
mappings graph) and real uvicorn servers on free loopback ports, run in threads."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from server_support import EMBEDDED_GRAPH, OAEI, ONTOLOGIES, WRITE_TOKEN, Live, ServerThread


@pytest.fixture(scope="session")
def oaei_files() -> Path:
    if not (OAEI / "cmt.owl").is_file():
        pytest.skip(f"the OAEI Conference ontologies are not at {OAEI} (expected ../shared beside the repo)")
    return OAEI


@pytest.fixture(scope="session")
def file_root(tmp_path_factory, oaei_files) -> Path:
    """The one directory the test servers may read file: URLs from (copies of real files)."""
    root = tmp_path_factory.mktemp("allowed")
    for name in ("cmt.owl", "confOf.owl", "cmt-confOf.rdf"):
        shutil.copy(oaei_files / name, root / name)
    shutil.copy(ONTOLOGIES / "tort-owl.ttl", root / "tort-owl.ttl")
    (root / "sub").mkdir()
    shutil.copy(oaei_files / "confOf.owl", root / "sub" / "confOf.owl")
    return root


@pytest.fixture(scope="session")
def tiny_sae(tmp_path_factory) -> Path:
    """An untrained TopK SAE on MiniLM's width: enough to place symbols in a feature space quickly."""
    from kgalign.neural.sae.io import save_sae
    from kgalign.neural.sae.registry import build_sae, make_config

    out = tmp_path_factory.mktemp("sae") / "tiny-topk"
    save_sae(build_sae(make_config("topk", d_in=384, d_sae=256, k=8), seed=0), out)
    return out


@pytest.fixture(scope="session")
def http_ws(tmp_path_factory, oaei_files, tiny_sae):
    """The shared workspace: cmt, confOf and the demo systems; negligence-skos embedded; cmt–confOf mappings."""
    from kgalign.api import Workspace

    ws = Workspace.open(tmp_path_factory.mktemp("http-ws") / "ws")
    for f in (oaei_files / "cmt.owl", oaei_files / "confOf.owl", *sorted(ONTOLOGIES.glob("*.ttl")),
              ONTOLOGIES / "liability-kg.jsonld"):
        ws.load(f)
    ws.config.sae = str(tiny_sae)
    ws.save_config()
    texts = []
    for s in ws.symbols(EMBEDDED_GRAPH):
        texts.append(s.label)
        texts.extend(s.definitions[:1])
    ws.embed([EMBEDDED_GRAPH], corpus=texts, corpus_name="negligence-skos labels", quiet=True)
    try:
        from kgalign.align.formats import export_to_store
        from kgalign.align.matcher import Matcher
    except ImportError:
        pass
    else:
        export_to_store(ws, Matcher().match(ws, "cmt", "confOf"))
    return ws


def _start(request, app, ws, config, token=None) -> Live:
    st = ServerThread(app)
    st.__enter__()
    request.addfinalizer(lambda: st.__exit__(None, None, None))
    return Live(f"http://127.0.0.1:{st.port}", app, config, ws, token)


@pytest.fixture(scope="session")
def live(request, http_ws, file_root) -> Live:
    """A read-write server (with the write token) over the shared workspace."""
    from kgalign.server import ServerConfig, create_app

    config = ServerConfig(workspace=http_ws.path, write_token=WRITE_TOKEN, max_body=256 * 1024,
                          max_upload=2 * 1024 * 1024, query_timeout=20, match_timeout=60,
                          file_roots=(file_root,), match_neural="never", workers=8, max_pending=256)
    return _start(request, create_app(config, workspace=http_ws), http_ws, config, WRITE_TOKEN)


@pytest.fixture(scope="session")
def live_ro(request, http_ws) -> Live:
    """A server started without a write token (read-only) over the same workspace."""
    from kgalign.server import ServerConfig, create_app

    config = ServerConfig(workspace=http_ws.path, match_neural="never")
    return _start(request, create_app(config, workspace=http_ws), http_ws, config)


@pytest.fixture(scope="session")
def client(live):
    with live.client() as c:
        yield c
