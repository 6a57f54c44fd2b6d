"""File helpers every layer uses (part of the base, like :mod:`kgalign.errors`): content hashes."""

from __future__ import annotations

import hashlib
from pathlib import Path


def sha256_of(path: str | Path) -> str:
    """SHA-256 of a file's bytes, read in 1 MiB chunks (artefact provenance, SAE weights in run ids)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
