"""Alembic environment and revisions for the store, run programmatically by ``migrate.py``.

To add a revision: change ``tables.py``, then write ``versions/NNNN_what.py`` (``down_revision``
= the previous one) with ``op.batch_alter_table`` for SQLite-safe changes; the test
``test_migrated_schema_matches_tables`` fails until the migration and the tables agree.
``alembic.command.revision(cfg, message, autogenerate=True)`` on a connection to a migrated
scratch database can draft it (``cfg`` as built in ``migrate._config``).
"""
