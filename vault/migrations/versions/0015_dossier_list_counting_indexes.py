"""dossier list at 100k customers: covering indexes so a filtered list's count is an index-only scan

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03 07:30:00
"""
from __future__ import annotations

from alembic import op

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # INCLUDE is PostgreSQL's (SQLite ignores it): the count reads these instead of the tables' rows
    op.create_index('ix_dossiers_list_filters', 'dossiers',
                    ['secrecy', 'grade', 'region', 'industry', 'owner_id', 'next_review_date'],
                    postgresql_include=['id'])
    op.create_index('ix_customer_cards_stage_kind', 'customer_cards', ['stage', 'customer_kind'],
                    postgresql_include=['dossier_id'])
    op.create_index('ix_customer_cards_kind', 'customer_cards', ['customer_kind'], postgresql_include=['dossier_id'])


def downgrade() -> None:
    op.drop_index('ix_customer_cards_kind', 'customer_cards')
    op.drop_index('ix_customer_cards_stage_kind', 'customer_cards')
    op.drop_index('ix_dossiers_list_filters', 'dossiers')
