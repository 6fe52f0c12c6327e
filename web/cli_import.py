"""`dossier import`: bulk upload of the files a corpus manifest lists, then (with --wait) their indexing."""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
from sqlalchemy import func, select

from indexer.search_index import SearchIndex
from vault.core import Vault
from vault.errors import VaultError
from vault.models import Document, DocumentVersion, Dossier, IndexStatus, Job, JobStatus, Role, User
from web.cli import main, open_runtime, progress_bar, system_actor

WAIT_POLL_S = 0.5


@dataclass
class Imported:
    """What an import did: counts, the versions it queued for indexing, the dossiers it filed into."""

    uploaded: int = 0
    duplicates: int = 0
    refused: int = 0
    version_ids: list[int] = field(default_factory=list)
    present_ids: list[int] = field(default_factory=list)  # documents already there (--wait waits for them too)
    dossiers: dict[str, str] = field(default_factory=dict)  # dossier name -> archive number


def dossier_for(entry: dict[str, Any], customers: dict[str, dict[str, Any]], folder: str) -> tuple[str, str | None]:
    """The dossier a manifest entry is filed into, as (customer name, credit code).

    An entry naming a customer (by id, credit code or name) goes to that customer's dossier; one that
    names none (a folder of sample files, like the real-world corpus) goes to one dossier named after
    the folder, never to a made-up customer.
    """
    cust = customers.get(entry.get("customer_id", ""), {})
    code = entry.get("credit_code") or cust.get("credit_code") or None
    name = entry.get("customer") or cust.get("name") or code or folder
    return str(name), code


def _dossier_id(v: Vault, actor: User, name: str, code: str | None, entry: dict[str, Any],
                industry: str, owner: str, imported: Imported) -> int:
    """The dossier with this credit code (or, without one, this name and no code); created if missing."""
    from vault.services import cards

    with v.session() as s:
        if code:
            existing = s.scalar(select(Dossier).where(Dossier.credit_code == code))
        else:
            existing = s.scalars(select(Dossier).where(Dossier.customer_name == name, Dossier.credit_code.is_(None))
                                 .order_by(Dossier.id)).first()
        if existing is None:
            # with its card, as the API and the page make one: the customer is found by name once indexed
            existing = cards.create_customer(v, s, actor, {
                "customer_name": name, "credit_code": code, "customer_type": entry.get("customer_type", "client"),
                "industry": industry, "owner": owner,
            })
        imported.dossiers[name] = existing.archive_no
        return existing.id


def import_manifest(v: Vault, root: Path, manifest: dict[str, Any], owner: str) -> Imported:
    """Upload every file the manifest lists into its dossier (the upload use case of vault.services.uploads);
    duplicates and refusals are counted."""
    from vault.services import uploads

    actor = system_actor(v)
    customers = {c["id"]: c for c in manifest.get("customers", [])}
    folder = root.resolve().name or "import"
    imported = Imported()
    dossier_ids: dict[tuple[str, str | None], int] = {}
    with click.progressbar(manifest.get("files", []), label="Importing", file=sys.stderr,
                           item_show_func=lambda f: f["path"] if f else None) as bar:
        for entry in bar:
            key = dossier_for(entry, customers, folder)
            if key not in dossier_ids:
                industry = customers.get(entry.get("customer_id", ""), {}).get("industry", "")
                dossier_ids[key] = _dossier_id(v, actor, *key, entry, industry, owner, imported)
            path = root / entry["path"]
            fields = {"doc_type": entry.get("doc_type", "other"), "title": entry.get("title"),
                      "doc_date": entry.get("doc_date")}
            try:
                with path.open("rb") as fh:
                    version_id = uploads.add_file(
                        v, actor, uploads.NewDocument(dossier_ids[key]),
                        lambda: uploads.IncomingFile(iter(lambda: fh.read(65536), b""), path.name,  # noqa: B023
                                                     lambda: fields),  # noqa: B023
                        lambda _session, document: document.current_version_id)
                imported.uploaded += 1
                if version_id is not None:
                    imported.version_ids.append(version_id)
            except VaultError as exc:
                if exc.code == "duplicate_document":
                    imported.duplicates += 1
                    imported.present_ids.append(int(exc.details["existing_id"]))
                else:
                    imported.refused += 1
                    click.echo(f"\nrefused {entry['path']}: {exc.message}", err=True)
    return imported


def current_versions(v: Vault, document_ids: list[int]) -> list[int]:
    """The current version of each of these documents."""
    if not document_ids:
        return []
    with v.session() as s:
        return [x for x in s.scalars(select(Document.current_version_id).where(Document.id.in_(document_ids)))
                if x is not None]


def queue_size(v: Vault) -> int:
    """Index jobs waiting or running, for every file, not only this import's."""
    with v.session() as s:
        return int(s.scalar(select(func.count()).select_from(Job).where(
            Job.status.in_((JobStatus.QUEUED, JobStatus.RUNNING)))) or 0)


def _settled(v: Vault, version_ids: list[int]) -> list[DocumentVersion]:
    """The versions among ``version_ids`` that are indexed or failed."""
    with v.session() as s:
        rows = list(s.scalars(select(DocumentVersion).where(
            DocumentVersion.id.in_(version_ids),
            DocumentVersion.index_status.in_((IndexStatus.INDEXED, IndexStatus.FAILED)))))
        s.expunge_all()
    return rows


def wait_indexed(v: Vault, index: SearchIndex, version_ids: list[int]) -> list[DocumentVersion]:
    """Index the queue in this process (beside any running worker: jobs are claimed atomically) until each
    of ``version_ids`` is indexed or failed, with a progress bar; the settled versions."""
    from indexer.worker import BATCH_DOCS, run_pending

    settled: list[DocumentVersion] = []
    with progress_bar("Indexing") as progress:
        progress(0, len(version_ids))
        while True:
            settled = _settled(v, version_ids)
            progress(len(settled), len(version_ids))
            if len(settled) >= len(version_ids):
                return settled
            if run_pending(v, index, limit=BATCH_DOCS) == 0:
                time.sleep(WAIT_POLL_S)  # another worker holds the rest, or a retry is not due yet


@main.command("import")
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--manifest", "manifest_path", required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--owner", default=None, help="username owning new dossiers (default: the first archivist)")
@click.option("--wait", is_flag=True, help="index the imported files now and return once each is indexed or failed")
def import_cmd(directory: Path, manifest_path: Path, owner: str | None, wait: bool) -> None:
    """Bulk upload the files a manifest lists, one dossier per customer (progress bar).

    Files whose entry names no customer go to one dossier named after the folder. Indexing runs in the
    background (`dossier serve` or `dossier worker`); with --wait this command indexes them itself.
    """
    runtime = open_runtime()
    v = runtime.vault
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise click.ClickException(f"{manifest_path} is not valid JSON: {exc}") from None
    if owner is None:
        with v.session() as s:
            owner = s.scalar(select(User.username).where(User.role == Role.ARCHIVIST, User.active.is_(True))
                             .order_by(User.id))
        if owner is None:
            raise click.ClickException("no archivist exists to own the dossiers: add one or pass --owner")
    try:
        imported = import_manifest(v, directory, manifest, owner)
    except VaultError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"uploaded {imported.uploaded}, already present {imported.duplicates}, refused {imported.refused}")
    for name, archive_no in imported.dossiers.items():
        click.echo(f"  dossier {archive_no}: {name}")
    waiting = imported.version_ids + current_versions(v, imported.present_ids)
    if waiting and wait:
        settled = wait_indexed(v, runtime.index, waiting)
        failed = [x for x in settled if x.index_status is IndexStatus.FAILED]
        click.echo(f"indexed {len(settled) - len(failed)}, failed {len(failed)}: the indexed files are searchable now")
        _report_failed(v, failed)
    elif pending := len(waiting) - len(_settled(v, waiting)):
        click.echo(f"{pending} of these files are not indexed yet: `dossier search` finds each once it is. "
                   f"Indexing continues in the background (index queue: {queue_size(v)} jobs) while "
                   "`dossier serve` or `dossier worker` runs. To wait for it here: add --wait")
    if imported.refused:
        raise SystemExit(1)


def _report_failed(v: Vault, failed: list[DocumentVersion]) -> None:
    """One line per file whose text could not be extracted, with the reason (stored, but not searchable)."""
    if not failed:
        return
    with v.session() as s:
        titles = dict(s.execute(select(Document.id, Document.title).where(
            Document.id.in_([x.document_id for x in failed]))).tuples().all())
    for x in failed:
        click.echo(f"  not searchable: #{x.document_id} {titles.get(x.document_id, '')} "
                   f"({x.original_filename}): {x.index_error}")
