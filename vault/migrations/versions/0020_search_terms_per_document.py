"""pg search at 100k documents: a document's runs of tokens in one row, next to its scope

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-03 13:00:00

* ``search_documents.terms``: every run of 1-3 consecutive tokens of the document (title and content),
  each one lexeme without positions, with a GIN index. A query term of up to three tokens is one
  lexeme, so a search finds its documents, scope and filters included, in one bitmap scan of one
  table; a longer phrase is narrowed by its runs there, and its positions are checked (in
  ``search_chunks.tsv``) only for the newest candidates. Before, each term was looked up per chunk and
  joined to the documents: ~250 ms for a common word at 100k documents, over a second for a company
  name in a quarter of them. The group of ids a document is in (document_id / 1024) is one more lexeme
  there, beginning with a space (no token does): a word in nearly every document is looked for first in
  the newest groups, by the GIN index alone, since only the newest 1,000 matches are listed.
* A document too big for one tsvector (about 600 KB of runs) keeps NULL there and its runs per chunk in
  ``search_chunks.grams`` (which now holds single tokens too), found through
  ``ix_search_documents_oversize``; every other chunk's ``grams`` is emptied.
* ``ix_search_chunks_tsv`` goes: positions are read by document id only, for the candidates of a long
  phrase and the matches ranked; ``tsv`` is stored MAIN (compressed in the row; out of line only if
  the row outgrows a page), so reading a chunk's positions is one heap fetch, not a TOAST lookup: a
  third less time for the same reads. Rows already written move in when rewritten (``VACUUM FULL
  search_chunks`` or ``dossier reindex``).

The rows are converted in place from the chunks (no reindex needed): the union of each document's
chunks' lexemes is exactly its runs.

On SQLite the tables stay empty (the `pg` engine needs PostgreSQL) and ``terms`` is plain TEXT.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None

TERMS_MAX_BYTES = 600_000  # indexer.pg_index.TERMS_MAX_BYTES when this was written
RECENT_GROUP = 1024  # indexer.pg_index.RECENT_GROUP (the group of ids a document is in is a lexeme of its terms)


def upgrade() -> None:
    op.add_column('search_documents', sa.Column('terms', sa.Text().with_variant(postgresql.TSVECTOR(), 'postgresql'),
                                                nullable=True))
    conn = op.get_bind()
    if conn.dialect.name == 'postgresql':
        conn.execute(sa.text("CREATE AGGREGATE pg_temp.tsv_union(tsvector) "
                             "(SFUNC = tsvector_concat, STYPE = tsvector, INITCOND = '')"))
        conn.execute(sa.text(
            # the chunks' sizes added up (uncompressed; overlaps counted twice) bound the union's from above
            "UPDATE search_documents d SET terms = s.terms FROM ("
            " SELECT document_id, pg_temp.tsv_union(strip(tsv) || grams)"
            "  || array_to_tsvector(ARRAY[' ' || (document_id / :group)]) AS terms FROM search_chunks"
            " WHERE document_id IN (SELECT document_id FROM search_chunks GROUP BY document_id"
            "  HAVING sum(pg_column_size(strip(tsv)) + pg_column_size(strip(grams))) <= :limit)"
            " GROUP BY document_id) s "
            "WHERE s.document_id = d.document_id"), {"limit": TERMS_MAX_BYTES, "group": RECENT_GROUP})
        conn.execute(sa.text("UPDATE search_documents d SET terms = '' WHERE terms IS NULL "
                             "AND NOT EXISTS (SELECT 1 FROM search_chunks c WHERE c.document_id = d.document_id)"))
        conn.execute(sa.text("UPDATE search_chunks c SET grams = strip(c.tsv) || c.grams FROM search_documents d "
                             "WHERE d.document_id = c.document_id AND d.terms IS NULL"))
        conn.execute(sa.text("UPDATE search_chunks c SET grams = '' FROM search_documents d "
                             "WHERE d.document_id = c.document_id AND d.terms IS NOT NULL AND c.grams <> ''"))
        conn.execute(sa.text("DROP AGGREGATE pg_temp.tsv_union(tsvector)"))
    op.drop_index('ix_search_chunks_tsv', table_name='search_chunks', postgresql_using='gin')
    if conn.dialect.name == 'postgresql':
        conn.execute(sa.text("ALTER TABLE search_chunks ALTER COLUMN tsv SET STORAGE MAIN"))
    op.create_index('ix_search_documents_terms', 'search_documents', ['terms'], unique=False, postgresql_using='gin')
    op.create_index('ix_search_documents_oversize', 'search_documents', ['document_id'], unique=False,
                    postgresql_where=sa.text('terms IS NULL'))


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.get_bind().execute(sa.text("ALTER TABLE search_chunks ALTER COLUMN tsv SET STORAGE EXTENDED"))
    op.drop_index('ix_search_documents_oversize', table_name='search_documents')
    op.drop_index('ix_search_documents_terms', table_name='search_documents', postgresql_using='gin')
    op.create_index('ix_search_chunks_tsv', 'search_chunks', ['tsv'], unique=False, postgresql_using='gin')
    op.drop_column('search_documents', 'terms')
    conn = op.get_bind()
    if conn.dialect.name != 'postgresql':
        return
    # 0019's chunks hold their runs of 2-3 tokens in grams: the worker re-adds every dossier
    conn.execute(sa.text(
        "INSERT INTO jobs (kind, version_id, payload, status, attempts, run_after, created_at) "
        "SELECT 'reindex_dossier', NULL, json_build_object('dossier_id', s.dossier_id), 'queued', 0, now(), now() "
        "FROM (SELECT DISTINCT dossier_id FROM search_documents) s"))
