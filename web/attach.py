"""Attach engines from the layers above vault (the search index) to the vault object."""

from __future__ import annotations

from flask import Flask

from indexer.service import attach_index


def attach_engines(app: Flask) -> None:
    """Open the search index (it is derived and rebuildable) on the app's vault."""
    attach_index(app.extensions["vault"])
