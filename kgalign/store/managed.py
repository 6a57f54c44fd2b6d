"""The ``oxigraph-server`` backend: an Oxigraph server that kgalign starts for the workspace.

The data lives in the workspace directory (``store-server/``) like the embedded store's, but is
served by ``oxigraph serve`` on a free loopback port and reached through
:class:`~kgalign.store.remote.SparqlStore`, so everything goes over the SPARQL protocols. The
first process to open the workspace starts the server and stops it when it closes the store (or
exits; the server dies with it); other processes opening the workspace meanwhile use the same
server (``store-server.json`` names its port and owner).

It exists so that the whole test suite can run against a real SPARQL server
(``KGALIGN_STORE_BACKEND=oxigraph-server``), and for a user who wants Oxigraph's server without
running it by hand.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from kgalign.store.base import StoreError


def oxigraph_binary() -> str | None:
    """The ``oxigraph`` server CLI (pip package ``oxigraph``): $KGALIGN_OXIGRAPH, beside this Python, or on PATH."""
    env = os.environ.get("KGALIGN_OXIGRAPH")
    if env:
        return env
    here = Path(sys.executable).parent / "oxigraph"
    if here.exists():
        return str(here)
    try:  # a venv sharing another's site-packages: the bin/ of the environment that has pyoxigraph
        import pyoxigraph

        for parent in Path(pyoxigraph.__file__).resolve().parents:
            cand = parent / "bin" / "oxigraph"
            if cand.exists():
                return str(cand)
    except ImportError:
        pass
    return shutil.which("oxigraph")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


#: Where the managed server's port is drawn from: below Linux's ephemeral range (32768-60999), which
#: ``bind(("127.0.0.1", 0))`` draws from. A port taken that way and released (e.g. by a test that then
#: starts ``kgalign serve`` on it) is often handed out again at once: the server must not take it.
SERVER_PORTS = range(20000, 32768)


def server_port(rng: Any = None) -> int:
    """A free loopback port for the managed server, outside the kernel's ephemeral range."""
    import random

    rng = rng or random.SystemRandom()
    for _ in range(50):
        port = rng.randrange(SERVER_PORTS.start, SERVER_PORTS.stop)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    return free_port()


def _die_with_parent() -> None:  # pragma: no cover - runs in the child
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def _answers(base: str) -> bool:
    try:
        with urllib.request.urlopen(base + "/query?query=ASK%7B%7D", timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


def start(location: Path, *, timeout: float = 30.0) -> tuple[subprocess.Popen, int]:
    binary = oxigraph_binary()
    if binary is None:
        raise StoreError("the oxigraph-server backend needs the Oxigraph server CLI: pip install oxigraph")
    location.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + timeout
    for attempt in range(3):
        port = server_port()
        proc = subprocess.Popen(
            [binary, "serve", "--location", str(location), "--bind", f"127.0.0.1:{port}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, preexec_fn=_die_with_parent,
        )
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                err = proc.stderr.read().decode(errors="replace").strip() if proc.stderr else ""
                if "in use" in err.lower() and attempt < 2:
                    break  # taken between the check and the bind: another port
                raise StoreError(f"oxigraph serve --location {location} exited: {err[-300:]}")
            if _answers(f"http://127.0.0.1:{port}"):
                return proc, port
            time.sleep(0.05)
        else:
            proc.kill()
            raise StoreError(f"oxigraph serve --location {location} did not answer within {timeout:g} s")
    raise StoreError(f"oxigraph serve --location {location}: no free port")  # pragma: no cover


def _stop(proc: subprocess.Popen, state: Path) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
    try:
        if json.loads(state.read_text()).get("pid") == proc.pid:
            state.unlink()
    except (OSError, ValueError):
        pass


def open_managed(cfg: Mapping[str, Any], workspace: Path, read_only: bool) -> Any:
    from kgalign.store.remote import EndpointConfig, SparqlStore

    location = workspace / cfg.get("location", "store-server")
    state = workspace / "store-server.json"
    port = None
    owned: subprocess.Popen | None = None
    try:
        running = json.loads(state.read_text())
        if _answers(f"http://127.0.0.1:{running['port']}"):
            port = int(running["port"])
    except (OSError, ValueError, KeyError):
        pass
    if port is None:
        owned, port = start(location)
        state.write_text(json.dumps({"pid": owned.pid, "port": port}))
        atexit.register(_stop, owned, state)
    base = f"http://127.0.0.1:{port}"
    store = SparqlStore(
        EndpointConfig(query_endpoint=base + "/query", update_endpoint=base + "/update",
                       graph_store=base + "/store?no_transaction"),
        read_only=read_only,
    )
    store.backend = "oxigraph-server"
    if owned is not None:
        store.on_close = lambda: _stop(owned, state)  # type: ignore[attr-defined]
    return store
