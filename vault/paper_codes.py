"""The text inside the QR codes printed on covers, contents lists and separator sheets.

A code names a dossier by its archive number, and a separator sheet for one document type adds the
type: `DVA1:KH-2026-000123` or `DVA1:KH-2026-000123:contract`. The prefix carries a version so a later
layout can be told apart, and keeps codes of other systems (a product barcode on a scanned page) from
being taken for ours.
"""

from __future__ import annotations

from dataclasses import dataclass

PREFIX = "DVA1"


@dataclass(frozen=True)
class SheetCode:
    """What a scanned code says: the dossier's archive number, and the document type for a type separator."""

    archive_no: str
    doc_type: str | None = None


def encode(archive_no: str, doc_type: str | None = None) -> str:
    """The QR text for a dossier's sheets, or for its separator of one document type."""
    return f"{PREFIX}:{archive_no}" + (f":{doc_type}" if doc_type else "")


def decode(text: str) -> SheetCode | None:
    """The code's meaning, or None when the text is not one of ours (any other barcode on a page)."""
    parts = text.strip().split(":")
    if len(parts) not in (2, 3) or parts[0] != PREFIX or not parts[1]:
        return None
    return SheetCode(parts[1], parts[2] if len(parts) == 3 and parts[2] else None)
