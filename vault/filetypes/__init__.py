"""What a file is: the five accepted types, decided at upload from the content alone.

The rooms of this package:

- `inspector`: `ContentInspector` streams an upload and gives its `Inspection` (type, pages, warnings);
- `docx`: the ZIP/DOCX package checks (bombs, macros, DTDs), also run by the extractor;
- `images`: image dimensions from the first bytes (PNG, JPEG, TIFF) and the pixel-bomb refusal;
- `names`: the rules for a client's file name (refused outright, or sanitised for display).

This module holds only what they share: the type names, the accepted extensions and the limits.
"""

from __future__ import annotations

from vault.errors import phrase

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

#: what every refusal of a type tells the uploader to do instead
WHAT_TO_DO = phrase("Upload a PDF, DOCX, PNG, JPEG or TIFF file.")
