"""Database: models, engine and sessions, Alembic migrations (run on start)."""

from ketasim.clinic.db import shared_state as _shared_state  # noqa: F401 (tables on Base)
from ketasim.clinic.db.engine import Database, make_engine, migrate

__all__ = ["Database", "make_engine", "migrate"]
