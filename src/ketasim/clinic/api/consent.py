"""/api/v1 consent: versioned consent documents, a patient's signed consents, withdrawal."""

from __future__ import annotations

from fastapi import APIRouter

from ketasim.clinic.api import schemas as sc
from ketasim.clinic.api.deps import DB, Admin, Anyone, Clinician, Id, actor
from ketasim.clinic.services import consent as co
from ketasim.clinic.services import patients as pa

__all__ = ["router"]

router = APIRouter(prefix="/api/v1")


@router.get("/consent-documents", tags=["consent"])
def documents_list(user: Anyone, database: DB) -> list[sc.ConsentDocumentPublic]:
    with database.read() as s:
        return [sc.ConsentDocumentPublic.model_validate(d) for d in co.list_documents(s)]


@router.post("/consent-documents", tags=["consent"], status_code=201)
def documents_create(
    body: sc.ConsentDocumentCreate, user: Admin, database: DB
) -> sc.ConsentDocumentPublic:
    """A new version of a consent document (supersedes the previous version)."""
    with database.session() as s:
        return sc.ConsentDocumentPublic.model_validate(
            co.create_document(s, actor(user), **body.model_dump())
        )


@router.get("/patients/{patient_id}/consents", tags=["consent"])
def consents_list(patient_id: Id, user: Anyone, database: DB) -> list[sc.ConsentPublic]:
    with database.read() as s:
        pa.get_patient(s, patient_id)
        return [sc.ConsentPublic.model_validate(c) for c in co.list_consents(s, patient_id)]


@router.post("/patients/{patient_id}/consents", tags=["consent"], status_code=201)
def consents_sign(
    patient_id: Id, body: sc.ConsentCreate, user: Clinician, database: DB
) -> sc.ConsentPublic:
    with database.session() as s:
        return sc.ConsentPublic.model_validate(
            co.sign_consent(s, actor(user), patient_id, body.document_id, body.signed_by_name)
        )


@router.post("/consents/{consent_id}/withdraw", tags=["consent"])
def consents_withdraw(
    consent_id: Id, body: sc.ConsentWithdraw, user: Clinician, database: DB
) -> sc.ConsentPublic:
    with database.session() as s:
        return sc.ConsentPublic.model_validate(
            co.withdraw_consent(s, actor(user), consent_id, body.reason)
        )
