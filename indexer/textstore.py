"""Extracted text, encrypted with the version's own data key: kept in `vault.services.texts`.

The vault reads it too (a checkout's DOCX is shown and copied as pages rendered from its text), and
the vault imports no indexer module, so the code lives there; the indexer keeps its old import path.
"""

from __future__ import annotations

from vault.services.texts import open_text, seal_text

__all__ = ["open_text", "seal_text"]
