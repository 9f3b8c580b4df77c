"""The app of each worker process of ``ketasim serve --workers N`` (an import string for
uvicorn's process manager): settings from the environment; the parent process has already
created, migrated and keyed the database, so workers do not migrate."""

from __future__ import annotations

from fastapi import FastAPI

from ketasim.clinic.app import create_app
from ketasim.clinic.settings import Settings

__all__ = ["app_from_env"]


def app_from_env() -> FastAPI:
    """A clinic app on ``Settings.from_env()`` without migrations."""
    return create_app(Settings.from_env(migrate=False))
