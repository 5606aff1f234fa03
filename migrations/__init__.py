"""Alembic environment and versions; a package so that it ships with `pip install`."""
