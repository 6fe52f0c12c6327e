"""transfers into the archive (移交/接收), item numbers (件号) of documents, receipt register counters

Existing documents get item numbers in the order they were created, per dossier; each dossier's
counter starts after its last number.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 20:30:00
"""
from __future__ import annotations

from collections import defaultdict

import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def _enum(name: str, *values: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, length=24)


DOC_TYPES = ('contract', 'license', 'credit_report', 'correspondence', 'id_proof', 'invoice', 'other')


def upgrade() -> None:
    with op.batch_alter_table('documents') as batch:
        batch.add_column(sa.Column('item_no', sa.Integer(), nullable=True))
    op.create_table(
        'dossier_item_counters',
        sa.Column('dossier_id', ID, sa.ForeignKey('dossiers.id'), primary_key=True, autoincrement=False),
        sa.Column('last_value', sa.Integer(), nullable=False),
    )
    op.create_table(
        'receipt_counters',
        sa.Column('year', sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column('last_value', sa.Integer(), nullable=False),
    )
    op.create_table(
        'transfers',
        sa.Column('id', ID, primary_key=True),
        sa.Column('dossier_id', ID, sa.ForeignKey('dossiers.id'), nullable=False),
        sa.Column('status', _enum('transferstatus', 'sent', 'returned', 'checked', 'received'), nullable=False),
        sa.Column('note', sa.Text(), nullable=False),
        sa.Column('business_date', sa.Date(), nullable=False),
        sa.Column('deadline', sa.Date(), nullable=False),
        sa.Column('sender_id', ID, sa.ForeignKey('users.id'), nullable=False),
        sa.Column('sent_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('checked_by_id', ID, sa.ForeignKey('users.id'), nullable=True),
        sa.Column('checked_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('returned_by_id', ID, sa.ForeignKey('users.id'), nullable=True),
        sa.Column('returned_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('return_note', sa.Text(), nullable=True),
        sa.Column('received_by_id', ID, sa.ForeignKey('users.id'), nullable=True),
        sa.Column('received_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('receipt_no', sa.String(32), nullable=True, unique=True),
        sa.Column('sender_confirmed_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('overdue_notified_at', sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index('ix_transfers_dossier_id', 'transfers', ['dossier_id'])
    op.create_index('ix_transfers_sender_id', 'transfers', ['sender_id'])
    op.create_index('ix_transfers_status_deadline', 'transfers', ['status', 'deadline'])
    op.create_table(
        'transfer_items',
        sa.Column('id', ID, primary_key=True),
        sa.Column('transfer_id', ID, sa.ForeignKey('transfers.id'), nullable=False),
        sa.Column('position', sa.Integer(), nullable=False),
        sa.Column('title', sa.String(300), nullable=False),
        sa.Column('doc_type', _enum('doctype', *DOC_TYPES), nullable=False),
        sa.Column('doc_date', sa.Date(), nullable=True),
        sa.Column('pages', sa.Integer(), nullable=False),
        sa.Column('original', sa.Boolean(), nullable=False),
        sa.Column('responsible', sa.String(200), nullable=False),
        sa.Column('remarks', sa.Text(), nullable=False),
        sa.Column('state', _enum('itemstate', 'present', 'missing', 'differs'), nullable=True),
        sa.Column('receive_note', sa.Text(), nullable=True),
        sa.Column('document_id', ID, sa.ForeignKey('documents.id'), nullable=True),
        sa.UniqueConstraint('transfer_id', 'position'),
    )
    op.create_index('ix_transfer_items_transfer_id', 'transfer_items', ['transfer_id'])
    op.create_index('ix_transfer_items_document_id', 'transfer_items', ['document_id'])

    # number the documents already there, per dossier, in the order they were created
    conn = op.get_bind()
    documents = sa.table('documents', sa.column('id', ID), sa.column('dossier_id', ID),
                         sa.column('created_at'), sa.column('item_no', sa.Integer()))
    counters = sa.table('dossier_item_counters', sa.column('dossier_id', ID), sa.column('last_value', sa.Integer()))
    last: dict[int, int] = defaultdict(int)
    rows = conn.execute(sa.select(documents.c.id, documents.c.dossier_id)
                        .order_by(documents.c.dossier_id, documents.c.created_at, documents.c.id)).all()
    numbered = []
    for doc_id, dossier_id in rows:
        last[dossier_id] += 1
        numbered.append({'doc_id': doc_id, 'no': last[dossier_id]})
    if numbered:
        conn.execute(documents.update().where(documents.c.id == sa.bindparam('doc_id'))
                     .values(item_no=sa.bindparam('no')), numbered)
        conn.execute(counters.insert(), [{'dossier_id': k, 'last_value': n} for k, n in last.items()])
    op.create_index('ux_documents_dossier_item_no', 'documents', ['dossier_id', 'item_no'], unique=True)


def downgrade() -> None:
    op.drop_index('ux_documents_dossier_item_no', table_name='documents')
    op.drop_table('transfer_items')
    op.drop_table('transfers')
    op.drop_table('receipt_counters')
    op.drop_table('dossier_item_counters')
    with op.batch_alter_table('documents') as batch:
        batch.drop_column('item_no')
