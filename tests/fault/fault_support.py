"""What the fault tests share: a loopback listener, the CLI in a subprocess, a real `kgalign serve`."""

from __future__ import annotations

import os
import resource
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
ONTOLOGIES = REPO / "ontologies"
KGALIGN = [sys.executable, "-m", "kgalign"]


class Loopback:
    """A TCP listener on 127.0.0.1 that counts the connections it gets (it answers none)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.connections = 0
        self._stop = False
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stop:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self._stop = True
        self._thread.join(2)
        self.sock.close()


@dataclass
class Ran:
    rc: int
    out: str
    err: str
    max_rss_kb: int = 0
    seconds: float = 0.0
    #: user + system CPU seconds (what a hang is judged by on a shared machine)
    cpu_seconds: float = 0.0


def run_cli(args: list[str], *, env: dict[str, str] | None = None, timeout: float = 120,
            address_space: int | None = None, cwd: Path | None = None) -> Ran:
    """``kgalign ARGS`` in a subprocess: exit code, output, peak RSS (of that process alone) and time."""
    def limits() -> None:
        if address_space:
            resource.setrlimit(resource.RLIMIT_AS, (address_space, address_space))

    t0 = time.perf_counter()
    p = subprocess.Popen([*KGALIGN, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         env={**os.environ, **(env or {})}, preexec_fn=limits, cwd=cwd)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
        return Ran(-999, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"), 0, timeout)
    # wait4 already reaped by communicate: ru_maxrss of RUSAGE_CHILDREN is the max over children,
    # so the caller compares against its own baseline (see peak_rss_of).
    return Ran(p.returncode, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"),
               0, time.perf_counter() - t0)


def peak_rss_of(args: list[str], *, timeout: float = 120, env: dict[str, str] | None = None) -> Ran:
    """Run ``kgalign ARGS`` and measure the peak RSS of that one process.

    Through GNU ``time -f %M`` (a small parent): a child forked straight from this (large) process
    would report this process's RSS as its own peak, since Linux keeps ru_maxrss across exec.
    """
    import tempfile

    with tempfile.NamedTemporaryFile("r", suffix=".rss") as f:
        t0 = time.perf_counter()
        p = subprocess.Popen(["/usr/bin/time", "-f", "%U %S\n%M", "-o", f.name, *KGALIGN, *args],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, **(env or {})})
        try:
            out, err = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            out, err = p.communicate()
            return Ran(-999, "", "timeout", 0, timeout)
        text = f.read().strip().splitlines()
    rss = int(text[-1]) if text and text[-1].isdigit() else 0
    try:
        cpu = sum(float(x) for x in text[-2].split())
    except (IndexError, ValueError):
        cpu = 0.0
    rc = p.returncode
    if text and text[0].startswith("Command terminated by signal"):
        rc = -int(text[0].split()[-1])
    return Ran(rc, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"), rss,
               time.perf_counter() - t0, cpu)


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@dataclass
class Served:
    """A real ``kgalign serve`` process on 127.0.0.1."""

    workspace: Path
    token: str | None = None
    extra: list[str] = field(default_factory=list)
    proc: subprocess.Popen | None = None
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Served:
        import httpx

        self.port = free_port()
        env = dict(os.environ)
        if self.token:
            env["KGALIGN_WRITE_TOKEN"] = self.token
        self.log = open(self.workspace.parent / f"serve-{self.port}.log", "wb")
        self.proc = subprocess.Popen(
            [*KGALIGN, "-w", str(self.workspace), "serve", "--port", str(self.port), "--no-access-log",
             "--log-level", "warning", "--query-timeout", "10", *self.extra],
            stdout=self.log, stderr=subprocess.STDOUT, env=env,
        )
        deadline = time.monotonic() + 600  # a shared machine can take minutes to import and open
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"kgalign serve exited with {self.proc.returncode}")
            try:
                if httpx.get(self.url + "/status", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.2)
        self.stop()  # never leave a half-started server behind
        raise RuntimeError("kgalign serve did not start")

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()

    def log_text(self) -> str:
        return (self.workspace.parent / f"serve-{self.port}.log").read_text(errors="replace")
