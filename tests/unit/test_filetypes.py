"""Upload-time content inspection: the type comes from the bytes, never from the name."""

from __future__ import annotations

import io
import os
import struct
import zipfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from tests.corpus import BAD, REALWORLD, SYNTHETIC, manifest
from vault.errors import Invalid, TooLarge, UnsupportedFileType, VaultError
from vault.filetypes import ALLOWED, DOCX, MiB
from vault.filetypes.docx import check_docx_zip
from vault.filetypes.inspector import ContentInspector, Inspection
from vault.filetypes.names import filename_problem, sanitize_filename

REFUSAL_CODES = {
    "empty_file",
    "unsupported_file_type",
    "file_too_large",
    "unsafe_docx",
    "not_a_docx",
    "image_too_large",
    "invalid_pdf",
}
MIME_BY_FORMAT = {"pdf": "application/pdf", "docx": DOCX, "png": "image/png", "jpeg": "image/jpeg"}


def inspect_bytes(data: bytes, *, chunk: int = 64 * 1024, max_bytes: int = 200 * MiB) -> Inspection:
    inspector = ContentInspector(max_bytes)
    for start in range(0, len(data), chunk):
        inspector.feed(data[start : start + chunk])
    return inspector.finish()


def inspect_file(path: Path) -> Inspection:
    return inspect_bytes(path.read_bytes(), chunk=8192)


def docx_bytes(parts: dict[str, bytes], *, compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression) as zf:
        for name, data in parts.items():
            zf.writestr(name, data)
    return buf.getvalue()


MINIMAL_DOCX = {
    "[Content_Types].xml": b'<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/'
    b'2006/content-types"><Default Extension="xml" ContentType="application/xml"/></Types>',
    "word/document.xml": b'<?xml version="1.0"?><w:document xmlns:w="urn:w"><w:body/></w:document>',
}


# -- the bad corpus, driven by its manifest -----------------------------------------------------

BAD_FILES = [f for f in manifest(BAD)["files"] if f["path"]]


@pytest.mark.parametrize("entry", BAD_FILES, ids=[f["path"] for f in BAD_FILES])
def test_each_bad_file_is_refused_or_accepted_as_its_manifest_expects(entry: dict[str, Any]) -> None:
    path = BAD / entry["path"]
    if entry["expected_behaviour"] == "reject":
        with pytest.raises((Invalid, UnsupportedFileType, TooLarge)) as refused:
            inspect_file(path)
        error = refused.value
        assert isinstance(error, VaultError)
        assert 400 <= error.status < 500
        assert error.code in REFUSAL_CODES
        assert "Upload" in error.message or "upload" in error.message  # says what to do
    else:
        inspection = inspect_file(path)
        assert inspection.mime in ALLOWED
        assert inspection.size == entry["bytes"]


def test_a_pdf_named_docx_is_accepted_and_stored_as_a_pdf() -> None:
    inspection = inspect_file(BAD / "really-a-pdf.docx")
    assert (inspection.mime, inspection.extension) == ("application/pdf", ".pdf")


def test_html_named_pdf_is_refused_as_unsupported_and_says_it_is_text() -> None:
    with pytest.raises(UnsupportedFileType, match="text") as refused:
        inspect_file(BAD / "html-with-script.pdf")
    assert refused.value.status == 415


def test_an_empty_upload_is_refused_with_the_empty_file_code() -> None:
    with pytest.raises(Invalid) as refused:
        ContentInspector(1000).finish()
    assert (refused.value.field, refused.value.code) == ("file", "empty_file")


def test_the_zip_bomb_and_billion_laughs_are_refused_as_unsafe_docx() -> None:
    for name in ("zip-bomb.docx", "billion-laughs.docx"):
        with pytest.raises(Invalid) as refused:
            inspect_file(BAD / name)
        assert refused.value.code == "unsafe_docx"


def test_the_png_bomb_is_refused_after_its_first_chunk() -> None:
    inspector = ContentInspector(200 * MiB)
    with pytest.raises(Invalid) as refused:
        inspector.feed((BAD / "png-bomb-30000x30000.png").read_bytes()[: 16 * 1024])
    assert refused.value.code == "image_too_large"


# -- every good file passes ---------------------------------------------------------------------

SYNTHETIC_FILES = manifest(SYNTHETIC)["files"]
REALWORLD_FILES = manifest(REALWORLD)["files"]


@pytest.mark.parametrize("entry", SYNTHETIC_FILES, ids=[f["path"] for f in SYNTHETIC_FILES])
def test_every_synthetic_file_is_accepted_with_its_real_type(entry: dict[str, Any]) -> None:
    inspection = inspect_file(SYNTHETIC / entry["path"])
    assert inspection.mime == entry["mime"]
    assert inspection.size == entry["bytes"]
    if entry["format"] in ("png", "jpeg"):
        assert inspection.pages == 1


@pytest.mark.parametrize("entry", REALWORLD_FILES, ids=[f["path"] for f in REALWORLD_FILES])
def test_every_realworld_file_is_accepted_with_its_real_type(entry: dict[str, Any]) -> None:
    inspection = inspect_file(REALWORLD / entry["path"])
    assert inspection.mime == MIME_BY_FORMAT[entry["format"]]


def test_garbage_before_the_pdf_header_is_accepted_up_to_1024_bytes_with_a_warning() -> None:
    pdf = (BAD / "benign-content.pdf").read_bytes()
    inspection = inspect_bytes(b"\x00" * 1024 + pdf)
    assert inspection.mime == "application/pdf"
    assert inspection.warnings
    with pytest.raises(UnsupportedFileType):
        inspect_bytes(b"\x00" * 1025 + pdf)


def test_html_that_later_carries_a_pdf_header_is_refused() -> None:
    pdf = (BAD / "benign-content.pdf").read_bytes()
    with pytest.raises(UnsupportedFileType):
        inspect_bytes(b"<!DOCTYPE html><html><script>alert(1)</script>" + pdf)


# -- streaming behaviour ------------------------------------------------------------------------


def test_too_large_is_raised_by_the_chunk_that_crosses_the_limit() -> None:
    inspector = ContentInspector(100_000)
    pdf_start = b"%PDF-1.7\n1 0 obj\n" + b" " * 49_983
    inspector.feed(pdf_start)
    inspector.feed(b" " * 50_000)  # exactly at the limit: still fine
    with pytest.raises(TooLarge) as refused:
        inspector.feed(b" ")
    assert refused.value.status == 413


def test_a_wrong_type_is_refused_while_streaming_once_8_kib_are_known() -> None:
    inspector = ContentInspector(200 * MiB)
    inspector.feed(b"<html>" + b"x" * 4000)  # not enough yet to decide
    with pytest.raises(UnsupportedFileType):
        inspector.feed(b"x" * 5000)


def test_an_executable_is_refused_and_called_a_program() -> None:
    with pytest.raises(UnsupportedFileType, match="executable"):
        inspect_bytes(b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 9000)


def test_a_pdf_without_any_object_is_refused_as_invalid_pdf() -> None:
    with pytest.raises(Invalid) as refused:
        inspect_bytes(b"%PDF-1.4\n" + b"%" * 20_000 + b"\n%%EOF\n")
    assert refused.value.code == "invalid_pdf"


def test_a_large_pdf_is_judged_by_its_head_and_tail_not_held_in_memory() -> None:
    body = b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\n" + os.urandom(3 * MiB) + b"\ntrailer\n%%EOF\n"
    inspector = ContentInspector(200 * MiB)
    for start in range(0, len(body), 1 * MiB):
        inspector.feed(body[start : start + 1 * MiB])
    assert inspector.finish().mime == "application/pdf"
    assert inspector._whole is None  # only head and tail were kept
    assert len(inspector._tail) <= 2 * MiB


# -- images -------------------------------------------------------------------------------------


def png_header(width: int, height: int) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IHDR" + ihdr + b"\x00\x00\x00\x00"


def jpeg_header(width: int, height: int) -> bytes:
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    sof = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, height, width, 1) + b"\x01\x11\x00"
    return b"\xff\xd8" + app0 + sof


def tiff_header(width: int, height: int) -> bytes:
    entries = [(256, 4, 1, width), (257, 4, 1, height)]
    ifd = struct.pack("<H", len(entries)) + b"".join(struct.pack("<HHII", *e) for e in entries)
    return b"II*\x00" + struct.pack("<I", 8) + ifd + struct.pack("<I", 0)


@pytest.mark.parametrize("header", [png_header, jpeg_header, tiff_header], ids=["png", "jpeg", "tiff"])
def test_images_over_100_megapixels_are_refused_from_their_header(header: Any) -> None:
    with pytest.raises(Invalid) as refused:
        inspect_bytes(header(20_000, 10_000) + b"\x00" * 100)
    assert refused.value.code == "image_too_large"
    inspection = inspect_bytes(header(10_000, 10_000) + b"\x00" * 100)  # exactly 100 megapixels
    assert inspection.mime.startswith("image/")


def test_real_tiff_scans_are_accepted_with_their_page_count() -> None:
    pages = [Image.new("L", (200, 100), 255), Image.new("L", (200, 100), 0)]
    buf = io.BytesIO()
    pages[0].save(buf, format="TIFF", save_all=True, append_images=pages[1:])
    inspection = inspect_bytes(buf.getvalue())
    assert (inspection.mime, inspection.extension, inspection.pages) == ("image/tiff", ".tif", 2)


def test_a_jpeg_is_stored_with_the_jpg_extension() -> None:
    buf = io.BytesIO()
    Image.new("RGB", (64, 64), "white").save(buf, format="JPEG")
    inspection = inspect_bytes(buf.getvalue())
    assert (inspection.mime, inspection.extension, inspection.pages) == ("image/jpeg", ".jpg", 1)


# -- DOCX packages ------------------------------------------------------------------------------


def test_a_minimal_word_package_is_accepted_as_docx() -> None:
    inspection = inspect_bytes(docx_bytes(MINIMAL_DOCX))
    assert (inspection.mime, inspection.extension) == (DOCX, ".docx")


def test_a_plain_zip_archive_is_refused_as_not_a_docx() -> None:
    with pytest.raises(Invalid) as refused:
        inspect_bytes(docx_bytes({"readme.txt": b"hello"}))
    assert refused.value.code == "not_a_docx"


def test_a_dtd_in_any_xml_part_makes_the_docx_unsafe() -> None:
    parts = dict(MINIMAL_DOCX)
    parts["word/styles.xml"] = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>'
    with pytest.raises(Invalid) as refused:
        inspect_bytes(docx_bytes(parts))
    assert refused.value.code == "unsafe_docx"


def test_a_dtd_in_a_utf16_part_is_found_too() -> None:
    parts = dict(MINIMAL_DOCX)
    parts["word/settings.xml"] = '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE x><x/>'.encode("utf-16")
    with pytest.raises(Invalid, match="DTD"):
        check_docx_zip(io.BytesIO(docx_bytes(parts)))


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16-le", "utf-16-be"])
def test_an_entity_declared_across_the_read_chunks_of_a_large_part_is_found_in_every_encoding(encoding: str) -> None:
    # the declaration straddles the 256 KiB boundary where the part is read in two chunks
    filler = "<w:p/>" * 50_000
    unit = len("x".encode(encoding))
    cut = (256 * 1024) // unit - 4
    text = filler[:cut] + '<!ENTITY a "b">' + filler[cut:]
    parts = dict(MINIMAL_DOCX)
    parts["word/styles.xml"] = text.encode(encoding)
    with pytest.raises(Invalid, match="DTD") as refused:
        check_docx_zip(io.BytesIO(docx_bytes(parts)))
    assert refused.value.code == "unsafe_docx"
    words = "<w:t>ENTITY, DOCTYPE and <!-- a comment --></w:t>"
    parts["word/styles.xml"] = (filler[:cut] + words + filler[cut:]).encode(encoding)
    check_docx_zip(io.BytesIO(docx_bytes(parts)))  # the words alone are no declaration


def test_too_many_parts_make_the_docx_unsafe() -> None:
    parts = dict(MINIMAL_DOCX) | {f"word/media/p{i}.xml": b"<a/>" for i in range(30)}
    with pytest.raises(Invalid) as refused:
        check_docx_zip(io.BytesIO(docx_bytes(parts)), max_entries=20)
    assert refused.value.code == "unsafe_docx"


def test_the_real_decompressed_size_is_capped_even_when_ratios_look_harmless() -> None:
    parts = dict(MINIMAL_DOCX) | {"word/media/image1.png": os.urandom(3 * MiB)}
    data = docx_bytes(parts, compression=zipfile.ZIP_STORED)
    check_docx_zip(io.BytesIO(data))
    with pytest.raises(Invalid, match="expands") as refused:
        check_docx_zip(io.BytesIO(data), max_total_uncompressed=2 * MiB)
    assert refused.value.code == "unsafe_docx"


def test_a_part_that_inflates_beyond_the_ratio_is_a_zip_bomb() -> None:
    parts = dict(MINIMAL_DOCX) | {"word/media/image1.png": b"\x00" * (5 * MiB)}
    with pytest.raises(Invalid, match="ZIP bomb"):
        check_docx_zip(io.BytesIO(docx_bytes(parts)))


def test_a_directory_that_lies_about_sizes_is_caught_while_inflating() -> None:
    data = bytearray(docx_bytes(dict(MINIMAL_DOCX) | {"word/media/a.bin": b"A" * 400_000}))
    # shrink the declared uncompressed size of the media part in the central directory
    at = data.rfind(b"PK\x01\x02", 0, data.rfind(b"word/media/a.bin"))
    struct.pack_into("<I", data, at + 24, 1000)
    with pytest.raises(Invalid) as refused:
        check_docx_zip(io.BytesIO(bytes(data)))
    assert refused.value.code in ("not_a_docx", "unsafe_docx")


def test_a_macro_enabled_document_is_refused() -> None:
    parts = dict(MINIMAL_DOCX) | {"word/vbaProject.bin": b"\x00" * 100}
    with pytest.raises(Invalid, match="macros"):
        inspect_bytes(docx_bytes(parts))


def test_a_docx_over_64_mib_is_checked_by_its_directory_and_accepted_with_a_warning() -> None:
    parts = dict(MINIMAL_DOCX) | {"word/media/scan.png": os.urandom(65 * MiB)}
    data = docx_bytes(parts, compression=zipfile.ZIP_STORED)
    inspector = ContentInspector(200 * MiB)
    for start in range(0, len(data), 4 * MiB):
        inspector.feed(data[start : start + 4 * MiB])
    inspection = inspector.finish()
    assert inspection.mime == DOCX
    assert any("directory" in w for w in inspection.warnings)


def test_a_docx_over_64_mib_whose_directory_declares_a_bomb_is_refused() -> None:
    parts = dict(MINIMAL_DOCX) | {"word/media/scan.png": os.urandom(65 * MiB)}
    data = bytearray(docx_bytes(parts, compression=zipfile.ZIP_STORED))
    at = data.rfind(b"PK\x01\x02", 0, data.rfind(b"word/media/scan.png"))
    struct.pack_into("<I", data, at + 24, 300 * MiB)  # declared uncompressed size
    with pytest.raises(Invalid) as refused:
        inspect_bytes(bytes(data), chunk=4 * MiB)
    assert refused.value.code == "unsafe_docx"


def test_a_corrupt_zip_is_refused_as_not_a_docx() -> None:
    with pytest.raises(Invalid) as refused:
        inspect_bytes(b"PK\x03\x04" + b"\x00" * 5000)
    assert refused.value.code == "not_a_docx"


# -- file names ---------------------------------------------------------------------------------

NAME_ATTACKS = [f for f in manifest(BAD)["files"] if f["path"] is None]


@pytest.mark.parametrize("entry", NAME_ATTACKS, ids=[f["what"] for f in NAME_ATTACKS])
def test_each_filename_attack_ends_as_its_manifest_allows(entry: dict[str, Any]) -> None:
    name = entry["send_as_filename"]
    ext = inspect_file(BAD / entry["content_file"]).extension
    allowed = {entry["expected_behaviour"], *entry.get("acceptable_alternatives", [])}
    problem = filename_problem(name)
    if problem is not None:
        assert "reject" in allowed
        assert "NUL" in problem
        return
    assert "accept" in allowed
    clean = sanitize_filename(name, ext)
    assert "/" not in clean and "\\" not in clean
    assert not any(ord(c) < 32 or 0x202A <= ord(c) <= 0x202E or 0x2066 <= ord(c) <= 0x2069 for c in clean)
    assert len(clean) <= 120
    assert clean.endswith(ext)
    assert not clean.startswith(".")


def test_a_nul_in_the_name_is_a_reason_to_refuse_as_text_or_bytes() -> None:
    assert filename_problem("contract\x00.pdf")
    assert filename_problem(b"contract\x00.pdf")
    assert filename_problem("contract.pdf") is None


@pytest.mark.parametrize(
    ("name", "ext", "expected"),
    [
        ("../../etc/passwd.pdf", ".pdf", "passwd.pdf"),
        ("..%2F..%2Fetc%2Fpasswd.pdf", ".pdf", "%2F..%2Fetc%2Fpasswd.pdf"),
        ("C:\\Users\\li\\合同.pdf", ".pdf", "合同.pdf"),
        ("营业执照\u202efdp.exe", ".pdf", "营业执照fdp.exe.pdf"),
        ("📄合同扫描件😀.pdf", ".pdf", "📄合同扫描件😀.pdf"),
        ("really-a-pdf.docx", ".pdf", "really-a-pdf.docx.pdf"),
        ("photo.JPEG", ".jpg", "photo.jpg"),
        ("scan.tiff", ".tif", "scan.tif"),
        ("  two\r\nlines\t here .pdf", ".pdf", "two lines here.pdf"),
        ("...hidden.pdf", ".pdf", "hidden.pdf"),
        ("", ".pdf", "document.pdf"),
        (".pdf", ".pdf", "document.pdf"),
        ("\u200e\u2066/", ".docx", "document.docx"),
        (b"caf\xe9.pdf", ".pdf", "caf\ufffd.pdf"),
        ("a\udcff.pdf", ".pdf", "a?.pdf"),
    ],
)
def test_sanitize_filename_keeps_the_last_component_and_the_sniffed_extension(
    name: str | bytes, ext: str, expected: str
) -> None:
    assert sanitize_filename(name, ext) == expected


def test_long_names_are_cut_to_120_characters_keeping_the_extension() -> None:
    assert sanitize_filename("长" * 300 + ".pdf", ".pdf") == "长" * 116 + ".pdf"
    assert sanitize_filename("a" * 300 + ".pdf", ".pdf") == "a" * 116 + ".pdf"


@given(st.one_of(st.text(), st.binary()), st.sampled_from(sorted(ALLOWED.values())))
def test_sanitized_names_are_always_safe_to_store_and_show(name: str | bytes, ext: str) -> None:
    clean = sanitize_filename(name, ext)
    assert clean.endswith(ext) and len(clean) > len(ext)
    assert len(clean) <= 120
    assert "/" not in clean and "\\" not in clean and "\x00" not in clean
    assert not clean.startswith((".", " "))
    assert not any(
        ord(c) < 32 or c in "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069" for c in clean
    )
    clean.encode("utf-8")  # no lone surrogates
