"""Text extraction in the sandboxed child, with real pypdf, python-docx, pdfium and Tesseract."""

from __future__ import annotations

import os
import re
import resource
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from indexer import sandbox
from indexer.extract import Extraction, ExtractionFailed, extract
from indexer.sandbox import SandboxUnavailable
from tests.corpus import BAD, REALWORLD, SYNTHETIC, manifest
from vault.errors import VaultError
from vault.filetypes import DOCX
from vault.filetypes.inspector import ContentInspector

_WS = re.compile(r"\s+")


def norm(text: str) -> str:
    return _WS.sub(" ", text).strip().casefold()


def squash(text: str) -> str:
    return _WS.sub("", text).casefold()


def sniff(path: Path) -> str:
    inspector = ContentInspector(500 * 1024 * 1024)
    inspector.feed(path.read_bytes())
    return inspector.finish().mime


def outcome(path: Path, mime: str, **limits: Any) -> Extraction | ExtractionFailed:
    try:
        return extract(path, mime, **limits)
    except ExtractionFailed as exc:
        return exc


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# -- realworld files ----------------------------------------------------------------------------

REALWORLD_FILES = manifest(REALWORLD)["files"]


def text_sample(entry: dict[str, Any]) -> str:
    """The sample the manifest promises a correct extractor finds (poppler's where pypdf garbles)."""
    if entry.get("pypdf_text_quality", "").startswith("garbled"):
        return str(entry["poppler_pdftotext_sample"])
    for key in ("docx_text_sample", "ocr_text_sample", "tesseract_eng_sample_page1", "pypdf_text_sample"):
        if entry.get(key):
            return str(entry[key])
    return ""


@pytest.mark.parametrize("entry", REALWORLD_FILES, ids=[f["path"] for f in REALWORLD_FILES])
def test_each_realworld_file_ends_as_its_manifest_expects(entry: dict[str, Any]) -> None:
    path = REALWORLD / entry["path"]
    result = outcome(path, sniff(path))
    allowed = {entry["expected_behaviour"], *entry.get("acceptable_alternatives", [])}
    if isinstance(result, ExtractionFailed):
        assert "accept_mark_extraction_failed" in allowed, result.reason
        assert result.reason
        return
    assert "accept" in allowed
    assert result.text.strip()
    sample = text_sample(entry)
    if sample:
        words = [w for w in sample.split() if len(w) > 1]
        found = [w for w in words if squash(w) in squash(result.text)]
        assert len(found) * 2 >= len(words), f"{sample!r} not in {result.text[:300]!r}"


def test_a_password_protected_pdf_fails_with_a_reason_that_says_so() -> None:
    result = outcome(REALWORLD / "pysf-005-password-protected.pdf", "application/pdf")
    assert isinstance(result, ExtractionFailed)
    assert "password" in result.reason


def test_pages_of_a_scanned_pdf_are_ocrd_and_counted() -> None:
    result = extract(REALWORLD / "paperless-multi-page-images.pdf", "application/pdf")
    assert (result.pages, result.ocr_pages, result.method) == (3, 3, "ocr")
    for page in (1, 2, 3):
        assert f"page {page}" in norm(result.text)


def test_a_garbled_text_layer_is_replaced_by_pdfium_text() -> None:
    result = extract(REALWORLD / "pdfminer-jo-japanese.pdf", "application/pdf")
    assert "わたくしといふ現象は" in result.text
    assert result.method == "text"


# -- bad files ----------------------------------------------------------------------------------


def accepted_by_inspector(entry: dict[str, Any]) -> str | None:
    try:
        return sniff(BAD / entry["path"])
    except VaultError:
        return None  # refused at upload: covered by tests/unit/test_filetypes.py


BAD_ACCEPTED = [
    (entry, mime)
    for entry in manifest(BAD)["files"]
    if entry["path"] and (mime := accepted_by_inspector(entry))
]


@pytest.mark.parametrize(("entry", "mime"), BAD_ACCEPTED, ids=[e["path"] for e, _ in BAD_ACCEPTED])
def test_each_bad_file_the_inspector_accepts_ends_as_its_manifest_allows(
    entry: dict[str, Any], mime: str
) -> None:
    before = peak_rss_mb()
    result = outcome(BAD / entry["path"], mime, timeout_s=60, memory_mb=1024)
    allowed = {entry["expected_behaviour"], *entry.get("acceptable_alternatives", [])}
    if isinstance(result, ExtractionFailed):
        assert "accept_mark_extraction_failed" in allowed, result.reason
    else:
        assert "accept" in allowed
        assert result.text.strip()
    assert peak_rss_mb() - before < 100  # the parent is untouched by whatever the file did


@pytest.mark.parametrize(
    ("name", "mime"),
    [
        ("zip-bomb.docx", DOCX),
        ("billion-laughs.docx", DOCX),
        ("png-bomb-30000x30000.png", "image/png"),
        ("elf-binary.jpg", "image/jpeg"),
        ("not-a-zip.docx", DOCX),
        ("html-with-script.pdf", "application/pdf"),
    ],
)
def test_hostile_files_handed_straight_to_extract_fail_safely_within_the_limits(name: str, mime: str) -> None:
    before = peak_rss_mb()
    started = time.monotonic()
    result = outcome(BAD / name, mime, timeout_s=30, memory_mb=512)
    assert isinstance(result, ExtractionFailed)
    assert result.reason
    assert time.monotonic() - started < 35
    assert peak_rss_mb() - before < 100


def test_the_zip_bomb_reason_says_it_is_a_zip_bomb() -> None:
    result = outcome(BAD / "zip-bomb.docx", DOCX)
    assert isinstance(result, ExtractionFailed)
    assert "ZIP bomb" in result.reason


# -- synthetic text-layer files -----------------------------------------------------------------

SYNTHETIC_FILES = manifest(SYNTHETIC)["files"]
TEXT_FILES = [f for f in SYNTHETIC_FILES if not f["needs_ocr"]]


@pytest.fixture(scope="module")
def text_layer_extractions() -> dict[str, Extraction | ExtractionFailed]:
    """Every text-layer file extracted once, two at a time (the machine has two cores)."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = pool.map(lambda f: outcome(SYNTHETIC / f["path"], f["mime"]), TEXT_FILES)
        return dict(zip((f["path"] for f in TEXT_FILES), results, strict=True))


@pytest.mark.parametrize("entry", TEXT_FILES, ids=[f["path"] for f in TEXT_FILES])
def test_every_manifest_term_of_a_text_layer_file_is_extracted(
    entry: dict[str, Any], text_layer_extractions: dict[str, Extraction | ExtractionFailed]
) -> None:
    result = text_layer_extractions[entry["path"]]
    assert isinstance(result, Extraction), getattr(result, "reason", "")
    text = norm(result.text)
    missing = [t for t in entry["terms"] if norm(t) not in text]
    assert not missing
    assert result.method == "text" and result.ocr_pages == 0
    assert result.pages == entry["pages"]


# -- OCR ----------------------------------------------------------------------------------------

# The OCR term recall over every synthetic scan is checked on the text the worker stored for the search
# corpus (tests/search/test_search_corpus.py): the same extraction, run once instead of twice.


def test_ocr_output_has_no_spaces_between_chinese_characters() -> None:
    result = extract(SYNTHETIC / "C04/04_关于申请延期付款的函_scan.jpg", "image/jpeg")
    assert "申请延期付款" in result.text
    assert not re.search(r"[\u4e00-\u9fff] +[\u4e00-\u9fff]", result.text)


# -- limits -------------------------------------------------------------------------------------


def test_an_ocr_job_over_its_time_limit_fails_with_the_time_reason() -> None:
    started = time.monotonic()
    result = outcome(SYNTHETIC / "C01/01_营业执照副本.png", "image/png", timeout_s=1)
    assert isinstance(result, ExtractionFailed)
    assert "longer than 1 s" in result.reason
    assert time.monotonic() - started < 10


def test_an_extraction_over_its_memory_limit_fails_with_the_memory_reason() -> None:
    result = outcome(SYNTHETIC / "C01/01_营业执照副本.png", "image/png", memory_mb=64)
    assert isinstance(result, ExtractionFailed)
    assert result.reason == "extraction exceeded the 64 MiB memory limit"


def _sandbox_processes() -> dict[int, int]:
    """pid -> parent pid of every process running `indexer.sandbox` (zygotes and the children they fork)."""
    found = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmdline = (stat.parent / "cmdline").read_bytes()
        except OSError:
            continue
        if b"indexer.sandbox" in cmdline:
            found[int(stat.parent.name)] = int(fields[1])
    return found


def sandbox_children() -> list[int]:
    """Pids of the extraction children working for this process (forked by its zygotes)."""
    processes = _sandbox_processes()
    zygotes = {pid for pid, parent in processes.items() if parent == os.getpid()}
    return [pid for pid, parent in processes.items() if parent in zygotes]


def signal_child_when_it_starts(sig: signal.Signals) -> threading.Thread:
    def send() -> None:
        for _ in range(200):
            if pids := sandbox_children():
                time.sleep(0.3)
                os.kill(pids[0], sig)
                return
            time.sleep(0.05)

    thread = threading.Thread(target=send)
    thread.start()
    return thread


def test_a_child_that_crashes_becomes_a_readable_failure_and_the_parent_lives_on() -> None:
    thread = signal_child_when_it_starts(signal.SIGSEGV)
    result = outcome(SYNTHETIC / "C01/01_营业执照副本.png", "image/png", timeout_s=60)
    thread.join()
    assert isinstance(result, ExtractionFailed)
    assert "crashed (SIGSEGV)" in result.reason
    assert isinstance(extract(BAD / "benign-content.pdf", "application/pdf"), Extraction)


def test_a_child_that_stops_answering_is_killed_by_the_parent_at_the_time_limit() -> None:
    thread = signal_child_when_it_starts(signal.SIGSTOP)
    started = time.monotonic()
    result = outcome(SYNTHETIC / "C01/01_营业执照副本.png", "image/png", timeout_s=2)
    thread.join()
    assert isinstance(result, ExtractionFailed)
    assert "longer than 2 s" in result.reason
    assert time.monotonic() - started < 15
    assert sandbox_children() == []


def test_a_docx_is_read_by_a_zygote_that_never_loaded_the_pdf_and_image_libraries() -> None:
    """The DOCX zygote is small, so forking it for each document is cheaper; a PDF goes to the other kind."""
    docx_text = extract(REALWORLD / "pydocx-test.docx", DOCX)
    pdf_text = extract(BAD / "benign-content.pdf", "application/pdf")
    assert isinstance(docx_text, Extraction) and isinstance(pdf_text, Extraction)
    zygotes = {z.kind: z.proc.pid for z in sandbox._idle if z.alive()}
    libraries = {kind: Path(f"/proc/{pid}/maps").read_text() for kind, pid in zygotes.items()}
    for library in ("pdfium", "cv2", "_imaging"):  # pypdfium2, OpenCV, PIL
        assert library not in libraries[sandbox.DOCX_ZYGOTE]
        assert library in libraries[sandbox.FULL_ZYGOTE]


def test_what_the_libraries_log_is_kept_with_the_file_that_made_them_log_it_and_no_other() -> None:
    damaged = extract(REALWORLD / "paperless-invalid_pdf.pdf", "application/pdf")
    clean = extract(BAD / "benign-content.pdf", "application/pdf")
    assert isinstance(damaged, Extraction) and isinstance(clean, Extraction)
    assert any(w.startswith("pypdf._reader: invalid pdf header") for w in damaged.warnings)
    assert not any(w.startswith("pypdf") for w in clean.warnings)


def test_an_unknown_type_is_not_extracted() -> None:
    with pytest.raises(ExtractionFailed, match="not extracted"):
        extract(BAD / "benign-content.pdf", "text/html")


def test_a_killed_zygote_is_a_passing_fault_and_the_next_extraction_starts_a_new_one() -> None:
    def kill_zygote() -> None:
        for _ in range(200):
            if children := sandbox_children():
                os.kill(_sandbox_processes()[children[0]], signal.SIGKILL)  # the zygote that forked the job
                return
            time.sleep(0.05)

    thread = threading.Thread(target=kill_zygote)
    thread.start()
    with pytest.raises(SandboxUnavailable):  # the worker retries these with back-off
        extract(SYNTHETIC / "C01/01_营业执照副本.png", "image/png", timeout_s=60)
    thread.join()
    assert isinstance(extract(BAD / "benign-content.pdf", "application/pdf"), Extraction)
