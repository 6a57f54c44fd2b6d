"""What a server is started with: one validated dataclass, filled from the command line or Python.

>>> ServerConfig(workspace="ws").read_only
True
>>> ServerConfig(workspace="ws", write_token="s3cret-token-123").read_only
False
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from kgalign.errors import ConfigError

WRITE_TOKEN_ENV = "KGALIGN_WRITE_TOKEN"
MIN_TOKEN_LENGTH = 12

#: When /match embeds the two ontologies before matching: never, always, or when the
#: neural scorer is installed and the two hold at most ``match_embed_max_symbols`` symbols.
MATCH_NEURAL_POLICIES = ("auto", "never", "always")

MiB = 1 << 20


@dataclass
class ServerConfig:
    """Everything ``kgalign serve`` can be told. Sizes are bytes, times seconds."""

    workspace: str | Path | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    #: Bearer token that unlocks writes (uploads, SPARQL UPDATE, drops); None = read-only server.
    write_token: str | None = None
    #: Largest request body that is not a multipart upload (queries, forms, JSON).
    max_body: int = 1 * MiB
    #: Largest multipart upload (POST /graphs, POST /match), and largest file read from a URL.
    max_upload: int = 64 * MiB
    #: Deadline of one SPARQL/DSL query or resource lookup.
    query_timeout: float = 30.0
    #: Deadline of one match (POST /match, GET /mappings) and of one load.
    match_timeout: float = 300.0
    #: Worker threads that run queries, and how many requests may wait or run before 503.
    workers: int = 8
    max_pending: int = 64
    #: Directories file: URLs may point into (POST /match, POST /graphs); empty = no file: URLs.
    file_roots: tuple[str | Path, ...] = ()
    #: Whether POST /match and POST /graphs may fetch http(s) URLs.
    allow_remote_urls: bool = False
    #: Origins allowed to call the API from a browser (CORS); empty = same origin only.
    cors_origins: tuple[str, ...] = ()
    #: A pre-built report directory to serve at /report (else it is generated on demand).
    report_dir: str | Path | None = None
    match_neural: str = "auto"
    match_embed_max_symbols: int = 1000
    #: Where POST /match (form-encoded, MELT URL mode) writes result files; None = a temp dir.
    results_dir: str | Path | None = None

    def __post_init__(self) -> None:
        if self.write_token is not None:
            self.write_token = self.write_token.strip() or None
        if self.write_token is not None and len(self.write_token) < MIN_TOKEN_LENGTH:
            raise ConfigError(f"the write token must be at least {MIN_TOKEN_LENGTH} characters long")
        for name in ("max_body", "max_upload", "workers", "max_pending", "match_embed_max_symbols"):
            if int(getattr(self, name)) < 1:
                raise ConfigError(f"{name} must be at least 1, not {getattr(self, name)}")
        for name in ("query_timeout", "match_timeout"):
            if float(getattr(self, name)) <= 0:
                raise ConfigError(f"{name} must be positive, not {getattr(self, name)}")
        if not 0 < int(self.port) < 65536 and int(self.port) != 0:
            raise ConfigError(f"port must be between 1 and 65535 (or 0 for any free port), not {self.port}")
        if self.match_neural not in MATCH_NEURAL_POLICIES:
            raise ConfigError(
                f"unknown match_neural policy {self.match_neural!r}; known policies: {', '.join(MATCH_NEURAL_POLICIES)}"
            )
        roots = []
        for r in self.file_roots:
            p = Path(r).expanduser()
            if not p.is_dir():
                raise ConfigError(f"file root {str(r)!r} is not a directory")
            roots.append(p.resolve())
        self.file_roots = tuple(roots)
        self.cors_origins = tuple(self.cors_origins)

    @property
    def read_only(self) -> bool:
        """Without a write token the workspace is opened read-only and every write is refused."""
        return self.write_token is None

    @staticmethod
    def token_from_env() -> str | None:
        return os.environ.get(WRITE_TOKEN_ENV) or None
