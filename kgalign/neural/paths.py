"""Where the shipped SAE and its files live (the neural layer's own; :mod:`kgalign.index.build` re-exports)."""

from __future__ import annotations

import hashlib
from importlib import resources
from pathlib import Path

DEFAULT_SAE_NAME = "minilm-l6-topk"
FEATURE_STATS_FILE = "feature_stats.json"


def default_sae_dir() -> Path:
    """The SAE that ships with kgalign for the default model."""
    try:
        p = Path(str(resources.files("kgalign") / "data" / "sae" / DEFAULT_SAE_NAME))
    except (ModuleNotFoundError, TypeError):  # pragma: no cover
        p = Path(__file__).resolve().parents[1] / "data" / "sae" / DEFAULT_SAE_NAME
    return p


def sha_file(path: Path) -> str:
    """SHA-256 of a file's bytes, read in 1 MiB chunks (the SAE weights' part of an embed run's id)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
