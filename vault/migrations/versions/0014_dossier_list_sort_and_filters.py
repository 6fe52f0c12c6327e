"""dossier list: the pinyin name sort key (backfilled), indexes for sorting by update and filtering by review date and stage

Revision ID: 0014
Revises: 0012
Create Date: 2026-12-02 21:45:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0014'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    from vault.name_sort import name_sort_key

    op.add_column('dossiers', sa.Column('name_sort', sa.String(400), nullable=False, server_default=''))
    conn = op.get_bind()
    dossiers = sa.table('dossiers', sa.column('id', sa.Integer()), sa.column('customer_name', sa.String()),
                        sa.column('name_sort', sa.String()))
    rows = conn.execute(sa.select(dossiers.c.id, dossiers.c.customer_name)).all()
    for start in range(0, len(rows), 1000):
        batch = [{'i': r.id, 'k': name_sort_key(r.customer_name)} for r in rows[start:start + 1000]]
        conn.execute(dossiers.update().where(dossiers.c.id == sa.bindparam('i'))
                     .values(name_sort=sa.bindparam('k')), batch)
    op.create_index('ix_dossiers_name_sort', 'dossiers', ['name_sort'])
    op.create_index('ix_dossiers_updated_at', 'dossiers', ['updated_at'])
    op.create_index('ix_dossiers_next_review_date', 'dossiers', ['next_review_date'])
    op.create_index('ix_customer_cards_stage', 'customer_cards', ['stage'])


def downgrade() -> None:
    op.drop_index('ix_customer_cards_stage', 'customer_cards')
    op.drop_index('ix_dossiers_next_review_date', 'dossiers')
    op.drop_index('ix_dossiers_updated_at', 'dossiers')
    op.drop_index('ix_dossiers_name_sort', 'dossiers')
    with op.batch_alter_table('dossiers') as batch:
        batch.drop_column('name_sort')
