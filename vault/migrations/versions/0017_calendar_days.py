"""holiday calendar: public holidays and make-up working days (调休) that working-day deadlines follow;
and the paper-only documents already received are queued for the search index (their dossiers re-indexed)

Revision ID: 0017
Revises: 0015
Create Date: 2026-12-03 06:50:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0017'
down_revision = "0015"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table(
        'calendar_days',
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('working', sa.Boolean(), nullable=False),
        sa.Column('name', sa.String(length=100), nullable=False),
        sa.Column('updated_by_id', ID, nullable=True),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['updated_by_id'], ['users.id']),
        sa.PrimaryKeyConstraint('day'),
    )
    _queue_paper_dossiers()


def _queue_paper_dossiers() -> None:
    """One re-index job per dossier holding a document received on paper without a scan: the worker then
    indexes their titles and listed metadata (indexer.paper_entries), as it does for every new receipt."""
    from datetime import UTC, datetime

    from vault.models import UTCDateTime

    conn = op.get_bind()
    documents = sa.table('documents', sa.column('dossier_id', ID), sa.column('status', sa.String()),
                         sa.column('current_version_id', ID))
    jobs = sa.table('jobs', sa.column('kind', sa.String()), sa.column('version_id', ID),
                    sa.column('payload', sa.JSON()), sa.column('status', sa.String()),
                    sa.column('attempts', sa.Integer()), sa.column('run_after', UTCDateTime()),
                    sa.column('created_at', UTCDateTime()))
    dossier_ids = conn.execute(sa.select(documents.c.dossier_id).distinct()
                               .where(documents.c.status == 'active', documents.c.current_version_id.is_(None))
                               .order_by(documents.c.dossier_id)).scalars().all()
    now = datetime.now(UTC)
    rows = [{'kind': 'reindex_dossier', 'version_id': None, 'payload': {'dossier_id': i}, 'status': 'queued',
             'attempts': 0, 'run_after': now, 'created_at': now} for i in dossier_ids]
    for start in range(0, len(rows), 1000):
        conn.execute(jobs.insert(), rows[start:start + 1000])


def downgrade() -> None:
    op.drop_table('calendar_days')
