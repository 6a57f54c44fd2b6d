"""kgalign: align knowledge graphs in the concept coordinate system of a sparse autoencoder."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
