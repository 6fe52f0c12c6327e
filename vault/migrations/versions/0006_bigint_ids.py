"""ids as BIGINT on PostgreSQL: an archive may pass 2**31 rows (documents, versions, audit references)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 16:30:00

Every id column and every column referring to one becomes BIGINT, and each id's sequence counts in
bigint too (a SERIAL sequence stops at 2**31 - 1 otherwise). PostgreSQL rewrites each table: on a
large archive, run it in a maintenance window. SQLite's INTEGER is 64 bits already: nothing to do.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

# (table, its id and reference columns), referenced tables first
ID_COLUMNS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ('audit_events', ('actor_id', 'dossier_id', 'document_id')),
    ('login_attempts', ('id',)),
    ('users', ('id',)),
    ('api_tokens', ('id', 'user_id')),
    ('destruction_batches', ('id', 'proposed_by_id', 'manager_approver_id', 'legal_approver_id', 'executed_by_id')),
    ('dossiers', ('id', 'owner_id', 'created_by_id')),
    ('grant_requests', ('id', 'user_id', 'requested_by_id', 'decided_by_id')),
    ('retention_rules', ('updated_by_id',)),
    ('web_sessions', ('id', 'user_id')),
    ('blob_erasures', ('batch_id',)),
    ('checkouts', ('id', 'dossier_id', 'requester_id', 'decided_by_id', 'handed_over_by_id', 'received_by_id')),
    ('documents', ('id', 'dossier_id', 'current_version_id', 'created_by_id')),
    ('checkout_documents', ('checkout_id', 'document_id')),
    ('destruction_items', ('batch_id', 'document_id')),
    ('document_versions', ('id', 'document_id', 'uploaded_by_id')),
    ('legal_holds', ('id', 'dossier_id', 'document_id', 'placed_by_id', 'released_by_id')),
    ('notifications', ('id', 'user_id', 'checkout_id', 'batch_id')),
    ('jobs', ('id', 'version_id')),
)


def _retype(sql_type: str) -> None:
    bind = op.get_bind()
    if bind.dialect.name != 'postgresql':
        return
    for table, columns in ID_COLUMNS:
        op.execute(f'ALTER TABLE {table} ' + ', '.join(f'ALTER COLUMN {c} TYPE {sql_type}' for c in columns))
        if 'id' in columns:
            seq = bind.execute(sa.text('SELECT pg_get_serial_sequence(:t, :c)'), {'t': table, 'c': 'id'}).scalar()
            if seq:
                op.execute(f'ALTER SEQUENCE {seq} AS {sql_type}')


def upgrade() -> None:
    _retype('bigint')


def downgrade() -> None:
    _retype('integer')
