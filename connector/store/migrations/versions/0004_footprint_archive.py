"""``footprint_archive``: credentials replaced by a newer version (or deleted), by digest.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from connector.store.sqltypes import JsonDoc, UtcDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "footprint_archive",
        sa.Column("direction", sa.String(length=16), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("id", sa.String(length=255), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("credential", JsonDoc, nullable=False),
        sa.Column("archived_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("direction", "sha256", name=op.f("pk_footprint_archive")),
    )


def downgrade() -> None:
    op.drop_table("footprint_archive")
