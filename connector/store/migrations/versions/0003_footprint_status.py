"""``footprint_status``: status-list bits (W3C Bitstring Status List) for footprint revocation.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from connector.store.sqltypes import UtcDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('footprint_status',
    sa.Column('list_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('idx', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('footprint_id', sa.String(length=255), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('revoked', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('revoked_at', UtcDateTime(), nullable=True),
    sa.Column('created_at', UtcDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('list_id', 'idx', name=op.f('pk_footprint_status')),
    sa.UniqueConstraint('footprint_id', 'version', name=op.f('uq_footprint_status_footprint_id_version'))
    )


def downgrade() -> None:
    op.drop_table('footprint_status')
