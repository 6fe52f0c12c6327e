"""search on PostgreSQL: the `pg` engine's tables (tsvector chunks with a GIN index)

Revision ID: 0005
Revises: 0003
Create Date: 2026-12-02 16:20:00

Both tables are derived data (`dossier reindex` rebuilds them). They exist on every database so the
schema matches the models everywhere; on SQLite they stay empty (the `pg` engine needs PostgreSQL)
and the text column is plain TEXT.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0005'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('search_documents',
    sa.Column('document_id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('dossier_id', sa.BigInteger(), nullable=False),
    sa.Column('owner_id', sa.BigInteger(), nullable=True),
    sa.Column('secrecy', sa.String(length=24), nullable=False),
    sa.Column('doc_type', sa.String(length=24), nullable=False),
    sa.Column('doc_date', sa.Date(), nullable=True),
    sa.PrimaryKeyConstraint('document_id')
    )
    op.create_table('search_chunks',
    sa.Column('document_id', sa.BigInteger(), nullable=False),
    sa.Column('part', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('tsv', sa.Text().with_variant(postgresql.TSVECTOR(), 'postgresql'), nullable=False),
    sa.ForeignKeyConstraint(['document_id'], ['search_documents.document_id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('document_id', 'part')
    )
    op.create_index('ix_search_chunks_tsv', 'search_chunks', ['tsv'], unique=False, postgresql_using='gin')


def downgrade() -> None:
    op.drop_index('ix_search_chunks_tsv', table_name='search_chunks', postgresql_using='gin')
    op.drop_table('search_chunks')
    op.drop_table('search_documents')
