"""Alembic migrations of the daemon's database, shipped inside the package (see daemon.migrate)."""
