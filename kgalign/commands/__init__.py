"""CLI subcommands, one module per area, each exposing ``register(subparsers)``."""

from __future__ import annotations

import argparse

from kgalign.api import Workspace


def open_workspace(args: argparse.Namespace, *, write: bool = False) -> Workspace:
    """Open the workspace named on the command line: read-write only when the command writes."""
    if write:
        return Workspace.open(args.workspace)
    return Workspace.open(args.workspace, create=False, read_only=True)
