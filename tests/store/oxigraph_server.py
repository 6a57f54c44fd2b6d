"""Start and stop a real Oxigraph server (the ``oxigraph`` package's CLI) on a free loopback port."""

from __future__ import annotations

import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from kgalign.store.managed import free_port, oxigraph_binary  # noqa: F401  (re-exported for the tests)


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
