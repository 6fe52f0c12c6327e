"""pg search: a customer-file entry's group of ids is the lexeme indexer.pg_index.recent_group writes

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-04 16:00:00

0020 wrote each row's group of ids as ``' ' || document_id / 1024`` in SQL, whose division truncates toward
zero: a customer-file entry (a negative key) from -1 to -1023 got ``' 0'`` and one from -1025 to -2047
``' -1'``, where :func:`indexer.pg_index.recent_group` (Python's floor division), and so every row written
since, has ``' -1'`` and ``' -2'``. Nothing read the groups below 0 until an employee's search looked for the
customer cards within their clearance group by group below 0 (after their own documents), which would miss
the entries 0020 wrote. Their group lexeme is put right in place: a few rows (the cards, contacts and
records indexed before 0020), no reindex. The downgrade leaves it: 0021's search reads either.

On SQLite the tables stay empty (the `pg` engine needs PostgreSQL): nothing to do.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None

RECENT_GROUP = 1024  # indexer.pg_index.RECENT_GROUP when this was written


def upgrade() -> None:
    if op.get_bind().dialect.name != 'postgresql':
        return
    truncated = "' ' || (document_id / :group)"  # what 0020 wrote
    op.get_bind().execute(sa.text(
        f"UPDATE search_documents SET terms = ts_delete(terms, {truncated}) "
        "|| array_to_tsvector(ARRAY[' ' || CAST(floor(document_id / CAST(:group AS numeric)) AS bigint)]) "
        f"WHERE document_id < 0 AND document_id % :group <> 0 AND terms IS NOT NULL "
        f"AND tsvector_to_array(terms) @> ARRAY[{truncated}]"), {"group": RECENT_GROUP})


def downgrade() -> None:
    pass
