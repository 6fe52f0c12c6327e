"""intake_stacks, intake_parts (scanning intake and its unfiled inbox), stocktakes and their marks and entries

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 21:00:00
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        'intake_stacks',
        sa.Column('id', ID, primary_key=True),
        sa.Column('fingerprint', sa.String(64), nullable=False, index=True),
        sa.Column('source', sa.String(16), nullable=False),
        sa.Column('filename', sa.String(255), nullable=False),
        sa.Column('status', sa.Enum('queued', 'running', 'done', 'failed', name='stackstatus', native_enum=False,
                                    length=24), nullable=False),
        sa.Column('pages', sa.Integer(), nullable=True),
        sa.Column('done_pages', sa.Integer(), nullable=False),
        sa.Column('error', sa.Text(), nullable=True),
        sa.Column('blob_key', sa.String(80), nullable=True),
        sa.Column('blob_uid', sa.String(32), nullable=True),
        sa.Column('key_id', sa.Integer(), nullable=True),
        sa.Column('wrapped_key', sa.LargeBinary(), nullable=True),
        sa.Column('result', sa.JSON(), nullable=True),
        sa.Column('created_by_id', ID, sa.ForeignKey('users.id'), nullable=False),
        sa.Column('created_at', TS, nullable=False),
        sa.Column('finished_at', TS, nullable=True),
    )
    op.create_table(
        'intake_parts',
        sa.Column('id', ID, primary_key=True),
        sa.Column('stack_id', ID, sa.ForeignKey('intake_stacks.id'), nullable=False, index=True),
        sa.Column('part_index', sa.Integer(), nullable=False),
        sa.Column('first_page', sa.Integer(), nullable=False),
        sa.Column('last_page', sa.Integer(), nullable=False),
        sa.Column('pages', sa.Integer(), nullable=False),
        sa.Column('state', sa.Enum('filed', 'duplicate', 'unfiled', 'assigned', 'discarded', name='partstate', native_enum=False,
                                   length=24), nullable=False),
        sa.Column('reason', sa.String(64), nullable=True),
        sa.Column('code', sa.String(120), nullable=True),
        sa.Column('dossier_id', ID, sa.ForeignKey('dossiers.id'), nullable=True, index=True),
        sa.Column('document_id', ID, sa.ForeignKey('documents.id'), nullable=True),
        sa.Column('blob_key', sa.String(80), nullable=True),
        sa.Column('version_uid', sa.String(32), nullable=True),
        sa.Column('key_id', sa.Integer(), nullable=True),
        sa.Column('wrapped_key', sa.LargeBinary(), nullable=True),
        sa.Column('plaintext_size', sa.Integer(), nullable=True),
        sa.Column('ciphertext_size', sa.Integer(), nullable=True),
        sa.Column('ciphertext_sha256', sa.String(64), nullable=True),
        sa.Column('fingerprint', sa.String(64), nullable=True),
        sa.Column('created_at', TS, nullable=False),
        sa.Column('assigned_by_id', ID, sa.ForeignKey('users.id'), nullable=True),
        sa.Column('assigned_at', TS, nullable=True),
        sa.UniqueConstraint('stack_id', 'part_index'),
    )
    op.create_table(
        'stocktakes',
        sa.Column('id', ID, primary_key=True),
        sa.Column('scope', sa.String(200), nullable=False),
        sa.Column('status', sa.Enum('open', 'closed', name='stocktakestatus', native_enum=False, length=24),
                  nullable=False),
        sa.Column('started_by_id', ID, sa.ForeignKey('users.id'), nullable=False),
        sa.Column('started_at', TS, nullable=False),
        sa.Column('closed_by_id', ID, sa.ForeignKey('users.id'), nullable=True),
        sa.Column('closed_at', TS, nullable=True),
    )
    op.create_table(
        'stocktake_marks',
        sa.Column('id', ID, primary_key=True),
        sa.Column('stocktake_id', ID, sa.ForeignKey('stocktakes.id'), nullable=False, index=True),
        sa.Column('dossier_id', ID, sa.ForeignKey('dossiers.id'), nullable=False),
        sa.Column('method', sa.String(8), nullable=False),
        sa.Column('marked_by_id', ID, sa.ForeignKey('users.id'), nullable=False),
        sa.Column('marked_at', TS, nullable=False),
        sa.UniqueConstraint('stocktake_id', 'dossier_id'),
    )
    op.create_table(
        'stocktake_entries',
        sa.Column('stocktake_id', ID, sa.ForeignKey('stocktakes.id'), primary_key=True),
        sa.Column('dossier_id', ID, sa.ForeignKey('dossiers.id'), primary_key=True),
        sa.Column('state', sa.String(16), nullable=False),
        sa.Column('holder_id', ID, sa.ForeignKey('users.id'), nullable=True),
        sa.Column('checkout_id', ID, sa.ForeignKey('checkouts.id'), nullable=True),
    )


def downgrade() -> None:
    for table in ('stocktake_entries', 'stocktake_marks', 'stocktakes', 'intake_parts', 'intake_stacks'):
        op.drop_table(table)
