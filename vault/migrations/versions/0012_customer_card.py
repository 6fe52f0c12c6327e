"""customer card: card fields, sealed values with lookup digests, history, reviews, owner changes

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 20:30:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        'customer_cards',
        sa.Column('dossier_id', ID, sa.ForeignKey('dossiers.id'), primary_key=True),
        sa.Column('customer_kind', sa.String(16), nullable=False),
        sa.Column('id_number_digest', sa.String(64), nullable=True, unique=True),
        sa.Column('birth_date', sa.Date(), nullable=True),
        sa.Column('gender', sa.String(8), nullable=True),
        sa.Column('former_names', sa.Text(), nullable=False),
        sa.Column('legal_representative', sa.String(100), nullable=False),
        sa.Column('registered_address', sa.String(300), nullable=False),
        sa.Column('business_address', sa.String(300), nullable=False),
        sa.Column('registered_capital', sa.String(32), nullable=False),
        sa.Column('currency', sa.String(3), nullable=False),
        sa.Column('founded_on', sa.Date(), nullable=True),
        sa.Column('business_scope', sa.Text(), nullable=False),
        sa.Column('main_products', sa.Text(), nullable=False),
        sa.Column('staff_size', sa.String(32), nullable=False),
        sa.Column('website', sa.String(200), nullable=False),
        sa.Column('email', sa.String(200), nullable=False),
        sa.Column('bank_name', sa.String(100), nullable=False),
        sa.Column('credit_rating', sa.String(32), nullable=False),
        sa.Column('credit_rating_source', sa.String(100), nullable=False),
        sa.Column('credit_rating_on', sa.Date(), nullable=True),
        sa.Column('partner_kind', sa.String(24), nullable=False),
        sa.Column('stage', sa.String(16), nullable=False),
        sa.Column('backup_owner_id', ID, sa.ForeignKey('users.id'), nullable=True),
        sa.Column('last_review_on', sa.Date(), nullable=True),
        sa.Column('reminded_for', sa.Date(), nullable=True),
        sa.Column('updated_at', WHEN, nullable=True),
    )
    op.create_index('ix_customer_cards_backup_owner_id', 'customer_cards', ['backup_owner_id'])
    op.create_table(
        'card_sealed',
        sa.Column('id', ID, primary_key=True),
        sa.Column('dossier_id', ID, sa.ForeignKey('dossiers.id'), nullable=False),
        sa.Column('field', sa.String(32), nullable=False),
        sa.Column('sealed', sa.LargeBinary(), nullable=True),
        sa.Column('digest', sa.String(64), nullable=True),
        sa.UniqueConstraint('dossier_id', 'field'),
    )
    op.create_index('ix_card_sealed_digest', 'card_sealed', ['field', 'digest'])
    op.create_table(
        'card_history',
        sa.Column('id', ID, primary_key=True),
        sa.Column('dossier_id', ID, sa.ForeignKey('dossiers.id'), nullable=False),
        sa.Column('at', WHEN, nullable=False),
        sa.Column('actor_id', ID, sa.ForeignKey('users.id'), nullable=True),
        sa.Column('actor_name', sa.String(64), nullable=False),
        sa.Column('field', sa.String(48), nullable=False),
        sa.Column('old', sa.Text(), nullable=True),
        sa.Column('new', sa.Text(), nullable=True),
        sa.Column('sensitive', sa.Boolean(), nullable=False),
        sa.Column('reason', sa.Text(), nullable=False),
    )
    op.create_index('ix_card_history_dossier', 'card_history', ['dossier_id', 'id'])
    op.create_table(
        'card_reviews',
        sa.Column('id', ID, primary_key=True),
        sa.Column('dossier_id', ID, sa.ForeignKey('dossiers.id'), nullable=False),
        sa.Column('reviewed_on', sa.Date(), nullable=False),
        sa.Column('at', WHEN, nullable=False),
        sa.Column('reviewer_id', ID, sa.ForeignKey('users.id'), nullable=False),
        sa.Column('result', sa.String(16), nullable=False),
        sa.Column('grade', sa.String(1), nullable=False),
        sa.Column('stage', sa.String(16), nullable=False),
        sa.Column('reason', sa.Text(), nullable=False),
        sa.Column('next_review_on', sa.Date(), nullable=False),
        sa.Column('checked', sa.JSON(), nullable=False),
    )
    op.create_index('ix_card_reviews_dossier_id', 'card_reviews', ['dossier_id'])
    op.create_table(
        'owner_changes',
        sa.Column('id', ID, primary_key=True),
        sa.Column('dossier_id', ID, sa.ForeignKey('dossiers.id'), nullable=False),
        sa.Column('to_owner_id', ID, sa.ForeignKey('users.id'), nullable=False),
        sa.Column('reason', sa.Text(), nullable=False),
        sa.Column('status', sa.String(16), nullable=False),
        sa.Column('requested_by_id', ID, sa.ForeignKey('users.id'), nullable=False),
        sa.Column('requested_at', WHEN, nullable=False),
        sa.Column('decided_by_id', ID, sa.ForeignKey('users.id'), nullable=True),
        sa.Column('decided_at', WHEN, nullable=True),
    )
    op.create_index('ix_owner_changes_dossier_id', 'owner_changes', ['dossier_id'])


def downgrade() -> None:
    for index, table in (('ix_owner_changes_dossier_id', 'owner_changes'), ('ix_card_reviews_dossier_id', 'card_reviews'),
                         ('ix_card_history_dossier', 'card_history'), ('ix_card_sealed_digest', 'card_sealed'),
                         ('ix_customer_cards_backup_owner_id', 'customer_cards')):
        op.drop_index(index, table_name=table)
    for table in ('owner_changes', 'card_reviews', 'card_history', 'card_sealed', 'customer_cards'):
        op.drop_table(table)
