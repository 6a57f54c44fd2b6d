"""``kgalign serve --processes N``: N server processes accepting on one listening socket.

One Python process answers with one interpreter lock; on a machine with several cores a
read-only server can run N processes, each with its own read-only handle on the store (RocksDB
allows any number of readers), its own worker pool and its own caches. The parent binds the
socket, starts N-1 children that inherit it, and serves too; the kernel hands each new
connection to whichever process accepts first. Children end with the parent (SIGTERM on its
exit, ``PR_SET_PDEATHSIG`` if it is killed).

Only for read-only servers: a write (upload, update, drop) in one process would leave the
others' handles and derived caches stale, and the store has one writer per directory.
Limits (``--workers``, ``--max-pending``) are per process.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

from kgalign.errors import ConfigError
from kgalign.server.config import ServerConfig

CHILD_ENV = "KGALIGN_SERVE_CHILD"


def bind(config: ServerConfig) -> socket.socket:
    """The listening socket for ``config.host``/``config.port``, inheritable (IPv6 when the host has a
    colon, as uvicorn decides)."""
    family = socket.AF_INET6 if ":" in config.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((config.host, config.port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def start_children(config: ServerConfig, sock: socket.socket, n: int, *, log_level: str,
                   access_log: bool, threads: bool = True) -> list[subprocess.Popen]:
    """``n`` child servers on ``sock`` (a read-only ``config``)."""
    if not config.read_only:
        raise ConfigError("--processes needs a read-only server (no write token): the store has one writer, "
                          "and a write in one process would leave the others stale")
    from kgalign.symbolic.sparql_guard import federation_policy

    spec = {
        "config": {k: _plain(v) for k, v in dataclasses.asdict(config).items()},
        "fd": sock.fileno(), "parent": os.getpid(), "log_level": log_level, "access_log": access_log, "threads": threads,
        "federation": list(federation_policy().allowed),
    }
    env = {**os.environ, CHILD_ENV: json.dumps(spec)}
    code = "from kgalign.server.processes import child_main; child_main()"
    return [subprocess.Popen([sys.executable, "-c", code], env=env, pass_fds=[sock.fileno()]) for _ in range(n)]


def stop_children(children: list[subprocess.Popen]) -> None:
    for c in children:
        if c.poll() is None:
            c.terminate()
    for c in children:
        try:
            c.wait(10)
        except subprocess.TimeoutExpired:
            c.kill()
            c.wait(10)


def child_main() -> None:
    """A child server: the parent's config, on the parent's socket, until the parent ends."""
    spec = json.loads(os.environ.pop(CHILD_ENV))
    _die_with_parent(int(spec["parent"]))
    from kgalign.server.app import run_uvicorn
    from kgalign.symbolic.sparql_guard import set_federation

    if spec["federation"]:
        set_federation(spec["federation"])
    cfg = spec["config"]
    for k in ("file_roots", "cors_origins"):
        cfg[k] = tuple(cfg[k])
    config = ServerConfig(**cfg)
    sock = socket.socket(fileno=int(spec["fd"]))
    run_uvicorn(config, sock, log_level=spec["log_level"], access_log=spec["access_log"], threads=spec["threads"])


def _plain(v: Any) -> Any:
    if isinstance(v, Path):
        return str(v)
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    return v


def _die_with_parent(parent: int) -> None:
    """SIGTERM when the parent process ends, however it ends (Linux); exit now if it already has."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:
        sys.exit(0)
