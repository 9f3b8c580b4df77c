"""Alembic environment: runs on the connection passed in ``config.attributes['connection']``."""

from __future__ import annotations

from alembic import context

from ketasim.clinic.db.models import Base

config = context.config
connection = config.attributes.get("connection")
if connection is None:  # pragma: no cover - the app always passes its connection
    raise RuntimeError("ketasim clinic migrations run through ketasim.clinic.db.migrate()")
context.configure(
    connection=connection, target_metadata=Base.metadata, render_as_batch=True, compare_type=True
)
with context.begin_transaction():
    context.run_migrations()
