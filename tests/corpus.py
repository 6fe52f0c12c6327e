"""Where the shared test corpus lives: beside the project's root, read-only."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus"
SYNTHETIC = CORPUS / "synthetic"
REALWORLD = CORPUS / "realworld"
BAD = CORPUS / "bad"


def manifest(folder: Path) -> dict[str, Any]:
    """The manifest.json of a corpus folder."""
    return json.loads((folder / "manifest.json").read_text(encoding="utf-8"))


def text_layer(path: Path) -> str:
    """The text layer of a corpus PDF's pages, or a DOCX's paragraphs and table cells (a small loader
    for building test and benchmark indexes, not the sandboxed extractor)."""
    if path.suffix == ".pdf":
        from pypdf import PdfReader

        return "\n".join(page.extract_text() or "" for page in PdfReader(path).pages)
    import docx

    document = docx.Document(str(path))
    parts = [p.text for p in document.paragraphs]
    parts += [cell.text for table in document.tables for row in table.rows for cell in row.cells]
    return "\n".join(parts)
