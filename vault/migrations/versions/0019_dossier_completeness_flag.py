"""dossier list at 100k customers: the card's filters as columns of the dossier, one covering index for all

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-03 10:00:00

* ``dossiers.incomplete``, ``card_stage``, ``card_kind``: the list's `incomplete` filter and copies of the
  card's stage and customer kind, kept current by vault.services.completeness_flag.
* ``completeness_rules``: the required document types and card fields the flags were computed by.
* ``ix_dossiers_list_columns`` replaces 0015's ``ix_dossiers_list_filters``: every filter of the list, so
  that counting a filtered list on PostgreSQL is one index-only scan with no join to the cards.

The backfill needs the settings (which types and fields are required), which a migration does not have:
the table starts with empty rules, and the first `Vault.open` after the upgrade (`dossier init`, `serve`, the worker,
any CLI command) computes every flag by its settings and stores the rules (`completeness_flag.sync_rules`,
the same on SQLite and PostgreSQL). Until then the list asks the question directly, exact but slower.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('dossiers', sa.Column('incomplete', sa.Boolean(), nullable=False, server_default=sa.false()))
    op.add_column('dossiers', sa.Column('card_stage', sa.String(16), nullable=False, server_default='prospect'))
    op.add_column('dossiers', sa.Column('card_kind', sa.String(16), nullable=False, server_default='organisation'))
    op.drop_index('ix_dossiers_list_filters', 'dossiers')
    # INCLUDE is PostgreSQL's (SQLite ignores it)
    op.create_index('ix_dossiers_list_columns', 'dossiers',
                    ['secrecy', 'grade', 'region', 'industry', 'owner_id', 'next_review_date', 'card_stage',
                     'card_kind', 'incomplete'], postgresql_include=['id'])
    rules = op.create_table('completeness_rules',
                            sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), primary_key=True),
                            sa.Column('rules', sa.Text(), nullable=False))
    # empty: no rules yet; the row exists so that processes starting together queue on it (FOR UPDATE)
    op.bulk_insert(rules, [{'id': 1, 'rules': ''}])


def downgrade() -> None:
    op.drop_table('completeness_rules')
    op.drop_index('ix_dossiers_list_columns', 'dossiers')
    op.create_index('ix_dossiers_list_filters', 'dossiers',
                    ['secrecy', 'grade', 'region', 'industry', 'owner_id', 'next_review_date'],
                    postgresql_include=['id'])
    with op.batch_alter_table('dossiers') as batch:
        batch.drop_column('card_kind')
        batch.drop_column('card_stage')
        batch.drop_column('incomplete')
