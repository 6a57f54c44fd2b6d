"""What the HTTP tests share besides fixtures: paths, the write token, a uvicorn server in a thread.

(A module of its own, so test modules import it by a unique name rather than ``conftest``.)
"""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[2]
ONTOLOGIES = REPO / "ontologies"
OAEI = REPO.parent / "shared" / "data" / "oaei-conference"
WRITE_TOKEN = "test-write-token-0123456789"
EMBEDDED_GRAPH = "negligence-skos"


@dataclass
class Live:
    """A running server: its base URL, app, config and workspace."""

    url: str
    app: object
    config: object
    ws: object
    token: str | None = None

    def client(self, **kw) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=kw.pop("timeout", 60.0), **kw)

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"} if self.token else {}


class ServerThread:
    """uvicorn serving ``app`` on a socket bound to 127.0.0.1:0, in a daemon thread; with ``threads``,
    as ``kgalign serve`` runs it (plain SPARQL queries on per-connection threads, the rest on the loop);
    with ``served`` (and without threads), with the HTTP protocol ``kgalign serve --no-threads`` runs."""

    def __init__(self, app, threads: bool | None = None, served: bool = False) -> None:
        import os

        import uvicorn

        if threads is None:  # KGALIGN_TEST_THREADS=1 runs every test server as serve() does
            threads = os.environ.get("KGALIGN_TEST_THREADS") == "1"

        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on", timeout_keep_alive=30)
        if threads or served:  # and the protocol serve() runs
            from kgalign.server.app import MAX_REQUEST_HEAD, MAX_URL, http_protocol
            from kgalign.server.threaded import fronted_server

            config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on", timeout_keep_alive=30,
                                    http=http_protocol(), h11_max_incomplete_event_size=MAX_REQUEST_HEAD)

            self.server = fronted_server(app, config, self.sock, max_url=MAX_URL) if threads else uvicorn.Server(config)
        else:
            self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def __enter__(self) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the test server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.sock.close()
