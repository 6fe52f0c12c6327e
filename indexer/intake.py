"""Scanning intake, the process side: split a stack in the sandbox, then file its parts one by one.

`process_stack` is what the API, the CLI, the worker's queued stacks and the watched folder all call.
The stack is found again by its keyed fingerprint, so calling it twice with the same file answers with
the first result, and a run that died in the middle files only the parts it had not committed yet.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from indexer import sandbox
from indexer.intake_child import RENDER_DPI  # and with it zxing-cpp and pdfium: missing, the app stops at start
from vault.core import Vault
from vault.crypto import decrypt_iter
from vault.errors import Invalid, UnsupportedFileType
from vault.intake_models import IntakeStack, StackStatus
from vault.models import Job, JobKind, JobStatus, User
from vault.services import documents, intake
from vault.services.intake import PartFile

CHUNK = 1024 * 1024
Progress = Callable[[int, int], None]  # (pages done, pages in all)


def private_tmpdir() -> contextlib.AbstractContextManager[Path]:
    """A 0700 directory for the stack's decrypted parts (`sandbox.private_tmpdir`)."""
    return sandbox.private_tmpdir("dossier-intake-")


def _chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            yield chunk


def stack_fingerprint(v: Vault, path: Path) -> str:
    """The stack's keyed fingerprint (HMAC-SHA256 under the keyring's fingerprint key): same file, same value."""
    mac = hmac.new(v.keyring.fingerprint_key, digestmod=hashlib.sha256)
    for chunk in _chunks(path):
        mac.update(chunk)
    return mac.hexdigest()


def check_is_pdf(path: Path) -> None:
    """Refuse a file that is not a PDF before anything parses it (415, nothing stored)."""
    with path.open("rb") as fh:
        head = fh.read(1024)
    if b"%PDF-" not in head:
        raise UnsupportedFileType("a scanned stack must be one PDF file (this file is not a PDF); scan to PDF and "
                                  "send it again", code="intake_not_pdf")


def split(v: Vault, path: Path, out_dir: Path) -> dict[str, Any]:
    """Read the codes and write the parts in the sandbox child; Invalid with the reason if the file is unreadable."""
    job = {"kind": "intake_split", "path": str(path.resolve()), "out_dir": str(out_dir.resolve()), "dpi": RENDER_DPI}
    try:
        answer = sandbox.run_extraction(job, timeout_s=v.settings.intake_timeout_s,
                                        memory_mb=v.settings.extract_memory_mb)
    except sandbox.SandboxFailure as exc:
        raise Invalid("file", "the stack could not be read: {reason}", params={"reason": exc.reason},
                      code="intake_unreadable") from None
    if not answer.get("ok"):
        raise Invalid("file", "the stack could not be read: {reason}", params={"reason": str(answer.get("reason"))},
                      code="intake_unreadable")
    result: dict[str, Any] = answer["split"]
    return result


def process_stack(v: Vault, actor: User, path: Path, filename: str, *, source: str = "upload",
                  progress: Progress | None = None, fingerprint: str | None = None) -> dict[str, Any]:
    """Split and file one scanned stack; the answer lists filed, duplicate and unfiled parts."""
    check_is_pdf(path)
    fingerprint = fingerprint or stack_fingerprint(v, path)
    with v.session() as s:
        stack = intake.begin_stack(v, s, actor, fingerprint, filename, source)
        if stack.status is StackStatus.DONE:
            return {**intake.stack_result(s, actor, stack), "already_processed": True}
        stack_id = stack.id
    try:
        _file_parts(v, actor, stack_id, path, progress)
    except Invalid as exc:
        with v.session() as s:
            intake.finish_stack(v, s, actor, stack_id, error=exc.message)
        raise
    with v.session() as s:
        stack = intake.finish_stack(v, s, actor, stack_id)
        return intake.stack_result(s, actor, stack)


def _file_parts(v: Vault, actor: User, stack_id: int, path: Path, progress: Progress | None) -> None:
    with private_tmpdir() as out_dir:
        plan = split(v, path, out_dir)
        total = int(plan["pages"])
        with v.session() as s:
            stack = s.get(IntakeStack, stack_id)
            assert stack is not None
            stack.pages = total
            done = intake.done_part_indexes(s, stack_id)
        pages_done = total - sum(len(p["pages"]) for p in plan["parts"] if p["index"] not in done)
        if progress:
            progress(pages_done, total)
        for raw in plan["parts"]:
            part = PartFile(index=int(raw["index"]), pages=[int(p) for p in raw["pages"]], code=raw["code"],
                            problem=raw["problem"], path=Path(raw["path"]))
            if part.index in done:
                continue
            staged = documents.stage_upload(v, _chunks(part.path), f"{Path(stack.filename).stem}-{part.index + 1}.pdf")
            try:
                with v.session() as s:
                    stack = s.get(IntakeStack, stack_id)
                    assert stack is not None
                    filed = intake.file_part(v, s, actor, stack, part, staged)
                    pages_done += len(part.pages)
                    stack.done_pages = pages_done
            except BaseException:
                documents.discard_staged(v, staged)
                raise
            if filed.get("discard"):  # a duplicate: the dossier has this file already
                documents.discard_staged(v, staged)
            if progress:
                progress(pages_done, total)


# -- large stacks: stored now, split by the worker -----------------------------------------------------


def queue_stack(v: Vault, actor: User, path: Path, filename: str) -> dict[str, Any]:
    """Store a large stack encrypted and leave it to the worker; the answer names the stack to poll."""
    check_is_pdf(path)
    fingerprint = stack_fingerprint(v, path)
    with v.session() as s:
        earlier = intake.begin_stack(v, s, actor, fingerprint, filename, "upload")
        if earlier.status is StackStatus.DONE or earlier.blob_key is not None:
            return {"stack_id": earlier.id, "status": earlier.status.value}
        earlier.status = StackStatus.QUEUED
        stack_id = earlier.id
    staged = documents.stage_upload(v, _chunks(path), filename)
    try:
        with v.session() as s:
            stack = s.get(IntakeStack, stack_id)
            assert stack is not None
            stack.blob_key, stack.blob_uid = staged.blob_key, staged.version_uid
            stack.key_id, stack.wrapped_key = staged.key_id, staged.wrapped_key
            documents._settle(s, staged)
            now = v.clock.now()
            s.add(Job(kind=JobKind.INTAKE, version_id=None, payload={"stack_id": stack_id, "actor_id": actor.id},
                      status=JobStatus.QUEUED, attempts=0, run_after=now, created_at=now))
    except BaseException:
        documents.discard_staged(v, staged)
        raise
    return {"stack_id": stack_id, "status": StackStatus.QUEUED.value}


def run_queued_stack(v: Vault, stack_id: int, actor_id: int) -> None:
    """The worker's half of a queued stack: decrypt it to a private file, file its parts, drop its blob."""
    with v.session() as s:
        stack = s.get(IntakeStack, stack_id)
        actor = s.get(User, actor_id)
        if stack is None or actor is None or stack.blob_key is None or stack.wrapped_key is None:
            return
        blob_key, uid, key_id, wrapped = stack.blob_key, stack.blob_uid or "", stack.key_id or 0, stack.wrapped_key
        stack.status = StackStatus.RUNNING
    data_key = v.keyring.unwrap(key_id, wrapped, uuid.UUID(hex=uid).bytes)
    with private_tmpdir() as tmp:
        path = tmp / "stack.pdf"
        with path.open("wb") as fh:
            for chunk in decrypt_iter(v.blobs.get(blob_key), data_key, uuid.UUID(hex=uid).bytes):
                fh.write(chunk)
        try:
            _file_parts(v, actor, stack_id, path, None)
            error = None
        except Invalid as exc:
            error = exc.message
    with v.session() as s:
        stack = intake.finish_stack(v, s, actor, stack_id, error=error)
        stack.blob_key = stack.blob_uid = stack.wrapped_key = None
    v.blobs.delete(blob_key)
