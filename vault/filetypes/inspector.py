"""Decide at upload, from the content alone, whether a file is one of the five accepted types.

The upload path streams the plaintext through a `ContentInspector` chunk by chunk while it is being
encrypted; the inspector keeps only a bounded amount of it (the head, a rolling tail, and a whole
DOCX up to 64 MiB so its ZIP can be checked for bombs). The client's file name and Content-Type are
never consulted: a PDF named `.docx` is a PDF.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import magic

from vault.errors import Invalid, TooLarge, UnsupportedFileType, phrase
from vault.filetypes import (
    ALLOWED,
    DECIDE_AFTER,
    DOCX,
    HEAD_BYTES,
    JPEG,
    PDF,
    PDF_JUNK_BYTES,
    PNG,
    TAIL_BYTES,
    TIFF,
    WHAT_TO_DO,
    WHOLE_DOCX_BYTES,
    MiB,
)
from vault.filetypes.docx import check_docx_zip, check_large_docx_directory
from vault.filetypes.images import jpeg_size, png_size, refuse_pixel_bomb, tiff_sizes

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
        "{what_to_do}", params={"what": what, "what_to_do": WHAT_TO_DO},
        detected=detected,
    )


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
        if mime == PNG and (dims := png_size(head)):
            refuse_pixel_bomb(*dims, "PNG")
        if mime == JPEG and (dims := jpeg_size(head)):
            refuse_pixel_bomb(*dims, "JPEG")
        self._mime = mime

    def finish(self) -> Inspection:
        """The verdict on the whole stream: an Inspection, or a refusal that says what to do."""
        if self._size == 0:
            raise Invalid("file", "The file is empty (0 bytes). {what_to_do}",
                          params={"what_to_do": WHAT_TO_DO}, code="empty_file")
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
            if self._mime == JPEG and jpeg_size(head) is None:
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
                    "refused. {what_to_do}", params={"detected": detected, "what_to_do": WHAT_TO_DO},
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
            check_large_docx_directory(bytes(self._tail), self._size)
            warnings.append("DOCX larger than 64 MiB: only its ZIP directory was checked at upload")
        else:  # small enough to sit in the head entirely
            check_docx_zip(io.BytesIO(bytes(self._head[: self._size])))

    def _check_tiff(self, head: bytes, warnings: list[str]) -> int | None:
        sizes = tiff_sizes(head)
        if sizes is None:
            warnings.append("TIFF directories not all within the first 64 KiB; sizes checked at extraction")
            return None
        for width, height in sizes:
            refuse_pixel_bomb(width, height, "TIFF")
        return len(sizes) or None


def _human(n: int) -> str:
    return f"{n / MiB:.0f} MiB" if n >= MiB else f"{n} bytes"
