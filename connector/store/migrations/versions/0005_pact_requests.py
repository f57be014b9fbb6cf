"""``pact_requests``: accepted PACT ``RequestCreated`` events, answered (with retries) across restarts.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from connector.store.sqltypes import JsonDoc, UtcDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pact_requests",
        sa.Column("id", sa.String(length=255), nullable=False),
        sa.Column("partner", sa.String(length=255), nullable=False),
        sa.Column("event_id", sa.String(length=255), nullable=False),
        sa.Column("version", sa.String(length=4), nullable=False),
        sa.Column("event", JsonDoc, nullable=False),
        sa.Column("scope", JsonDoc, nullable=True),
        sa.Column("source", sa.String(length=2048), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UtcDateTime(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("lease_owner", sa.String(length=255), nullable=True),
        sa.Column("lease_expires_at", UtcDateTime(), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pact_requests")),
        sa.UniqueConstraint("partner", "event_id", name=op.f("uq_pact_requests_partner_event_id")),
    )
    op.create_index("ix_pact_requests_status_next_attempt_at", "pact_requests", ["status", "next_attempt_at"],
                    unique=False)


def downgrade() -> None:
    op.drop_index("ix_pact_requests_status_next_attempt_at", table_name="pact_requests")
    op.drop_table("pact_requests")
