"""Helpers for the operations tests: documents stored through the services, the CLI run in-process."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select

from tests.conftest import People
from tests.corpus import SYNTHETIC, manifest
from vault.core import Vault
from vault.models import DocumentVersion
from vault.services import documents, dossiers

FILES = [SYNTHETIC / e["path"] for e in manifest(SYNTHETIC)["files"][:5]]


@dataclass
class Stored:
    document_id: int
    path: Path


def store_files(vault: Vault, people: People, paths: list[Path] = FILES, *, old_first: bool = False) -> list[Stored]:
    """Upload files through the same service calls the API uses (stage, then commit); with `old_first`
    the first document is dated 2000-01-01, so its retention has ended and it may be destroyed."""
    archivist = people.archivist
    with vault.session() as s:
        dossier_id = dossiers.create_dossier(vault, s, archivist, {"customer_name": "运维测试客户",
                                                                    "customer_type": "client"}).id
    out = []
    for i, path in enumerate(paths):
        with path.open("rb") as fh:
            staged = documents.stage_upload(vault, iter(lambda: fh.read(65536), b""), path.name)  # noqa: B023
        with vault.session() as s:
            doc = documents.commit_upload(vault, s, archivist, dossier_id, staged, doc_type="other",
                                          doc_date="2000-01-01" if old_first and i == 0 else None)
            out.append(Stored(doc.id, path))
    return out


def plaintext_of(vault: Vault, document_id: int) -> bytes:
    with vault.session() as s:
        ver = s.scalars(select(DocumentVersion).where(DocumentVersion.document_id == document_id)).one()
        return b"".join(documents.decrypt_version(vault, ver))


def blob_digests(vault: Vault) -> dict[str, str]:
    return {k: hashlib.sha256(b"".join(vault.blobs.get(k))).hexdigest() for k in vault.blobs.keys()}


def run_cli(vault: Vault, *args: str, input: str | None = None) -> Result:
    from web.cli import main

    env = {"DOSSIER_HOME": str(vault.settings.home)}
    if vault.settings.database_url:
        env["DOSSIER_DATABASE_URL"] = vault.settings.database_url
    return CliRunner().invoke(main, list(args), env=env, input=input, catch_exceptions=False)


@pytest.fixture
def stored(vault: Vault, people: People) -> list[Stored]:
    return store_files(vault, people)
