"""kgalign over HTTP: one Starlette app (``kgalign serve``) that KG curation tools can call or embed.

::

    from kgalign.server import ServerConfig, create_app, serve
    serve(ServerConfig(workspace=".kgalign", port=8000))

=====================================  ==============================================================
``GET /``                              the web console (plain HTML/JS/CSS from ``static/``)
``GET|POST /sparql``                   SPARQL 1.1 Protocol; results by content negotiation; updates
                                       by POST with the write token
``GET|POST /query``                    the kgalign query language: ``{"query": ...}`` in, JSON out
``GET|POST /graphs``                   the artefacts; POST uploads one (write token)
``GET|DELETE /graphs/{name}``          one artefact as JSON or RDF; DELETE drops it (write token)
``GET /symbols``, ``/symbol``,         symbol lists and symbol pages (hierarchy, SAE features,
``/symbols/{graph}/{name}``            neighbours, mapping candidates)
``GET /features``, ``/features/{n}``   the feature dashboard (label, density, top symbols, snippets)
``GET /mappings``                      mappings as JSON, SSSOM TSV or Alignment API RDF/XML
``GET /report``                        the pruning report (HTML)
``POST /match``                        the OAEI matcher interface of MELT's web packaging
``GET /status``, ``/openapi.json``     what this server offers; the OpenAPI description of it all
=====================================  ==============================================================

The server binds 127.0.0.1 unless told otherwise and opens the workspace read-only
unless started with a write token (``--write-token`` or ``KGALIGN_WRITE_TOKEN``; sent as
``Authorization: Bearer <token>``). Request bodies and uploads have size limits (413),
every query runs in a bounded worker pool with a deadline (504; 503 when full),
``file:`` URLs are read only inside ``--file-root`` directories and ``http(s):`` URLs
only with ``--allow-remote-urls``. Every error is JSON: ``{"error": type, "message": ...}``.
"""

from __future__ import annotations

from kgalign.server.app import create_app, serve
from kgalign.server.config import ServerConfig

__all__ = ["ServerConfig", "create_app", "serve"]
