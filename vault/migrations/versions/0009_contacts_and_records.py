"""contacts and customer_records: the customer's people and the register of contact (issue 12);
notifications.dossier_id: the dossier a notice names, so lists and mail keep to the reader's clearance

Revision ID: 0009
Revises: 0007
Create Date: 2026-12-02 20:20:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0007'
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        'contacts',
        sa.Column('id', ID, primary_key=True),
        sa.Column('dossier_id', ID, sa.ForeignKey('dossiers.id'), nullable=False),
        sa.Column('name', sa.String(100), nullable=False),
        sa.Column('position', sa.String(100), nullable=False),
        sa.Column('department', sa.String(100), nullable=False),
        sa.Column('phone_sealed', sa.LargeBinary(), nullable=True),
        sa.Column('email_sealed', sa.LargeBinary(), nullable=True),
        sa.Column('phone_digest', sa.String(64), nullable=True),
        sa.Column('decision_role', sa.String(24), nullable=True),
        sa.Column('is_primary', sa.Boolean(), nullable=False),
        sa.Column('since', sa.Date(), nullable=True),
        sa.Column('left_on', sa.Date(), nullable=True),
        sa.Column('created_at', TS, nullable=False),
        sa.Column('created_by_id', ID, sa.ForeignKey('users.id'), nullable=False),
    )
    op.create_index('ix_contacts_dossier_id', 'contacts', ['dossier_id'])
    op.create_index('ix_contacts_phone_digest', 'contacts', ['phone_digest'])
    op.create_table(
        'customer_records',
        sa.Column('id', ID, primary_key=True),
        sa.Column('dossier_id', ID, sa.ForeignKey('dossiers.id'), nullable=False),
        sa.Column('kind', sa.String(24), nullable=False),
        sa.Column('occurred_at', TS, nullable=False),
        sa.Column('channel', sa.String(40), nullable=False),
        sa.Column('staff_id', ID, sa.ForeignKey('users.id'), nullable=False),
        sa.Column('contact_ids', sa.JSON(), nullable=False),
        sa.Column('summary', sa.String(300), nullable=False),
        sa.Column('details_sealed', sa.LargeBinary(), nullable=True),
        sa.Column('outcome', sa.String(1000), nullable=False),
        sa.Column('next_action', sa.String(300), nullable=False),
        sa.Column('next_action_due', sa.Date(), nullable=True),
        sa.Column('assignee_id', ID, sa.ForeignKey('users.id'), nullable=True),
        sa.Column('due_notified_at', TS, nullable=True),
        sa.Column('document_ids', sa.JSON(), nullable=False),
        sa.Column('corrects_id', ID, sa.ForeignKey('customer_records.id'), nullable=True),
        sa.Column('follow_up_of_id', ID, sa.ForeignKey('customer_records.id'), nullable=True),
        sa.Column('status', sa.String(16), nullable=True),
        sa.Column('handler_id', ID, sa.ForeignKey('users.id'), nullable=True),
        sa.Column('deadline', sa.Date(), nullable=True),
        sa.Column('result', sa.Text(), nullable=False),
        sa.Column('satisfaction', sa.Integer(), nullable=True),
        sa.Column('status_changed_at', TS, nullable=True),
        sa.Column('overdue_notified_at', TS, nullable=True),
        sa.Column('amount_minor', sa.BigInteger(), nullable=True),
        sa.Column('currency', sa.String(3), nullable=True),
        sa.Column('item', sa.String(300), nullable=False),
        sa.Column('payment_terms', sa.String(300), nullable=False),
        sa.Column('contract_document_id', ID, sa.ForeignKey('documents.id'), nullable=True),
        sa.Column('created_at', TS, nullable=False),
        sa.Column('created_by_id', ID, sa.ForeignKey('users.id'), nullable=False),
    )
    op.create_index('ix_customer_records_dossier_id', 'customer_records', ['dossier_id'])
    op.create_index('ix_customer_records_assignee_due', 'customer_records', ['assignee_id', 'next_action_due'])
    op.add_column('notifications', sa.Column('dossier_id', ID, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('notifications') as batch:
        batch.drop_column('dossier_id')
    op.drop_index('ix_customer_records_assignee_due', 'customer_records')
    op.drop_index('ix_customer_records_dossier_id', 'customer_records')
    op.drop_table('customer_records')
    op.drop_index('ix_contacts_phone_digest', 'contacts')
    op.drop_index('ix_contacts_dossier_id', 'contacts')
    op.drop_table('contacts')
