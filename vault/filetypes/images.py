"""Image dimensions read from the first bytes of a PNG, JPEG or TIFF, and the refusal of pixel bombs."""

from __future__ import annotations

import struct

from vault.errors import Invalid

MAX_IMAGE_PIXELS = 100_000_000


def png_size(head: bytes) -> tuple[int, int] | None:
    if len(head) < 24 or head[12:16] != b"IHDR":
        return None
    width, height = struct.unpack(">II", head[16:24])
    return width, height


_SOF_MARKERS = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def jpeg_size(head: bytes) -> tuple[int, int] | None:
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


def tiff_sizes(head: bytes) -> list[tuple[int, int]] | None:
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


def refuse_pixel_bomb(width: int, height: int, kind: str) -> None:
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
