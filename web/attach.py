"""Attach engines from the layers above vault (the search index) to the vault object."""

from __future__ import annotations

from flask import Flask


def attach_engines(app: Flask) -> None:
    """Open the search index if the indexer layer provides one (it is derived and rebuildable)."""
    try:
        from indexer.service import attach_index
    except ImportError:
        return
    attach_index(app.extensions["vault"])
