"""pg search at scale: whole runs of tokens (`grams`), indexes for owners' and dossiers' scopes

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-03 07:00:00

* ``search_chunks.grams``: every run of 2-3 consecutive tokens as one lexeme (no positions), with a
  GIN index, so that a phrase of up to three tokens (a CJK word of up to four characters) is found
  by the index alone instead of reading every candidate chunk's positions (a common word took
  seconds at 20k-30k documents). Rows written before have none: every dossier with indexed rows is
  queued for the worker to re-add (a `reindex_dossier` job), and until then such phrases miss them.
* ``search_documents (owner_id, secrecy)`` and ``(dossier_id)``: an employee's scope and the dossier
  filter read a few rows by index instead of every row.

On SQLite the tables stay empty (the `pg` engine needs PostgreSQL) and `grams` is plain TEXT.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('search_chunks', sa.Column('grams', sa.Text().with_variant(postgresql.TSVECTOR(), 'postgresql'),
                                             server_default='', nullable=False))
    op.create_index('ix_search_chunks_grams', 'search_chunks', ['grams'], unique=False, postgresql_using='gin')
    op.create_index('ix_search_documents_owner', 'search_documents', ['owner_id', 'secrecy'])
    op.create_index('ix_search_documents_dossier', 'search_documents', ['dossier_id'])
    conn = op.get_bind()
    if conn.dialect.name != 'postgresql':
        return
    conn.execute(sa.text(
        "INSERT INTO jobs (kind, version_id, payload, status, attempts, run_after, created_at) "
        "SELECT 'reindex_dossier', NULL, json_build_object('dossier_id', s.dossier_id), 'queued', 0, now(), now() "
        "FROM (SELECT DISTINCT dossier_id FROM search_documents) s"))


def downgrade() -> None:
    op.drop_index('ix_search_documents_dossier', table_name='search_documents')
    op.drop_index('ix_search_documents_owner', table_name='search_documents')
    op.drop_index('ix_search_chunks_grams', table_name='search_chunks', postgresql_using='gin')
    op.drop_column('search_chunks', 'grams')
