"""FHIR R4 (4.0.1) export of a patient's record as a Bundle, and import of Patient and Observation
resources.

Export: Patient; one Encounter per session; one MedicationAdministration per dose given (lot
number on a contained Medication); Observations for rating totals (PHQ-9 total LOINC 44261-6,
GAD-7 total LOINC 70274-6 as named in issue 13 and LOINC's own names; MADRS and the C-SSRS
screener carry text only: no LOINC code was checked for them), blood pressure as the vital-signs
panel 85354-9 with systolic 8480-6 and diastolic 8462-4 components, heart rate 8867-4 and body
weight 29463-7 (the codes of the R4 vital-signs profile, hl7.org/fhir/R4/observation-vitalsigns);
and Consent. Import accepts a Bundle (or one resource) of Patient and Observation resources;
every resource is parsed by fhirclient's R4 models in strict mode first, so a malformed resource
is refused naming what is wrong.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ketasim.clinic.clock import clinic_now
from ketasim.clinic.db.models import (
    Consent,
    Patient,
    Rating,
    TreatmentPlan,
    TreatmentSession,
)
from ketasim.clinic.services import patients as pa
from ketasim.clinic.services.base import Actor, Invalid, get_or_404, log
from ketasim.clinic.services.instruments import BY_SCALE

__all__ = ["LOINC", "export_patient", "import_resources"]

LOINC_SYSTEM = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
MRN_SYSTEM = "urn:ketasim:mrn"
#: LOINC codes of the exported observations
LOINC = {
    "PHQ-9": ("44261-6", "Patient Health Questionnaire 9 item (PHQ-9) total score [Reported]"),
    "GAD-7": ("70274-6", "Generalized anxiety disorder 7 item (GAD-7) total score [Reported.PHQ]"),
    "bp": ("85354-9", "Blood pressure panel with all children optional"),
    "sbp": ("8480-6", "Systolic blood pressure"),
    "dbp": ("8462-4", "Diastolic blood pressure"),
    "hr": ("8867-4", "Heart rate"),
    "weight": ("29463-7", "Body weight"),
}
MAX_IMPORT = 10_000
_SCALE_OF_LOINC = {"44261-6": "PHQ-9", "70274-6": "GAD-7"}
_ENCOUNTER_STATUS = {
    "open": "in-progress",
    "dosed": "in-progress",
    "discharged": "finished",
    "signed": "finished",
    "cancelled": "cancelled",
}


def _uid(kind: str, ident: object) -> str:
    return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, f'ketasim:{kind}:{ident}')}"


def _ts(t: dt.datetime) -> str:
    return t.replace(microsecond=0).isoformat() + "Z"


def _code(key: str) -> dict[str, Any]:
    code, display = LOINC[key]
    return {"coding": [{"system": LOINC_SYSTEM, "code": code, "display": display}], "text": display}


def _qty(value: float, unit: str, code: str) -> dict[str, Any]:
    return {"value": value, "unit": unit, "system": UCUM, "code": code}


_CATEGORY = {
    k: {
        "coding": [
            {"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": k}
        ]
    }
    for k in ("vital-signs", "survey")
}


def export_patient(session: Session, patient_id: int) -> dict[str, Any]:
    """The patient's record as a FHIR R4 ``collection`` Bundle (JSON-ready dict)."""
    p = pa.get_patient(session, patient_id)
    pref = _uid("patient", p.id)
    entries: list[dict[str, Any]] = [
        {
            "fullUrl": pref,
            "resource": {
                "resourceType": "Patient",
                "id": f"patient-{p.id}",
                "identifier": [{"system": MRN_SYSTEM, "value": p.mrn}],
                "name": [{"family": p.family_name, "given": [p.given_name]}],
                "gender": p.sex,
                "birthDate": p.birth_date.isoformat(),
            },
        }
    ]
    subject = {"reference": pref}
    entries.append(
        _obs(
            f"weight-{p.id}",
            subject,
            "vital-signs",
            "weight",
            p.created_at,
            valueQuantity=_qty(p.weight_kg, "kg", "kg"),
        )
    )
    plans = {
        pl.id: pl
        for pl in session.execute(
            select(TreatmentPlan).where(TreatmentPlan.patient_id == p.id)
        ).scalars()
    }
    for s in session.execute(
        select(TreatmentSession)
        .where(TreatmentSession.patient_id == p.id)
        .order_by(TreatmentSession.id)
    ).scalars():
        entries += _session_entries(s, plans[s.plan_id], subject)
    for r in session.execute(
        select(Rating).where(Rating.patient_id == p.id).order_by(Rating.taken_on, Rating.id)
    ).scalars():
        entries.append(_rating(r, subject))
    for c in session.execute(select(Consent).where(Consent.patient_id == p.id)).scalars():
        entries.append(
            {
                "fullUrl": _uid("consent", c.id),
                "resource": {
                    "resourceType": "Consent",
                    "id": f"consent-{c.id}",
                    "status": "inactive" if c.withdrawn_at else "active",
                    "scope": {
                        "coding": [
                            {
                                "system": "http://terminology.hl7.org/CodeSystem/consentscope",
                                "code": "treatment",
                            }
                        ]
                    },
                    "category": [
                        {
                            "coding": [{"system": LOINC_SYSTEM, "code": "59284-0"}],
                            "text": "Patient consent",
                        }
                    ],
                    "patient": subject,
                    "dateTime": _ts(c.signed_at),
                    "policyRule": {
                        "coding": [
                            {
                                "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                                "code": "OPTIN",
                            }
                        ]
                    },
                    "sourceAttachment": {"title": f"{c.document.title} (v{c.document.version})"},
                },
            }
        )
    return {
        "resourceType": "Bundle",
        "id": f"ketasim-patient-{p.id}",
        "type": "collection",
        "timestamp": _ts(clinic_now(session)),
        "entry": entries,
    }


def _obs(
    ident: str, subject: dict[str, Any], category: str, key: str, when: dt.datetime, **value: Any
) -> dict[str, Any]:
    code = _code(key) if key in LOINC else {"text": key}
    return {
        "fullUrl": _uid("observation", ident),
        "resource": {
            "resourceType": "Observation",
            "id": ident,
            "status": "final",
            "category": [_CATEGORY[category]],
            "code": code,
            "subject": subject,
            "effectiveDateTime": _ts(when),
            **value,
        },
    }


def _session_entries(
    s: TreatmentSession, plan: TreatmentPlan, subject: dict[str, Any]
) -> list[dict[str, Any]]:
    eref = _uid("encounter", s.id)
    start = s.checked_in_at or s.dose_start_at or s.created_at
    period: dict[str, str] = {"start": _ts(start)}
    if s.discharged_at is not None:
        period["end"] = _ts(s.discharged_at)
    out: list[dict[str, Any]] = [
        {
            "fullUrl": eref,
            "resource": {
                "resourceType": "Encounter",
                "id": f"session-{s.id}",
                "status": _ENCOUNTER_STATUS.get(s.status, "unknown"),
                "class": {
                    "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                    "code": "AMB",
                    "display": "ambulatory",
                },
                "type": [{"text": f"{plan.drug} session {s.number} ({plan.protocol_id})"}],
                "subject": subject,
                "period": period,
            },
        }
    ]
    if s.dose_mg is not None and s.dose_start_at is not None:
        eff: dict[str, str] = {"start": _ts(s.dose_start_at)}
        if s.dose_end_at is not None:
            eff["end"] = _ts(s.dose_end_at)
        med: dict[str, Any] = {
            "resourceType": "Medication",
            "id": "med",
            "code": {"text": plan.drug},
        }
        if s.lot_number:
            med["batch"] = {"lotNumber": s.lot_number}
        out.append(
            {
                "fullUrl": _uid("medadmin", s.id),
                "resource": {
                    "resourceType": "MedicationAdministration",
                    "id": f"dose-{s.id}",
                    "contained": [med],
                    "status": "completed",
                    "medicationReference": {"reference": "#med"},
                    "subject": subject,
                    "context": {"reference": eref},
                    "effectivePeriod": eff,
                    "dosage": {"route": {"text": plan.route}, "dose": _qty(s.dose_mg, "mg", "mg")},
                },
            }
        )
    for o in s.observations:
        when = o.taken_at or (s.dose_start_at or s.created_at) + dt.timedelta(
            minutes=o.minutes_after_dose
        )
        enc = {"encounter": {"reference": eref}}
        if o.sbp_mmhg is not None and o.dbp_mmhg is not None:
            out.append(
                _obs(
                    f"bp-{o.id}",
                    subject,
                    "vital-signs",
                    "bp",
                    when,
                    **enc,
                    component=[
                        {"code": _code("sbp"), "valueQuantity": _qty(o.sbp_mmhg, "mmHg", "mm[Hg]")},
                        {"code": _code("dbp"), "valueQuantity": _qty(o.dbp_mmhg, "mmHg", "mm[Hg]")},
                    ],
                )
            )
        if o.heart_rate_bpm is not None:
            out.append(
                _obs(
                    f"hr-{o.id}",
                    subject,
                    "vital-signs",
                    "hr",
                    when,
                    **enc,
                    valueQuantity=_qty(o.heart_rate_bpm, "beats/minute", "/min"),
                )
            )
    return out


def _rating(r: Rating, subject: dict[str, Any]) -> dict[str, Any]:
    when = dt.datetime.combine(r.taken_on, dt.time())
    key = r.scale if r.scale in LOINC else f"{r.scale} total score"
    return _obs(
        f"rating-{r.id}",
        subject,
        "survey",
        key,
        when,
        valueQuantity=_qty(float(r.score), "{score}", "{score}"),
    )


# --- import ---------------------------------------------------------------------------------------
def _parse(resource: dict[str, Any], where: str) -> Any:
    """Validate one resource with fhirclient's R4 models (strict)."""
    from fhirclient.models.fhirabstractbase import FHIRValidationError
    from fhirclient.models.observation import Observation
    from fhirclient.models.patient import Patient as FhirPatient

    kinds = {"Patient": FhirPatient, "Observation": Observation}
    if not isinstance(resource, dict):
        raise Invalid(where, "a resource is a JSON object")
    rtype = resource.get("resourceType")
    if rtype not in kinds:
        raise Invalid(f"{where}.resourceType", f"{rtype!r}; accepted: Patient, Observation")
    try:
        return kinds[rtype](resource, strict=True)
    except (FHIRValidationError, TypeError, ValueError, AttributeError, KeyError) as exc:
        raise Invalid(where, f"not a valid R4 {rtype}: {str(exc)[:400]}") from None


def _loinc(obs: Any) -> set[str]:
    codings = (obs.code.coding or []) if obs.code is not None else []
    return {c.code for c in codings if c.system == LOINC_SYSTEM and c.code}


def import_resources(session: Session, actor: Actor, body: dict[str, Any]) -> dict[str, Any]:
    """Import Patient and Observation resources (a Bundle or one resource). Patients need a
    body-weight Observation (29463-7, kg) in the same bundle; PHQ-9 and GAD-7 total
    Observations become ratings; other observations are listed as skipped."""
    if body.get("resourceType") == "Bundle":
        entries = body.get("entry") or []
        if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
            raise Invalid("entry", "a Bundle's entry is a list of objects")
        if len(entries) > MAX_IMPORT:
            raise Invalid("entry", f"{len(entries)} entries; at most {MAX_IMPORT} per import")
        items = [
            (e.get("fullUrl"), e.get("resource") or {}, f"entry[{i}].resource")
            for i, e in enumerate(entries)
        ]
    else:
        items = [(None, body, "resource")]
    parsed = [(url, res, where, _parse(res, where)) for url, res, where in items]
    weights: dict[str, float] = {}
    for _url, res, _where, obs in parsed:
        if res["resourceType"] == "Observation" and "29463-7" in _loinc(obs):
            q = obs.valueQuantity
            ref = obs.subject.reference if obs.subject is not None else None
            if q is not None and q.value is not None and ref:
                weights[ref] = float(q.value) / (1000.0 if q.code == "g" else 1.0)
    refs: dict[str, int] = {}
    created, ratings, skipped = [], 0, []
    for url, res, where, fp in parsed:
        if res["resourceType"] != "Patient":
            continue
        keys = [k for k in (url, f"Patient/{res.get('id')}" if res.get("id") else None) if k]
        weight = next((weights[k] for k in keys if k in weights), None)
        if weight is None:
            raise Invalid(
                f"{where}",
                "a Patient needs a body-weight Observation (LOINC "
                "29463-7, kg) about it in the same bundle",
            )
        mrn = next((i.value for i in fp.identifier or [] if i.value), None)
        name = (fp.name or [None])[0]
        if not mrn or name is None or not name.family or not name.given:
            raise Invalid(where, "needs an identifier value (MRN) and a family and given name")
        if fp.gender not in ("female", "male") or fp.birthDate is None:
            raise Invalid(
                f"{where}.gender",
                f"{fp.gender!r}; the clinic records female or male with a birthDate",
            )
        p = pa.create_patient(
            session,
            actor,
            mrn=mrn,
            given_name=name.given[0],
            family_name=name.family,
            birth_date=fp.birthDate.date,
            sex=fp.gender,
            weight_kg=weight,
        )
        for k in keys:
            refs[k] = p.id
        created.append(p.id)
    for _url, res, where, obs in parsed:
        if res["resourceType"] != "Observation":
            continue
        codes = _loinc(obs)
        scale = next((_SCALE_OF_LOINC[c] for c in codes if c in _SCALE_OF_LOINC), None)
        if scale is None:
            if "29463-7" not in codes:
                skipped.append(
                    {
                        "where": where,
                        "reason": "only PHQ-9 and GAD-7 totals are imported as observations",
                    }
                )
            continue
        ref = obs.subject.reference if obs.subject is not None else ""
        pid = refs.get(ref)
        if pid is None and ref.startswith("Patient/") and ref[8:].isdigit():
            pid = get_or_404(session, Patient, int(ref[8:]), "patient").id
        if pid is None:
            raise Invalid(
                f"{where}.subject",
                f"{ref!r} is neither a Patient of the bundle nor Patient/<clinic patient id>",
            )
        q = obs.valueQuantity
        top = BY_SCALE[scale].item_max * len(BY_SCALE[scale].items)
        if q is None or q.value is None or not 0 <= q.value <= top or q.value != int(q.value):
            raise Invalid(f"{where}.valueQuantity", f"{scale} total must be an integer 0 to {top}")
        when = obs.effectiveDateTime.date if obs.effectiveDateTime is not None else None
        day = when.date() if isinstance(when, dt.datetime) else when or clinic_now(session).date()
        r = Rating(
            patient_id=pid,
            scale=scale,
            score=int(q.value),
            taken_on=day,
            recorded_by=actor.id or 0,
            source="fhir",
        )
        session.add(r)
        log(session, actor, "import", r, None)
        ratings += 1
    return {"patients_created": created, "ratings_created": ratings, "skipped": skipped}
