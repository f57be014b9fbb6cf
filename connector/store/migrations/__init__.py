"""Alembic environment and revisions for the store, run programmatically by ``migrate.py``."""
