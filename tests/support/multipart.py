"""Encode a multipart upload in memory (werkzeug's test encoder leaks its temp file for big bodies)."""

from __future__ import annotations

import io
import secrets
from collections.abc import Mapping
from typing import Any


def encode(fields: Mapping[str, str], filename: str, data: bytes, *, file_first: bool = False) -> tuple[bytes, str]:
    boundary = "----dv" + secrets.token_hex(12)
    out = io.BytesIO()

    def field(name: str, value: str) -> None:
        out.write(f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n".encode())
        out.write(value.encode("utf-8") + b"\r\n")

    def file() -> None:
        quoted = filename.replace("\\", "\\\\").replace('"', '\\"')
        out.write(f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{quoted}\"\r\n"
                  "Content-Type: application/octet-stream\r\n\r\n".encode("utf-8", "surrogateescape"))
        out.write(data + b"\r\n")

    if file_first:
        file()
    for k, v in fields.items():
        field(k, v)
    if not file_first:
        file()
    out.write(f"--{boundary}--\r\n".encode())
    return out.getvalue(), f"multipart/form-data; boundary={boundary}"


def post_file(client: Any, url: str, headers: Mapping[str, str], fields: Mapping[str, str], filename: str,
              data: bytes, *, file_first: bool = False) -> Any:
    body, ctype = encode(fields, filename, data, file_first=file_first)
    return client.post(url, headers={**headers, "Content-Type": ctype}, input_stream=io.BytesIO(body),
                       content_length=len(body))
