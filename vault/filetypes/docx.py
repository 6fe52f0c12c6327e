"""The checks of a DOCX as a ZIP package: a Word document, and safe to open (no bomb, macros or DTDs).

Run at upload by the inspector (the whole file up to 64 MiB, else its central directory alone). The
extractor opens a package with `open_docx_zip` (the central directory's checks) and reads each part it
parses through `read_xml_part` (a DTD refused there as here); a package over 64 MiB, of which the upload
saw the directory alone, it checks whole first.
"""

from __future__ import annotations

import io
import lzma
import re
import struct
import zipfile
import zlib
from pathlib import Path
from typing import BinaryIO

from vault.errors import Invalid, Phrase, phrase
from vault.filetypes import WHAT_TO_DO, KiB, MiB

_DTD_PATTERNS = tuple(
    p.encode(enc) for p in ("<!DOCTYPE", "<!ENTITY") for enc in ("ascii", "utf-16-le", "utf-16-be")
)
_ASCII_DTD = re.compile(rb"<!(?:DOCTYPE|ENTITY)")  # the two ASCII patterns in one scan
_XML_TYPE = re.compile(
    rb"""(Extension|PartName)\s*=\s*["']([^"']*)["'][^>]*?ContentType\s*=\s*["']([^"']*)"""
)
_RATIO_FLOOR = 1 * MiB  # tiny parts compress absurdly well; ratios matter only above this size
MAX_UNCOMPRESSED = 256 * MiB
MAX_ENTRIES = 2000
MAX_RATIO = 200
_ZIP_OPEN_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError, NotImplementedError,
                    struct.error)
_PART_READ_ERRORS = (
    zipfile.BadZipFile, OSError, EOFError, NotImplementedError, RuntimeError, ValueError,
    zlib.error, lzma.LZMAError,  # a corrupt deflated / LZMA part (bzip2 raises OSError)
)


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
        ".docx, or export it as PDF. {what_to_do}", params={"message": message, "what_to_do": WHAT_TO_DO},
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


def _declares_dtd(data: bytes) -> bool:
    """Whether the bytes hold a DTD or entity declaration, in ASCII (UTF-8) or UTF-16. Each UTF-16 pattern
    holds a NUL byte, so without one (one quick scan) only the ASCII patterns are looked for: 6 scans of every
    XML part cost as much as inflating it, and every upload makes them. The ASCII ones are one regular expression:
    0.58 → 0.41 ms over the 830 KB of XML of python-docx's template."""
    if b"\0" in data:
        return any(p in data for p in _DTD_PATTERNS)
    return _ASCII_DTD.search(data) is not None


def _declares_dtd_refusal(filename: str) -> Invalid:
    return _unsafe(phrase("the XML part {filename!r} declares a DTD or entities", filename=filename))


def _xml_parts(zf: zipfile.ZipFile) -> tuple[set[str], set[str]]:
    """Extensions and part names that [Content_Types].xml declares as XML (read with a small cap)."""
    with zf.open("[Content_Types].xml") as fh:
        types = fh.read(1 * MiB + 1)
    if len(types) > 1 * MiB:
        raise _unsafe(phrase("[Content_Types].xml is larger than 1 MiB"))
    if _declares_dtd(types):
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
    max_total_uncompressed: int = MAX_UNCOMPRESSED,
    max_entries: int = MAX_ENTRIES,
    max_ratio: int = MAX_RATIO,
) -> None:
    """Refuse a DOCX that is not a Word package or that would be dangerous to open.

    Reads every part by streaming decompression with a running cap, so a lying directory cannot
    make it inflate more than `max_total_uncompressed` bytes; refuses DTDs/entities in XML parts.
    Raises Invalid with code `not_a_docx` or `unsafe_docx`.
    """
    with _open(fileobj) as zf:
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
        except _PART_READ_ERRORS as exc:
            raise _not_docx(phrase("a part cannot be read ({exc})", exc=exc)) from None


def _open(file: BinaryIO | Path) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(file)
    except _ZIP_OPEN_ERRORS:
        raise _not_docx(phrase("it is not a readable ZIP archive")) from None


def open_docx_zip(file: BinaryIO | Path) -> zipfile.ZipFile:
    """The package, open, once its central directory passed the checks that need no part inflated
    (parts present, entry count, macros, encryption, declared sizes and ratios). Its XML parts are read
    with `read_xml_part`, which inflates no more than a part's declared size."""
    zf = _open(file)
    try:
        _check_directory(zf.infolist(), max_total_uncompressed=MAX_UNCOMPRESSED, max_entries=MAX_ENTRIES,
                         max_ratio=MAX_RATIO)
    except Invalid:
        zf.close()
        raise
    return zf


def read_xml_part(zf: zipfile.ZipFile, name: str) -> bytes:
    """One XML part of a package from `open_docx_zip`, refused if it declares a DTD or entities. A part the
    package lacks is a KeyError, as in `ZipFile.read`."""
    try:
        data = zf.read(name)  # zipfile stops at the declared size and checks the CRC
    except _PART_READ_ERRORS as exc:
        raise _not_docx(phrase("a part cannot be read ({exc})", exc=exc)) from None
    if _declares_dtd(data):
        raise _declares_dtd_refusal(name)
    return data


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
                if _declares_dtd(window):
                    raise _declares_dtd_refusal(info.filename)
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


def check_large_docx_directory(tail: bytes, size: int) -> None:
    """For a DOCX too large to hold: check only its central directory (declared sizes)."""
    try:
        with zipfile.ZipFile(_TailView(tail, size)) as zf:
            infos = zf.infolist()
    except OSError:
        raise _unsafe(phrase("its ZIP directory is larger than 1 MiB (far too many parts)")) from None
    except _ZIP_OPEN_ERRORS:
        raise _not_docx(phrase("it is not a readable ZIP archive")) from None
    _check_directory(infos, max_total_uncompressed=MAX_UNCOMPRESSED, max_entries=MAX_ENTRIES, max_ratio=MAX_RATIO)
