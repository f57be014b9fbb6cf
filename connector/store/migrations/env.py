"""Alembic environment: always online, on the connection ``migrate.py`` passes in."""

from __future__ import annotations

from alembic import context

from connector.store.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run store migrations through connector.store.migrate (needs an open connection)")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
