"""The alert queue and a prescriber's acknowledgement."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse, Response

from ketasim.clinic.api.deps import DB, Anyone, Id, Prescriber, actor
from ketasim.clinic.services import alerts as al
from ketasim.clinic.web.pages.common import router
from ketasim.clinic.web.render import render, see_other

__all__ = ["alert_ack", "alerts_page"]


@router.get("/alerts", response_class=HTMLResponse)
def alerts_page(request: Request, user: Anyone, database: DB) -> HTMLResponse:
    with database.read() as s:
        alerts = al.list_alerts(s)
    return render(request, "alerts.html", alerts=alerts)


@router.post("/alerts/{alert_id}/acknowledge", response_class=HTMLResponse)
def alert_ack(request: Request, alert_id: Id, user: Prescriber, database: DB) -> Response:
    with database.session() as s:
        al.acknowledge(s, actor(user), alert_id)
    return see_other("/alerts")
