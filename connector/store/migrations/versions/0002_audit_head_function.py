"""PostgreSQL: ``kakehashi_audit_head(key)``, the audit chain's lock and head in one round trip.

An audit append takes the chain's advisory lock and then reads the head row. As one plain
statement that would read the head from a snapshot taken *before* the lock was granted (a
row committed by the previous holder meanwhile would be missed); a VOLATILE function takes
a fresh snapshot for each statement in it, so the head it returns is read after the lock is
held. PL/pgSQL rather than SQL: it keeps its plans for the session (a multi-statement SQL
function is planned again on every call). The lock is the same transaction-scoped advisory lock as before, so replicas still
running the three-statement append stay serialised with this one. SQLite has nothing to do
(the writer lock serialises appends).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        """
        CREATE OR REPLACE FUNCTION kakehashi_audit_head(lock_key bigint)
        RETURNS TABLE (seq bigint, hash varchar)
        LANGUAGE plpgsql VOLATILE AS $$
        BEGIN
            PERFORM pg_advisory_xact_lock(lock_key);
            RETURN QUERY SELECT a.seq, a.hash FROM audit_log AS a ORDER BY a.seq DESC LIMIT 1;
        END
        $$
        """
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP FUNCTION IF EXISTS kakehashi_audit_head(bigint)")
