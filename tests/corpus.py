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
