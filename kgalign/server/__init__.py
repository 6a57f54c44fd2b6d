"""kgalign over HTTP: the SPARQL 1.1 Protocol, the query language, resource pages, the OAEI/MELT
matcher interface and a web console, served by one Starlette app (``kgalign serve``).

::

    from kgalign.server import ServerConfig, create_app, serve
    serve(ServerConfig(workspace=".kgalign", port=8000))
"""

from __future__ import annotations

from kgalign.server.app import create_app, serve
from kgalign.server.config import ServerConfig

__all__ = ["ServerConfig", "create_app", "serve"]
