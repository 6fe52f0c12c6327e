"""The upload use case, once for every way a file comes in (the API's streamed multipart, `dossier import`).

A long operation, so it owns its transactions (the exception to "the handler opens the unit of work"):
a short read checks that the actor may add here before a byte is read, the stream is inspected,
encrypted and stored holding no transaction, and a second short one records the version, its audit
event and its index job. If anything fails after the blob was stored, the blob is deleted; a crash
leaves an orphan that the sweep removes (`fixity.sweep_interrupted_uploads`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

from sqlalchemy.orm import Session

from vault.core import Vault
from vault.models import Document, User
from vault.services import documents

T = TypeVar("T")


@dataclass(frozen=True)
class NewDocument:
    """Add the file as a new document of this dossier."""

    dossier_id: int


@dataclass(frozen=True)
class NewVersion:
    """Add the file as the new current version of this document."""

    document_id: int


@dataclass
class IncomingFile:
    """A file being received: its bytes, as they arrive, its name as the sender gave it, and the fields
    that describe it (``doc_type``, ``title``, ``doc_date``), read once the bytes are in: a multipart
    form may send them after the file."""

    chunks: Iterable[bytes]
    filename: str | bytes | None
    fields: Callable[[], Mapping[str, str | None]] = field(default=dict)


def add_file(v: Vault, actor: User, into: NewDocument | NewVersion, receive: Callable[[], IncomingFile],
             present: Callable[[Session, Document], T]) -> T:
    """Check, receive, store and record one file; returns what ``present`` makes of the document inside the
    recording transaction (the API's JSON, the import's version id).

    ``receive`` is called once the actor is known to be allowed here, so a refused caller is told before
    any byte of the body is read. Refusals (403, 404, 409 duplicate, 413, 422) raise ``VaultError`` and
    leave nothing behind.
    """
    with v.read_session() as session:  # a check that writes nothing: on SQLite it takes no write lock
        if isinstance(into, NewDocument):
            documents.prepare_upload(session, actor, into.dossier_id)
        else:
            documents.prepare_new_version(session, actor, into.document_id)
    incoming = receive()
    staged = documents.stage_upload(v, incoming.chunks, incoming.filename)
    try:
        fields = incoming.fields()
        with v.session() as session:
            if isinstance(into, NewDocument):
                document = documents.commit_upload(
                    v, session, actor, into.dossier_id, staged, doc_type=fields.get("doc_type"),
                    title=fields.get("title"), doc_date=fields.get("doc_date"))
            else:
                document = documents.commit_new_version(v, session, actor, into.document_id, staged)
            session.flush()
            return present(session, document)
    except BaseException:
        documents.discard_staged(v, staged)
        raise
