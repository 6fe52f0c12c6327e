"""Decide at upload, from the content alone, whether a file is one of the five accepted types.

The upload path streams the plaintext through a `ContentInspector` chunk by chunk while it is being
encrypted; the inspector keeps only a bounded amount of it (the head, a rolling tail, and a whole
DOCX up to 64 MiB so its ZIP can be checked for bombs). The client's file name and Content-Type are
never consulted: a PDF named `.docx` is a PDF.
"""

from __future__ import annotations

import io
import lzma
import re
import struct
import unicodedata
import zipfile
import zlib
from dataclasses import dataclass
from typing import BinaryIO

import magic

from vault.errors import Invalid, Phrase, TooLarge, UnsupportedFileType, phrase

KiB = 1024
MiB = 1024 * KiB

PDF = "application/pdf"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
PNG = "image/png"
JPEG = "image/jpeg"
TIFF = "image/tiff"

ALLOWED: dict[str, str] = {PDF: ".pdf", DOCX: ".docx", PNG: ".png", JPEG: ".jpg", TIFF: ".tif"}

HEAD_BYTES = 64 * KiB  # kept from the start of every file
TAIL_BYTES = 1 * MiB  # rolling window kept from the end (ZIP central directory, PDF trailer)
DECIDE_AFTER = 8 * KiB  # the type is decided (and a wrong one refused) once this much is known
WHOLE_DOCX_BYTES = 64 * MiB  # a DOCX up to this size is held whole and checked fully at finish
PDF_JUNK_BYTES = 1024  # viewers accept this much garbage before %PDF-
MAX_IMAGE_PIXELS = 100_000_000

_WHAT_TO_DO = phrase("Upload a PDF, DOCX, PNG, JPEG or TIFF file.")
_ZIP_MAGIC = b"PK\x03\x04"
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_TIFF_MAGICS = (b"II*\x00", b"MM\x00*")
_BIGTIFF_MAGICS = (b"II+\x00", b"MM\x00+")


@dataclass(frozen=True)
class Inspection:
    """What the content of an accepted upload is."""

    mime: str
    extension: str
    size: int
    pages: int | None
    warnings: tuple[str, ...]


# -- type signatures ----------------------------------------------------------------------------


def _pdf_offset(head: bytes) -> int | None:
    """Where `%PDF-` starts, if within the garbage allowance; None when it is not there."""
    at = head.find(b"%PDF-", 0, PDF_JUNK_BYTES + 5)
    return None if at < 0 else at


def _signature(head: bytes) -> str | None:
    """The allowed MIME type whose signature the first bytes carry (DOCX is only 'a ZIP' here)."""
    if head.startswith(_ZIP_MAGIC):
        return DOCX
    if head.startswith(_PNG_MAGIC):
        return PNG
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head[:4] in _TIFF_MAGICS:
        return TIFF
    if _pdf_offset(head) is not None:
        return PDF
    return None


def _libmagic(head: bytes) -> tuple[str, str]:
    """libmagic's MIME type and description of the head, or 'unknown' when it cannot tell."""
    try:
        return magic.from_buffer(head, mime=True), magic.from_buffer(head)
    except Exception:  # libmagic errors are not the uploader's problem; we only lose a hint
        return "application/octet-stream", "unknown data"


def _unsupported(head: bytes) -> UnsupportedFileType:
    detected, description = _libmagic(head)
    if head[:4] in _BIGTIFF_MAGICS:
        description = "BigTIFF image (not supported)"
    hint = description.split(",")[0].strip() or detected
    if detected == "text/html" or detected.startswith("text/"):
        what = phrase("The file is not a PDF, DOCX or image: its content is text ({hint}).", hint=hint)
    elif head.startswith(b"\x7fELF") or detected in ("application/x-executable", "application/x-sharedlib"):
        what = phrase("The file is not a document: it is an executable program.")
    else:
        what = phrase("The file is not a PDF, DOCX, PNG, JPEG or TIFF: its content looks like {hint}.", hint=hint)
    return UnsupportedFileType(
        "{what} The name and type sent by the browser do not count, only the content does. "
        "{what_to_do}", params={"what": what, "what_to_do": _WHAT_TO_DO},
        detected=detected,
    )


# -- image dimensions from the head -------------------------------------------------------------


def _png_size(head: bytes) -> tuple[int, int] | None:
    if len(head) < 24 or head[12:16] != b"IHDR":
        return None
    width, height = struct.unpack(">II", head[16:24])
    return width, height


_SOF_MARKERS = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def _jpeg_size(head: bytes) -> tuple[int, int] | None:
    """Width and height from the first SOF marker, if it lies within the head."""
    pos = 2
    while pos + 4 <= len(head):
        if head[pos] != 0xFF:
            return None
        marker = head[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in (0x01, *range(0xD0, 0xD8)):  # markers without a length
            pos += 2
            continue
        (length,) = struct.unpack(">H", head[pos + 2 : pos + 4])
        if marker in _SOF_MARKERS:
            if pos + 9 > len(head):
                return None
            height, width = struct.unpack(">HH", head[pos + 5 : pos + 9])
            return width, height
        if marker == 0xDA or length < 2:  # start of scan before any frame header: give up
            return None
        pos += 2 + length
    return None


def _tiff_sizes(head: bytes) -> list[tuple[int, int]] | None:
    """(width, height) of each page whose directory lies within the head; None if one does not."""
    if len(head) < 8:
        return None
    order = "<" if head[:2] == b"II" else ">"
    (offset,) = struct.unpack(order + "I", head[4:8])
    sizes: list[tuple[int, int]] = []
    seen: set[int] = set()
    while offset:
        if offset in seen or offset + 2 > len(head) or len(sizes) >= 10_000:
            return None
        seen.add(offset)
        (count,) = struct.unpack(order + "H", head[offset : offset + 2])
        end = offset + 2 + 12 * count
        if end + 4 > len(head):
            return None
        dims: dict[int, int] = {}
        for i in range(count):
            tag, kind, _n = struct.unpack(order + "HHI", head[offset + 2 + 12 * i : offset + 10 + 12 * i])
            value = head[offset + 10 + 12 * i : offset + 14 + 12 * i]
            if tag in (256, 257):
                dims[tag] = struct.unpack(
                    order + ("H" if kind == 3 else "I"), value[: 2 if kind == 3 else 4]
                )[0]
        sizes.append((dims.get(256, 0), dims.get(257, 0)))
        (offset,) = struct.unpack(order + "I", head[end : end + 4])
    return sizes


def _refuse_pixel_bomb(width: int, height: int, kind: str) -> None:
    if width * height > MAX_IMAGE_PIXELS:
        raise Invalid(
            "file",
            "The {kind} image is {width} x {height} pixels ({megapixels:.0f} megapixels); "
            "images over {max_megapixels} megapixels are refused. Scan at 300 dpi or less "
            "and upload again.",
            params={"kind": kind, "width": width, "height": height, "megapixels": width * height / 1e6,
                    "max_megapixels": MAX_IMAGE_PIXELS // 1_000_000},
            code="image_too_large",
            width=width,
            height=height,
        )


# -- DOCX (ZIP) checks --------------------------------------------------------------------------

_DTD_PATTERNS = tuple(
    p.encode(enc) for p in ("<!DOCTYPE", "<!ENTITY") for enc in ("ascii", "utf-16-le", "utf-16-be")
)
_XML_TYPE = re.compile(
    rb"""(Extension|PartName)\s*=\s*["']([^"']*)["'][^>]*?ContentType\s*=\s*["']([^"']*)"""
)
_RATIO_FLOOR = 1 * MiB  # tiny parts compress absurdly well; ratios matter only above this size


def _unsafe(message: Phrase, **details: object) -> Invalid:
    return Invalid(
        "file",
        "The Word document is unsafe to open: {message}. Save it again from Word (or export it as "
        "PDF) and upload that file.", params={"message": message},
        code="unsafe_docx",
        **details,
    )


def _not_docx(message: Phrase) -> Invalid:
    return Invalid(
        "file",
        "The file is not a valid Word document (DOCX): {message}. Save it again from Word as "
        ".docx, or export it as PDF. {what_to_do}", params={"message": message, "what_to_do": _WHAT_TO_DO},
        code="not_a_docx",
    )


def _check_directory(
    infos: list[zipfile.ZipInfo], *, max_total_uncompressed: int, max_entries: int, max_ratio: int
) -> None:
    """The checks the central directory alone allows: parts present, entry count, declared sizes."""
    if len(infos) > max_entries:
        raise _unsafe(phrase("it holds {parts} parts (at most {max_entries} are allowed)", parts=len(infos),
                                    max_entries=max_entries))
    names = {info.filename for info in infos}
    if "" in names:
        raise _not_docx(phrase("a part has an empty name"))
    if "[Content_Types].xml" not in names:
        raise _not_docx(phrase("it is a ZIP archive without [Content_Types].xml"))
    if "word/document.xml" not in names:
        raise _not_docx(phrase("the main part word/document.xml is missing"))
    if any(n.lower() == "word/vbaproject.bin" for n in names):
        raise _unsafe(phrase("it contains macros (word/vbaProject.bin)"))
    declared = 0
    for info in infos:
        if info.flag_bits & 0x1:
            raise _unsafe(phrase("the part {filename!r} is encrypted", filename=info.filename))
        declared += info.file_size
        if info.file_size > _RATIO_FLOOR and info.file_size > max_ratio * max(info.compress_size, 1):
            raise _unsafe(
                phrase("the part {filename!r} expands {ratio} times (a ZIP bomb; at most {max_ratio} times is allowed)",
                       filename=info.filename, ratio=info.file_size // max(info.compress_size, 1), max_ratio=max_ratio)
            )
    if declared > max_total_uncompressed:
        raise _unsafe(
            phrase("it expands to {size_mib} MiB (at most {max_mib} MiB is allowed)", size_mib=declared // MiB,
                   max_mib=max_total_uncompressed // MiB)
        )


def _xml_parts(zf: zipfile.ZipFile) -> tuple[set[str], set[str]]:
    """Extensions and part names that [Content_Types].xml declares as XML (read with a small cap)."""
    with zf.open("[Content_Types].xml") as fh:
        types = fh.read(1 * MiB + 1)
    if len(types) > 1 * MiB:
        raise _unsafe(phrase("[Content_Types].xml is larger than 1 MiB"))
    if any(p in types for p in _DTD_PATTERNS):
        raise _unsafe(phrase("[Content_Types].xml declares a DTD or entities"))
    extensions: set[str] = {"xml", "rels"}
    parts: set[str] = set()
    for kind, name, content_type in _XML_TYPE.findall(types):
        if b"xml" not in content_type.lower():
            continue
        text = name.decode("utf-8", "replace")
        if kind == b"Extension":
            extensions.add(text.lower())
        else:
            parts.add(text.lstrip("/"))
    return extensions, parts


def check_docx_zip(
    fileobj: BinaryIO,
    *,
    max_total_uncompressed: int = 256 * MiB,
    max_entries: int = 2000,
    max_ratio: int = 200,
) -> None:
    """Refuse a DOCX that is not a Word package or that would be dangerous to open.

    Reads every part by streaming decompression with a running cap, so a lying directory cannot
    make it inflate more than `max_total_uncompressed` bytes; refuses DTDs/entities in XML parts.
    Raises Invalid with code `not_a_docx` or `unsafe_docx`.
    """
    try:
        zf = zipfile.ZipFile(fileobj)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError, NotImplementedError, struct.error):
        raise _not_docx(phrase("it is not a readable ZIP archive")) from None
    with zf:
        infos = zf.infolist()
        _check_directory(
            infos, max_total_uncompressed=max_total_uncompressed, max_entries=max_entries, max_ratio=max_ratio
        )
        try:
            extensions, xml_parts = _xml_parts(zf)
            total = 0
            for info in infos:
                if info.is_dir():
                    continue
                ext = info.filename.rsplit(".", 1)[-1].lower() if "." in info.filename else ""
                scan_dtd = ext in extensions or info.filename in xml_parts
                total += _read_part(zf, info, max_total_uncompressed - total, max_ratio, scan_dtd)
        except (
            zipfile.BadZipFile, OSError, EOFError, NotImplementedError, RuntimeError, ValueError,
            zlib.error, lzma.LZMAError,  # a corrupt deflated / LZMA part (bzip2 raises OSError)
        ) as exc:
            raise _not_docx(phrase("a part cannot be read ({exc})", exc=exc)) from None


def _read_part(
    zf: zipfile.ZipFile, info: zipfile.ZipInfo, budget: int, max_ratio: int, scan_dtd: bool
) -> int:
    """Inflate one part in chunks, counting bytes and looking for DTDs; returns its real size."""
    size = 0
    carry = b""
    ratio_cap = max_ratio * max(info.compress_size, 1)
    with zf.open(info) as fh:
        while chunk := fh.read(256 * KiB):
            size += len(chunk)
            if size > budget:
                raise _unsafe(phrase("its parts expand beyond the allowed total size (a ZIP bomb)"))
            if size > _RATIO_FLOOR and size > ratio_cap:
                raise _unsafe(phrase("the part {filename!r} expands more than {max_ratio} times (a ZIP bomb)",
                                     filename=info.filename, max_ratio=max_ratio))
            if scan_dtd:
                window = carry + chunk
                if any(p in window for p in _DTD_PATTERNS):
                    raise _unsafe(phrase("the XML part {filename!r} declares a DTD or entities",
                                                filename=info.filename))
                carry = window[-32:]
    return size


class _TailView(io.RawIOBase):
    """A read-only file of `size` bytes of which only the last `len(tail)` are known."""

    def __init__(self, tail: bytes, size: int) -> None:
        self._tail = tail
        self._size = size
        self._start = size - len(tail)
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def tell(self) -> int:
        return self._pos

    def read(self, n: int | None = -1) -> bytes:
        end = self._size if n is None or n < 0 else min(self._size, self._pos + n)
        if self._pos >= end:
            return b""
        if self._pos < self._start:
            raise OSError("the ZIP directory lies outside the inspected tail")
        data = self._tail[self._pos - self._start : end - self._start]
        self._pos = end
        return data


def _check_large_docx_directory(tail: bytes, size: int) -> None:
    """For a DOCX too large to hold: check only its central directory (declared sizes)."""
    try:
        with zipfile.ZipFile(_TailView(tail, size)) as zf:
            infos = zf.infolist()
    except OSError:
        raise _unsafe(phrase("its ZIP directory is larger than 1 MiB (far too many parts)")) from None
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError, NotImplementedError, struct.error):
        raise _not_docx(phrase("it is not a readable ZIP archive")) from None
    _check_directory(infos, max_total_uncompressed=256 * MiB, max_entries=2000, max_ratio=200)


# -- the streaming inspector --------------------------------------------------------------------


class ContentInspector:
    """Watches an upload stream and decides, from content only, whether it may be stored.

    `feed` raises TooLarge as soon as the stream passes `max_bytes`, and refuses a wrong type once
    the first 8 KiB are known, so the upload can stop early. `finish` gives the verdict.
    """

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._size = 0
        self._head = bytearray()
        self._tail = bytearray()
        self._whole: bytearray | None = None  # a ZIP up to WHOLE_DOCX_BYTES
        self._whole_given_up = False
        self._mime: str | None = None
        self._decided = False

    @property
    def size(self) -> int:
        return self._size

    def feed(self, chunk: bytes) -> None:
        """Take the next piece of the stream."""
        if not chunk:
            return
        if self._size + len(chunk) > self.max_bytes:
            raise TooLarge(
                "The file is larger than the {limit} upload limit. Split it into smaller "
                "files or scan at a lower resolution, then upload again.",
                params={"limit": _human(self.max_bytes)},
                limit=self.max_bytes,
            )
        if len(self._head) < HEAD_BYTES:
            self._head += chunk[: HEAD_BYTES - len(self._head)]
        self._keep_whole(chunk)
        self._tail += chunk[-TAIL_BYTES:]
        if len(self._tail) > 2 * TAIL_BYTES:
            del self._tail[:-TAIL_BYTES]
        self._size += len(chunk)
        if not self._decided and len(self._head) >= DECIDE_AFTER:
            self._decide()

    def _keep_whole(self, chunk: bytes) -> None:
        if self._whole_given_up:
            return
        if self._whole is None:
            if self._size + len(chunk) <= HEAD_BYTES:
                return  # the head holds everything so far
            if not bytes(self._head[:4]) == _ZIP_MAGIC:
                self._whole_given_up = True
                return
            self._whole = bytearray(self._head[: self._size])  # what came before this chunk
        if len(self._whole) + len(chunk) > WHOLE_DOCX_BYTES:
            self._whole = None
            self._whole_given_up = True
            return
        self._whole += chunk

    def _decide(self) -> None:
        """Settle the type from the head; refuse what is not allowed."""
        self._decided = True
        head = bytes(self._head)
        mime = _signature(head)
        if mime is None:
            raise _unsupported(head)
        if mime == PNG and (dims := _png_size(head)):
            _refuse_pixel_bomb(*dims, "PNG")
        if mime == JPEG and (dims := _jpeg_size(head)):
            _refuse_pixel_bomb(*dims, "JPEG")
        self._mime = mime

    def finish(self) -> Inspection:
        """The verdict on the whole stream: an Inspection, or a refusal that says what to do."""
        if self._size == 0:
            raise Invalid("file", "The file is empty (0 bytes). {what_to_do}",
                          params={"what_to_do": _WHAT_TO_DO}, code="empty_file")
        if not self._decided:
            self._decide()
        assert self._mime is not None
        head = bytes(self._head)
        warnings: list[str] = []
        pages: int | None = None
        if self._mime == PDF:
            self._check_pdf(head, warnings)
        elif self._mime == DOCX:
            self._check_docx(warnings)
        elif self._mime == TIFF:
            pages = self._check_tiff(head, warnings)
        else:
            pages = 1
            if self._mime == JPEG and _jpeg_size(head) is None:
                warnings.append("JPEG dimensions not found in the first 64 KiB; checked at extraction")
        return Inspection(
            mime=self._mime,
            extension=ALLOWED[self._mime],
            size=self._size,
            pages=pages,
            warnings=tuple(warnings),
        )

    def _check_pdf(self, head: bytes, warnings: list[str]) -> None:
        offset = _pdf_offset(head)
        assert offset is not None
        if offset:
            detected, _ = _libmagic(head)
            if detected.startswith("text/") or "html" in detected or "xml" in detected:
                raise UnsupportedFileType(
                    "The file starts as {detected} and only later carries a PDF header; such mixed files are "
                    "refused. {what_to_do}", params={"detected": detected, "what_to_do": _WHAT_TO_DO},
                    detected=detected,
                )
            warnings.append(f"{offset} bytes of garbage before the %PDF- header")
        if b"obj" not in head and b"obj" not in self._tail:
            raise Invalid(
                "file",
                "The PDF is empty or broken: it has a PDF header but no content (no objects). Export or "
                "scan it again and upload the new file.",
                code="invalid_pdf",
            )

    def _check_docx(self, warnings: list[str]) -> None:
        if self._whole is not None:
            check_docx_zip(io.BytesIO(self._whole))
        elif self._size > HEAD_BYTES:
            _check_large_docx_directory(bytes(self._tail), self._size)
            warnings.append("DOCX larger than 64 MiB: only its ZIP directory was checked at upload")
        else:  # small enough to sit in the head entirely
            check_docx_zip(io.BytesIO(bytes(self._head[: self._size])))

    def _check_tiff(self, head: bytes, warnings: list[str]) -> int | None:
        sizes = _tiff_sizes(head)
        if sizes is None:
            warnings.append("TIFF directories not all within the first 64 KiB; sizes checked at extraction")
            return None
        for width, height in sizes:
            _refuse_pixel_bomb(width, height, "TIFF")
        return len(sizes) or None


def _human(n: int) -> str:
    return f"{n / MiB:.0f} MiB" if n >= MiB else f"{n} bytes"


# -- file names ---------------------------------------------------------------------------------

_BIDI = dict.fromkeys([*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F, 0x061C])
_EXT_ALIASES = {".jpg": {".jpg", ".jpeg", ".jpe"}, ".tif": {".tif", ".tiff"}}
MAX_NAME_CHARS = 120


def filename_problem(name: str | bytes) -> str | None:
    """Why a client file name must be refused outright, or None when sanitising it is enough."""
    has_nul = b"\x00" in name if isinstance(name, bytes) else "\x00" in name
    if has_nul:
        return (
            "The file name contains a NUL character, which is never part of a real file name. Rename the "
            "file and upload it again."
        )
    return None


def sanitize_filename(name: str | bytes, mime_ext: str) -> str:
    """A display name safe to store and show: last path component, no control or bidi characters,
    at most 120 characters, and always ending in the sniffed extension `mime_ext` (e.g. '.pdf')."""
    if isinstance(name, bytes):
        name = name.decode("utf-8", errors="replace")
    # lone surrogates (from surrogateescape decoding) cannot be stored as UTF-8
    name = name.encode("utf-8", errors="replace").decode("utf-8")
    name = re.split(r"[/\\]", name)[-1]
    name = "".join(
        " " if ch in "\t\n\r\v\f" else ch
        for ch in name
        if ord(ch) not in _BIDI and (unicodedata.category(ch) != "Cc" or ch in "\t\n\r\v\f")
    )
    name = re.sub(r"\s+", " ", name).strip()
    name = name.lstrip(". ").rstrip(". ")
    ext = mime_ext.lower() if mime_ext.startswith(".") else f".{mime_ext.lower()}"
    stem, dot, given = name.rpartition(".")
    if dot and f".{given.lower()}" in _EXT_ALIASES.get(ext, {ext}):
        name = stem.rstrip(". ")
    elif name.lower() in {a.lstrip(".") for a in _EXT_ALIASES.get(ext, {ext})}:
        name = ""  # the name was only the extension
    name = name[: MAX_NAME_CHARS - len(ext)].rstrip(". ")
    return f"{name or 'document'}{ext}"
