"""dossier_keys: a per-dossier data key that seals the customer card's sensitive values

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 20:15:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table(
        'dossier_keys',
        sa.Column('dossier_id', ID, sa.ForeignKey('dossiers.id'), primary_key=True),
        sa.Column('uid', sa.String(32), nullable=False, unique=True),
        sa.Column('key_id', sa.Integer(), nullable=False),
        sa.Column('wrapped_key', sa.LargeBinary(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table('dossier_keys')
