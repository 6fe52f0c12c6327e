"""`dossier import` as a newcomer meets it: where the files go, that indexing follows in the background,
and `--wait`, which returns once they are searchable; run as a real process against a fresh home."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from tests.corpus import SYNTHETIC
from tests.integration.test_cli import _run

REALWORLD = SYNTHETIC.parent / "realworld"


def _home_with_archivist(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    assert _run(home, "init").returncode == 0
    added = _run(home, "user", "add", "li.archivist", "--role", "archivist", "--password-stdin",
                 stdin="a-long-password-1\n")
    assert added.returncode == 0, added.stderr
    return home


def test_import_says_indexing_continues_in_the_background_and_wait_makes_the_files_searchable(
        tmp_path: Path) -> None:
    home = _home_with_archivist(tmp_path)
    manifest = json.loads((SYNTHETIC / "manifest.json").read_text(encoding="utf-8"))
    entries = [f for f in manifest["files"] if f["customer_id"] == "C01" and not f["needs_ocr"]][:2]
    corpus = tmp_path / "corpus"
    for f in entries:
        (corpus / f["path"]).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(SYNTHETIC / f["path"], corpus / f["path"])
    (corpus / "m.json").write_text(json.dumps({**manifest, "files": entries}, ensure_ascii=False), encoding="utf-8")
    term = f'"{entries[0]["terms"][0]}"'

    first = _run(home, "import", str(corpus), "--manifest", str(corpus / "m.json"))
    assert first.returncode == 0, first.stderr
    assert "2 of these files are not indexed yet" in first.stdout
    # the two files, and the new dossier's customer-file entry
    assert "index queue: 3 jobs" in first.stdout and "--wait" in first.stdout
    assert "dossier KH-" in first.stdout and entries[0]["customer"] in first.stdout
    assert _run(home, "search", term, "--as", "li.archivist").stdout.startswith("0 documents match")

    # the files are there already: --wait indexes them (no server runs here) and returns when done
    waited = _run(home, "import", str(corpus), "--manifest", str(corpus / "m.json"), "--wait")
    assert waited.returncode == 0, waited.stderr
    assert "already present 2" in waited.stdout and "indexed 2, failed 0" in waited.stdout
    assert "Indexing" in waited.stderr and "not indexed yet" not in waited.stdout
    found = _run(home, "search", term, "--as", "li.archivist")
    assert re.match(r"[1-9]\d* documents match", found.stdout), found.stdout


def test_files_naming_no_customer_go_to_one_dossier_named_after_their_folder(tmp_path: Path) -> None:
    home = _home_with_archivist(tmp_path)
    manifest = json.loads((REALWORLD / "manifest.json").read_text(encoding="utf-8"))
    names = ["pysf-001-minimal-document.pdf", "pysf-005-password-protected.pdf"]
    entries = [f for f in manifest["files"] if f["path"] in names]
    corpus = tmp_path / "realworld"
    corpus.mkdir()
    for f in entries:
        shutil.copy(REALWORLD / f["path"], corpus / f["path"])
    (corpus / "manifest.json").write_text(json.dumps({**manifest, "files": entries}), encoding="utf-8")

    result = _run(home, "import", str(corpus), "--manifest", str(corpus / "manifest.json"), "--wait")
    assert result.returncode == 0, result.stderr
    assert "uploaded 2" in result.stdout and "unknown" not in result.stdout
    dossier = re.search(r"dossier (KH-\d{4}-\d{6}): realworld\n", result.stdout)
    assert dossier is not None, result.stdout
    # the password-protected PDF is stored but cannot be read: said, with the reason, not hidden
    assert "indexed 1, failed 1" in result.stdout
    assert re.search(r"not searchable: #\d+ pysf-005-password-protected .*password", result.stdout)
    found = _run(home, "search", "lorem", "--as", "li.archivist")
    assert found.stdout.startswith("1 documents match") and dossier.group(1) in found.stdout
    # the dossier the import opened has its card: the customer is found by the folder's name
    by_name = _run(home, "search", "realworld", "--as", "li.archivist")
    assert f"[{dossier.group(1)}] card: realworld" in by_name.stdout, by_name.stdout

    again = _run(home, "import", str(corpus), "--manifest", str(corpus / "manifest.json"))
    assert "already present 2" in again.stdout and f"dossier {dossier.group(1)}: realworld" in again.stdout
