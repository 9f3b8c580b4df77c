"""/api/v1/alerts: the prescriber's alert queue."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from ketasim.clinic.api import schemas as sc
from ketasim.clinic.api.deps import DB, Anyone, Id, Prescriber, QId, actor
from ketasim.clinic.api.json_out import json_list
from ketasim.clinic.services import alerts as al

__all__ = ["router"]

router = APIRouter(prefix="/api/v1")


@router.get("/alerts", tags=["alerts"], response_model=list[sc.AlertPublic])
def alerts_list(
    user: Anyone, database: DB, open_only: bool = False, patient_id: QId = None
) -> Response:
    with database.read() as s:
        return json_list(
            sc.AlertPublic,
            [
                sc.AlertPublic.model_validate(a)
                for a in al.list_alerts(s, open_only=open_only, patient_id=patient_id)
            ],
        )


@router.post("/alerts/{alert_id}/acknowledge", tags=["alerts"])
def alerts_ack(alert_id: Id, user: Prescriber, database: DB) -> sc.AlertPublic:
    with database.session() as s:
        return sc.AlertPublic.model_validate(al.acknowledge(s, actor(user), alert_id))
