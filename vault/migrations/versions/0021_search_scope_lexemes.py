"""pg search: a document's dossier and owner are lexemes of its terms, so an owner's search is one GIN scan

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-03 23:30:00

An employee reads the documents of the dossiers they own (at the levels their clearance allows) and of
those granted to them. Found by ``ix_search_documents_owner``, each of those documents' terms was read
and matched row by row: 23 KB of TOAST per document, ~60 MB for a common word at 1,000,000 documents,
which no longer stays in memory (p95 175-280 ms). Now each document's ``terms`` also holds ``' d<dossier
id>'`` and ``' o<owner id> <secrecy>'``, and a customer card's (which an employee reads in every dossier
within their clearance) ``' l<secrecy>'`` (beginning with a space, which no token or run does, so no query
term matches them: :func:`indexer.pg_index.scope_lexemes`), and an owner's search ANDs them with its
terms: the GIN index finds the matching documents of the scope without reading any document's terms.

The lexemes are added to the rows in place (no reindex needed); the GIN index of ``terms`` is made again
in one pass afterwards, which is quicker than growing it row by row. A change of owner or secrecy
already re-adds the dossier's documents (``queue_reindex``), which writes the new lexemes.
``ix_search_documents_owner`` goes: no search reads it any more, and every write kept it.

On SQLite the tables stay empty (the `pg` engine needs PostgreSQL): only the owner index goes.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None

# indexer.pg_index.dossier_lexeme, owner_lexeme and level_lexeme when this was written (an owner's only if there
# is one, a level's only for a card: indexer.search_index.CARD_LEVEL_PREFIX)
_LEXEMES = ("array_remove(ARRAY[' d' || dossier_id, ' o' || owner_id || ' ' || secrecy, "
            "CASE WHEN secrecy LIKE 'card.%' THEN ' l' || secrecy END], NULL)")


def upgrade() -> None:
    op.drop_index('ix_search_documents_owner', table_name='search_documents')
    _rewrite("terms || array_to_tsvector(" + _LEXEMES + ")")


def downgrade() -> None:
    _rewrite("ts_delete(terms, " + _LEXEMES + ")")
    op.create_index('ix_search_documents_owner', 'search_documents', ['owner_id', 'secrecy'])


def _rewrite(terms: str) -> None:
    if op.get_bind().dialect.name != 'postgresql':
        return
    op.drop_index('ix_search_documents_terms', table_name='search_documents', postgresql_using='gin')
    op.get_bind().execute(sa.text(f"UPDATE search_documents SET terms = {terms} WHERE terms IS NOT NULL"))
    op.get_bind().execute(sa.text("SET LOCAL maintenance_work_mem = '256MB'"))  # as PgIndex.compact()
    op.create_index('ix_search_documents_terms', 'search_documents', ['terms'], unique=False, postgresql_using='gin')
