"""`kgalign serve` as a real process: read-only by default on 127.0.0.1, read-write with the token
from the environment, a one-line error (no traceback) when the workspace is missing."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import httpx
from server_support import ONTOLOGIES


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(args: list[str], env_extra: dict[str, str] | None = None) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k != "KGALIGN_WRITE_TOKEN"}
    env.update({"PYTHONUNBUFFERED": "1", **(env_extra or {})})
    return subprocess.Popen([sys.executable, "-m", "kgalign", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env, text=True)


def _wait(port: int, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the server exited: {proc.stderr.read()}")
        try:
            httpx.get(f"http://127.0.0.1:{port}/status", timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise AssertionError("the server did not answer in time")


def _stop(proc: subprocess.Popen) -> tuple[int, str]:
    proc.send_signal(signal.SIGINT)
    try:
        _, err = proc.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
    return proc.returncode, err


def test_kgalign_serve_read_only_and_read_write(tmp_path):
    from kgalign.api import Workspace

    ro_ws = tmp_path / "ro"
    ws = Workspace.open(ro_ws)
    ws.load(ONTOLOGIES / "tort-owl.ttl")
    ws.close()
    p_ro, p_rw = _free_port(), _free_port()
    token = "cli-test-token-abcdefgh"
    ro = _serve(["-w", str(ro_ws), "serve", "--port", str(p_ro), "--no-access-log"])
    rw = _serve(["-w", str(tmp_path / "fresh"), "serve", "--port", str(p_rw), "--no-access-log"],
                {"KGALIGN_WRITE_TOKEN": token})
    missing = _serve(["-w", str(tmp_path / "nowhere"), "serve", "--port", str(_free_port())])
    try:
        _wait(p_ro, ro)
        _wait(p_rw, rw)
        with httpx.Client(base_url=f"http://127.0.0.1:{p_ro}") as c:
            status = c.get("/status").json()
            assert status["read_only"] is True and status["graphs"] == 1
            assert [g["name"] for g in c.get("/graphs").json()["graphs"]] == ["tort-owl"]
            r = c.post("/sparql", data={"update": "CLEAR ALL"}, headers={"Authorization": f"Bearer {token}"})
            assert r.status_code == 403
        with httpx.Client(base_url=f"http://127.0.0.1:{p_rw}") as c:
            assert c.get("/status").json()["read_only"] is False
            r = c.post("/graphs", files={"file": ("tort.ttl", (ONTOLOGIES / "tort-owl.ttl").read_bytes())},
                       headers={"Authorization": f"Bearer {token}"})
            assert r.status_code == 201 and r.json()["graph"]["name"] == "tort"
        out, err = missing.communicate(timeout=60)
        assert missing.returncode == 3
        assert err.strip().splitlines()[-1].startswith("kgalign: error: no kgalign workspace at")
        assert "Traceback" not in err
    finally:
        rc_ro, err_ro = _stop(ro)
        rc_rw, _ = _stop(rw)
        if missing.poll() is None:
            missing.kill()
    assert f"Uvicorn running on http://127.0.0.1:{p_ro}" in err_ro
    assert "read-only" in err_ro.splitlines()[0]
    assert rc_ro == 0 and rc_rw == 0


def _children(pid: int) -> list[int]:
    """The kgalign server processes ``pid`` started (not a managed ``oxigraph serve`` on the server backend)."""
    out = subprocess.run(["ps", "-o", "pid=,comm=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    return [int(line.split()[0]) for line in out.splitlines() if line.split() and "oxigraph" not in line]


def test_kgalign_serve_processes_share_the_port_and_end_with_the_parent(tmp_path):
    """--processes 2: two read-only servers on one port answer alike; SIGINT to the parent ends both,
    and a read-write server refuses the option with a one-line error."""
    ws = tmp_path / "ws"
    subprocess.run([sys.executable, "-m", "kgalign", "-w", str(ws), "load", str(ONTOLOGIES / "negligence-skos.ttl")],
                   check=True, capture_output=True)
    port = _free_port()
    proc = _serve(["-w", str(ws), "serve", "--port", str(port), "--processes", "2"])
    try:
        _wait(port, proc)
        children = _children(proc.pid)
        assert len(children) == 1
        query = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"
        answers = set()
        for _ in range(8):  # fresh connections: the kernel spreads them over both processes
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as c:
                r = c.get("/sparql", params={"query": query}, headers={"Accept": "text/csv"})
                assert r.status_code == 200, r.text
                answers.add(r.text)
        assert len(answers) == 1 and int(next(iter(answers)).split()[-1]) > 0
    finally:
        rc, err = _stop(proc)
    assert rc == 0 and "Traceback" not in err
    deadline = time.monotonic() + 20
    while any(os.path.exists(f"/proc/{c}") for c in children) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(os.path.exists(f"/proc/{c}") for c in children)
    rw = _serve(["-w", str(ws), "serve", "--port", str(_free_port()), "--processes", "2"],
                {"KGALIGN_WRITE_TOKEN": "a-write-token-0123456789"})
    _, err = rw.communicate(timeout=60)
    assert rw.returncode == 2
    assert err.strip().splitlines()[-1].startswith("kgalign: error: --processes needs a read-only server")
