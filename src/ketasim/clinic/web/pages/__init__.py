"""Server-rendered pages for the clinic workflow, one module per record type: login, patients
(consent, screening, plans made, ratings), plans (with their predicted curves, signature, opening
a session) and alerts. Sessions are :mod:`ketasim.clinic.web.sessions`, the day board
:mod:`ketasim.clinic.web.day`, the computational tools :mod:`ketasim.clinic.web.tools`."""

from __future__ import annotations

from ketasim.clinic.web.pages import alerts, login, patients, plans
from ketasim.clinic.web.pages.common import router

__all__ = ["alerts", "login", "patients", "plans", "router"]
