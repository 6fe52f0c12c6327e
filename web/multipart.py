"""A streaming multipart/form-data reader: file bodies flow through without being spooled anywhere.

Werkzeug's form parser writes large files to a temporary file in plaintext; for an encrypted vault
we read the body as events and hand the file part to the service as an iterator of chunks.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO

from werkzeug.http import parse_options_header
from werkzeug.sansio.multipart import NEED_DATA, Data, Epilogue, Field, File, MultipartDecoder

from vault.errors import VaultError

READ_SIZE = 64 * 1024
MAX_FIELD_BYTES = 16 * 1024
MAX_PARTS = 20


class MalformedForm(VaultError):
    status = 400
    code = "malformed_form"


@dataclass
class FilePart:
    name: str
    filename: str
    chunks: Iterator[bytes]


class StreamingForm:
    """Pull-based reader: fields before the file are collected, the file is streamed, the rest after."""

    def __init__(self, stream: IO[bytes], content_type: str | None) -> None:
        mimetype, options = parse_options_header(content_type or "")
        boundary = options.get("boundary")
        if mimetype != "multipart/form-data" or not boundary:
            raise MalformedForm("send the file as multipart/form-data with a 'file' part",
                                code="expected_multipart")
        self._stream = stream
        self._decoder = MultipartDecoder(boundary.encode("latin-1"), max_parts=MAX_PARTS)
        self._eof = False
        self.fields: dict[str, str] = {}
        self._current_field: str | None = None
        self._field_buf = bytearray()

    def _event(self) -> object:
        while True:
            try:
                event = self._decoder.next_event()
            except ValueError as exc:
                raise MalformedForm("the multipart body is malformed ({problem})",
                                    params={"problem": str(exc)}) from None
            except Exception as exc:  # werkzeug raises RequestEntityTooLarge for too many parts
                raise MalformedForm("the multipart body is not acceptable ({error})",
                                    params={"error": type(exc).__name__}) from None
            if event is not NEED_DATA:
                return event
            if self._eof:
                raise MalformedForm("the multipart body ended before its closing boundary")
            chunk = self._stream.read(READ_SIZE)
            if not chunk:
                self._eof = True
                self._decoder.receive_data(None)
            else:
                self._decoder.receive_data(chunk)

    def _collect_field(self, event: object) -> bool:
        """Handle field events; True when the event was consumed."""
        if isinstance(event, Field):
            self._current_field, self._field_buf = event.name, bytearray()
            return True
        if isinstance(event, Data) and self._current_field is not None:
            self._field_buf.extend(event.data)
            if len(self._field_buf) > MAX_FIELD_BYTES:
                raise MalformedForm("form field {field!r} is too long", params={"field": self._current_field})
            if not event.more_data:
                try:
                    self.fields[self._current_field] = self._field_buf.decode("utf-8")
                except UnicodeDecodeError:
                    raise MalformedForm("form field {field!r} is not UTF-8 text",
                                        params={"field": self._current_field}) from None
                self._current_field = None
            return True
        return False

    def next_file(self) -> FilePart | None:
        """Advance to the next file part (collecting fields on the way); None at the end of the body."""
        while True:
            event = self._event()
            if self._collect_field(event):
                continue
            if isinstance(event, Epilogue):
                return None
            if isinstance(event, File):
                return FilePart(event.name, event.filename, self._file_chunks())
            # a preamble or stray data: ignore

    def _file_chunks(self) -> Iterator[bytes]:
        while True:
            event = self._event()
            if not isinstance(event, Data):
                raise MalformedForm("the file part ended unexpectedly")
            if event.data:
                yield bytes(event.data)
            if not event.more_data:
                return

    def finish(self) -> dict[str, str]:
        """Read the rest of the body (fields after the file) and return all fields."""
        while True:
            event = self._event()
            if self._collect_field(event):
                continue
            if isinstance(event, Epilogue):
                return self.fields
            if isinstance(event, File):
                for _ in self._file_chunks():
                    pass
                raise MalformedForm("send one file per request", code="one_file_per_request")
