"""The rules for a client's file name: what is refused outright, and how it is made safe to store and show."""

from __future__ import annotations

import re
import unicodedata

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
