"""Database: models, engine and sessions, Alembic migrations (run on start)."""

from ketasim.clinic.db.engine import Database, make_engine, migrate

__all__ = ["Database", "make_engine", "migrate"]
