"""The clinic: a web application and REST API for ketamine treatment courses.

Build the app with :func:`ketasim.clinic.app.create_app` from
:class:`~ketasim.clinic.settings.Settings`; nothing (engine, settings, app) is created at import
time. Records live in SQLite (WAL) under a
data directory by default, or in PostgreSQL when ``DATABASE_URL`` says so; the schema is created
and migrated with Alembic on start. Clinical logic (safety rules, protocols, plans, predictions)
is called from :mod:`ketasim.safety`, :mod:`ketasim.regimens` and :mod:`ketasim.pk`, never copied.
"""
