"""Security: the write token, body and upload limits, path traversal, remote URLs, JSON-only errors."""

from __future__ import annotations

import http.client
import os
from pathlib import Path
from urllib.parse import quote

import pytest
from server_support import ONTOLOGIES, ServerThread
from starlette.routing import Route


def _raw_get(live, path: str) -> tuple[int, bytes]:
    """A GET whose path is sent byte for byte (httpx would normalise the dot segments)."""
    host, port = live.url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    conn.putrequest("GET", path, skip_accept_encoding=True)
    conn.endheaders()
    resp = conn.getresponse()
    body = resp.read()
    conn.close()
    return resp.status, body


# -- the write token --------------------------------------------------------------------------------


def test_uploads_need_the_write_token(live, live_ro):
    files = {"file": ("tort-copy.ttl", (ONTOLOGIES / "tort-owl.ttl").read_bytes(), "text/turtle")}
    with live.client() as c:
        r = c.post("/graphs", files=files, data={"name": "upload-test"})
        assert r.status_code == 401 and r.json()["error"] == "AuthenticationRequired"
        r = c.post("/graphs", files=files, data={"name": "upload-test"}, headers={"Authorization": "Basic abc"})
        assert r.status_code == 401
        r = c.post("/graphs", files=files, data={"name": "upload-test"},
                   headers={"Authorization": "Bearer " + live.token[:-1] + "x"})
        assert r.status_code == 403 and r.json()["error"] == "Forbidden"
        assert "upload-test" not in {g["name"] for g in c.get("/graphs").json()["graphs"]}
        r = c.post("/graphs", files=files, data={"name": "upload-test"}, headers=live.auth)
        assert r.status_code == 201, r.text
        info = r.json()["graph"]
        assert info["name"] == "upload-test" and info["triples"] > 100 and info["format"] == "turtle"
        assert c.get("/graphs/upload-test").json()["symbols"] > 10
        assert c.delete("/graphs/upload-test").status_code == 401
        assert c.delete("/graphs/upload-test", headers=live.auth).status_code == 204
        assert c.get("/graphs/upload-test").status_code == 404
    with live_ro.client() as c:
        r = c.post("/graphs", files=files, headers=live.auth)
        assert r.status_code == 403 and "read-only" in r.json()["message"]
        assert c.delete("/graphs/cmt", headers=live.auth).status_code == 403


def test_a_bad_upload_is_a_load_error_with_position(client, live):
    bad = b"@prefix ex: <http://example.org/> .\nex:a ex:b ex:c .\nex:d ex:e \n"
    r = client.post("/graphs", files={"file": ("bad.ttl", bad)}, data={"name": "bad"}, headers=live.auth)
    assert r.status_code == 400
    body = r.json()
    assert body["error"] == "LoadError" and body["line"] == 4
    assert client.get("/graphs/bad").status_code == 404


# -- limits -----------------------------------------------------------------------------------------


def test_body_over_the_limit_is_413_json(client, live):
    big = "SELECT * WHERE { ?s ?p ?o } #" + "x" * (live.config.max_body + 10)
    r = client.post("/sparql", content=big, headers={"Content-Type": "application/sparql-query"})
    assert r.status_code == 413
    assert r.json() == {"error": "PayloadTooLarge", "message": r.json()["message"], "limit": live.config.max_body}

    def chunks():  # no Content-Length: the limit is enforced while streaming
        for _ in range(40):
            yield b"x" * 10_000

    r = client.post("/sparql", content=chunks(), headers={"Content-Type": "application/sparql-query"})
    assert r.status_code == 413 and r.json()["error"] == "PayloadTooLarge"
    assert client.get("/graphs").status_code == 200  # the server is fine afterwards


def test_upload_over_the_limit_is_413_json(client, live):
    payload = b"# padding\n" * (live.config.max_upload // 10 + 100)
    r = client.post("/graphs", files={"file": ("huge.ttl", payload)}, headers=live.auth)
    assert r.status_code == 413 and r.json()["limit"] == live.config.max_upload
    r = client.post("/match", files={"source": ("a.ttl", payload), "target": ("b.ttl", b"x")})
    assert r.status_code == 413 and r.json()["error"] == "PayloadTooLarge"


# -- paths and URLs ---------------------------------------------------------------------------------


def _traversals(root: Path) -> list[str]:
    r = root.as_posix()
    return [
        "file:///etc/passwd",
        f"file://{r}/../../../../etc/passwd",
        f"file://{r}/sub/../../../../../etc/passwd",
        f"file://{r}/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        f"file://{r}/..%2f..%2f..%2f..%2fetc%2fpasswd",
        f"file://{r}/%2E%2E%2F%2E%2E%2F%2E%2E%2F%2E%2E%2Fetc%2Fpasswd",
        "file:../../../../etc/passwd",
        "file:%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        f"file://localhost{quote(r)}/../../../../etc/passwd",
        f"file://{r}/sub/..\\..\\..\\..\\etc\\passwd",
        f"file://{r}/cmt.owl%00.ttl",
    ]


def test_file_urls_cannot_leave_the_allowed_directory(client, file_root, live):
    target = (file_root / "confOf.owl").as_uri()
    for bad in _traversals(file_root):
        r = client.post("/match", data={"source": bad, "target": target})
        assert r.status_code in (400, 403), (bad, r.status_code, r.text)
        assert r.headers["content-type"].startswith("application/json")
        assert "root:" not in r.text  # never a byte of the file
        r = client.post("/graphs", data={"url": bad, "name": "x"}, files={"dummy": ("x", b"")}, headers=live.auth)
        assert r.status_code in (400, 403), (bad, r.status_code, r.text)
    # double encoding stays a (missing) name inside the root
    r = client.post("/match", data={"source": f"file://{file_root.as_posix()}/%252e%252e/etc/passwd", "target": target})
    assert r.status_code == 404


def test_symlinks_out_of_the_root_are_refused(client, file_root):
    link = file_root / "escape.owl"
    if not link.exists():
        os.symlink("/etc/passwd", link)
    r = client.post("/match", data={"source": link.as_uri(), "target": (file_root / "cmt.owl").as_uri()})
    assert r.status_code == 403 and "outside" in r.json()["message"]


def test_no_remote_or_odd_urls_unless_allowed(client, live, file_root):
    target = (file_root / "cmt.owl").as_uri()
    for url in (f"{live.url}/graphs/cmt", "https://example.org/onto.owl", "ftp://example.org/x.owl",
                "gopher://127.0.0.1:70/", "data:text/plain,hello", "file://example.org/etc/passwd"):
        r = client.post("/match", data={"source": url, "target": target})
        assert r.status_code == 403, (url, r.text)
        assert r.json()["error"] == "Forbidden"
    r = client.post("/match", data={"source": "/etc/passwd", "target": target})
    assert r.status_code == 400 and "file: URL" in r.json()["message"]


def test_read_only_server_reads_no_file_urls(live_ro, file_root):
    with live_ro.client() as c:
        r = c.post("/match", data={"source": (file_root / "cmt.owl").as_uri(),
                                   "target": (file_root / "confOf.owl").as_uri()})
        assert r.status_code == 403 and "--file-root" in r.json()["message"]


def test_static_files_do_not_traverse(live):
    status, body = _raw_get(live, "/static/console.js")
    assert status == 200 and b"kgalign web console" in body
    for path in ("/static/../app.py", "/static/..%2fapp.py", "/static/%2e%2e/app.py", "/static/%2e%2e%2fapp.py",
                 "/static/../../../../etc/passwd", "/static/..%2f..%2f..%2f..%2fetc%2fpasswd",
                 "/report/..%2f..%2f..%2fetc%2fpasswd"):
        status, body = _raw_get(live, path)
        assert status in (400, 403, 404, 501), (path, status)
        assert b"import" not in body and b"root:" not in body, path


# -- errors are JSON ---------------------------------------------------------------------------------


def test_unknown_routes_and_methods_are_json(client):
    r = client.get("/no/such/thing")
    assert r.status_code == 404 and r.json()["error"] == "NotFound"
    r = client.delete("/sparql")
    assert r.status_code == 405 and r.json()["error"] == "MethodNotAllowed" and "GET" in r.json()["allowed"]
    r = client.put("/match")
    assert r.status_code == 405 and r.headers["content-type"] == "application/json"


def test_an_internal_error_is_json_without_a_traceback(request, http_ws):
    from kgalign.server import ServerConfig, create_app

    async def boom(_request):
        raise RuntimeError("secret internals /etc/shadow")

    app = create_app(ServerConfig(workspace=http_ws.path), workspace=http_ws)
    app.router.routes.append(Route("/boom", boom))
    with ServerThread(app) as st, __import__("httpx").Client(base_url=f"http://127.0.0.1:{st.port}") as c:
        r = c.get("/boom")
    assert r.status_code == 500
    assert r.json() == {"error": "InternalError", "message": "internal error (RuntimeError); see the server log"}
    assert "Traceback" not in r.text and "/etc/shadow" not in r.text


@pytest.mark.parametrize("path", ["/", "/status", "/openapi.json"])
def test_security_headers(client, path):
    r = client.get(path)
    assert r.headers["x-content-type-options"] == "nosniff"
    if path == "/":
        assert "default-src 'self'" in r.headers["content-security-policy"]
