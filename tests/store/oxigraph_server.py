"""Start and stop a real Oxigraph server (the ``oxigraph`` package's CLI) on a free loopback port."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path


def oxigraph_binary() -> str | None:
    """The ``oxigraph`` server CLI: $KGALIGN_OXIGRAPH, beside this Python, or on PATH."""
    env = os.environ.get("KGALIGN_OXIGRAPH")
    if env:
        return env
    here = Path(sys.executable).parent / "oxigraph"
    if here.exists():
        return str(here)
    # A venv sharing another's site-packages: look beside the interpreter that installed pyoxigraph.
    try:
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


@dataclass
class OxigraphServer:
    location: Path
    port: int
    process: subprocess.Popen

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def store_config(self) -> dict:
        return {
            "backend": "sparql",
            "query_endpoint": self.base + "/query",
            "update_endpoint": self.base + "/update",
            "graph_store": self.base + "/store?no_transaction",
        }

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


def start_server(location: Path, binary: str, *, timeout: float = 30.0) -> OxigraphServer:
    port = free_port()
    proc = subprocess.Popen(
        [binary, "serve", "--location", str(location), "--bind", f"127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    server = OxigraphServer(location, port, proc)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"oxigraph serve exited: {proc.stderr.read().decode(errors='replace')[-500:]}")
        try:
            with urllib.request.urlopen(server.base + "/query?query=ASK%7B%7D", timeout=2) as r:
                if r.status == 200:
                    return server
        except OSError:
            time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"oxigraph serve did not answer on port {port} within {timeout:g} s")
