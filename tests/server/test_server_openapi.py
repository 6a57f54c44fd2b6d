"""/openapi.json is kept true: every route of the app is described, every described path exists."""

from __future__ import annotations

import re

from starlette.routing import Match, Mount, Route

from kgalign.server.openapi import MOUNT_OPERATIONS, openapi_path


def _app_operations(app) -> set[tuple[str, str]]:
    ops = set()
    for route in app.routes:
        if isinstance(route, Mount):
            for path, methods in MOUNT_OPERATIONS[route.name].items():
                assert path.startswith(route.path + "/"), (route.path, path)
                ops |= {(path, m) for m in methods}
        else:
            assert isinstance(route, Route)
            ops |= {(openapi_path(route.path), m.lower()) for m in route.methods if m != "HEAD"}
    return ops


def test_every_route_is_described_and_every_description_routes(client, live):
    doc = client.get("/openapi.json").json()
    assert doc["openapi"].startswith("3.")
    described = {(p, m) for p, ops in doc["paths"].items() for m in ops}
    assert described == _app_operations(live.app)
    # each described path, with sample values for its parameters, reaches a route of the app
    for path, ops in doc["paths"].items():
        concrete = re.sub(r"\{[^}]+\}", "x", path.replace("{n}", "7"))
        scope = {"type": "http", "path": concrete, "method": next(iter(ops)).upper(), "root_path": ""}
        assert any(r.matches(scope)[0] == Match.FULL for r in live.app.routes), path


def test_operations_are_complete(client):
    doc = client.get("/openapi.json").json()
    for path, ops in doc["paths"].items():
        names = set(re.findall(r"\{([^}]+)\}", path))
        for method, op in ops.items():
            assert op["summary"], (method, path)
            assert "200" in op["responses"] or "201" in op["responses"] or "204" in op["responses"], (method, path)
            if not path.startswith("/static"):
                assert op["responses"]["500"]["content"]["application/json"]["schema"] == {
                    "$ref": "#/components/schemas/Error"}
            declared = {p["name"] for p in op.get("parameters", []) if p["in"] == "path"}
            assert declared == names, (method, path)
            if op.get("security"):
                assert "401" in op["responses"] and "403" in op["responses"]
    assert "writeToken" in doc["components"]["securitySchemes"]
    ids = [op["operationId"] for ops in doc["paths"].values() for op in ops.values()]
    assert len(ids) == len(set(ids))


def test_a_route_without_a_description_fails_the_build():
    import pytest

    from kgalign.server.openapi import build_document

    async def undocumented(request):  # pragma: no cover - never served
        return None

    with pytest.raises(ValueError, match="GET /x has no OpenAPI description"):
        build_document([Route("/x", undocumented, methods=["GET"])])
