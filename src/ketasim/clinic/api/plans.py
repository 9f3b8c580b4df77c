"""/api/v1 screenings and treatment plans: the safety rules' findings, the plan from the
protocol library and the prescriber's signature."""

from __future__ import annotations

import contextlib

from fastapi import APIRouter, Request

from ketasim.clinic.api import schemas as sc
from ketasim.clinic.api.deps import DB, Anyone, Clinician, Id, Prescriber, actor
from ketasim.clinic.db.models import TreatmentPlan
from ketasim.clinic.services import patients as pa
from ketasim.clinic.services import plans as pl
from ketasim.clinic.services import screening as scr
from ketasim.clinic.services.base import ServiceError, get_or_404

__all__ = ["router"]

router = APIRouter(prefix="/api/v1")


@router.get("/patients/{patient_id}/screenings", tags=["screening"])
def screenings_list(patient_id: Id, user: Anyone, database: DB) -> list[sc.ScreeningPublic]:
    with database.read() as s:
        pa.get_patient(s, patient_id)
        return [sc.ScreeningPublic.model_validate(x) for x in scr.list_screenings(s, patient_id)]


@router.post("/patients/{patient_id}/screenings", tags=["screening"], status_code=201)
def screenings_create(
    patient_id: Id, body: sc.ScreeningCreate, user: Clinician, database: DB
) -> sc.ScreeningPublic:
    """Screen for a protocol: findings of the safety rules with sources; eligibility."""
    with database.session() as s:
        return sc.ScreeningPublic.model_validate(
            scr.create_screening(s, actor(user), patient_id, **body.model_dump())
        )


@router.get("/patients/{patient_id}/plans", tags=["plans"])
def plans_list(patient_id: Id, user: Anyone, database: DB) -> list[sc.PlanPublic]:
    with database.read() as s:
        pa.get_patient(s, patient_id)
        return [sc.PlanPublic.model_validate(p) for p in pl.list_plans(s, patient_id)]


@router.post("/patients/{patient_id}/plans", tags=["plans"], status_code=201)
def plans_create(
    request: Request, patient_id: Id, body: sc.PlanCreate, user: Prescriber, database: DB
) -> sc.PlanPublic:
    """A draft plan from the protocol library via ketasim.safety.make_plan (its predicted
    curves are computed once, here, and stored for the plan page)."""
    from ketasim.clinic.services.predictions import ensure

    with database.session() as s:
        out = sc.PlanPublic.model_validate(
            pl.create_plan(s, actor(user), patient_id, **body.model_dump())
        )
    # on failure the plan page computes it (and shows why it cannot) on first view
    with contextlib.suppress(ServiceError):
        ensure(database, out.id, request.app.state.settings.plan_samples)
    return out


@router.get("/plans/{plan_id}", tags=["plans"])
def plans_get(plan_id: Id, user: Anyone, database: DB) -> sc.PlanPublic:
    with database.read() as s:
        return sc.PlanPublic.model_validate(get_or_404(s, TreatmentPlan, plan_id, "plan"))


@router.post("/plans/{plan_id}/sign", tags=["plans"])
def plans_sign(plan_id: Id, user: Prescriber, database: DB) -> sc.PlanPublic:
    """The prescriber's signature (refused with hard-stop findings)."""
    with database.session() as s:
        return sc.PlanPublic.model_validate(pl.sign_plan(s, actor(user), plan_id))
