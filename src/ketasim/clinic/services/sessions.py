"""Treatment sessions: pre-dose check, dose given, timed vitals and scores, adverse events,
discharge, signature, REMS monitoring form.

States: ``open`` -> (pre-dose check) -> ``dosed`` -> ``discharged`` -> ``signed``. A hard-stop
finding of the pre-dose check blocks the dose. A session is opened only on a signed plan with a
current consent. Signing is refused while a required field is missing; for esketamine the
required fields are those of the SPRAVATO REMS patient monitoring form (clinical-rules.md 4a).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ketasim.clinic import audit
from ketasim.clinic.db.models import (
    AdverseEvent,
    Observation,
    Patient,
    Screening,
    TreatmentPlan,
    TreatmentSession,
    utcnow,
)
from ketasim.clinic.services.alerts import MISUSE_SOURCE, raise_alert
from ketasim.clinic.services.base import Actor, Conflict, Invalid, assign, get_or_404, log
from ketasim.clinic.services.clinical import (
    finding_dicts,
    library_protocol,
    patient_record,
    prior_sessions,
)
from ketasim.clinic.services.consent import current_consent
from ketasim.regimens.protocols import PlannedDose
from ketasim.safety import check, default_rules

__all__ = [
    "BP_ALERT_SOURCE",
    "REMS_FIELDS",
    "add_adverse_event",
    "add_observation",
    "discharge",
    "give_dose",
    "missing_fields",
    "open_session",
    "predose_check",
    "rems_form",
    "sign_session",
]

BP_ALERT_SOURCE = ("Williams B et al. 2018 ESC/ESH hypertension guidelines (grade 3: >= 180/110 "
                   "mmHg); aligning ketamine BP protocols with hypertension guidelines proposed by "
                   "Yip et al. 2022 (PMC9556663); threshold configurable")
REMS_SOURCE = "SPRAVATO REMS patient monitoring form (clinical-rules.md 4a)"
AE_CATEGORIES = ("sedation", "dissociation", "respiratory-depression", "blood-pressure",
                 "nausea-vomiting", "other")
AE_SEVERITIES = ("mild", "moderate", "severe")

#: REMS patient monitoring form fields (label, how the record answers it)
REMS_FIELDS = (
    "first_treatment", "concomitant_medications", "monitoring_provider", "setting",
    "treatment_date", "dose_mg", "lot_number", "monitoring_minutes", "ready_to_leave_min",
    "vitals_acceptable_before", "vitals_acceptable_end", "bp_pre_dose", "bp_40_min",
    "bp_pre_discharge", "sedation_observed", "dissociation_observed",
    "respiratory_depression_observed", "serious_adverse_event",
)
MIN_MONITORING_MIN = 120.0


def _session(session: Session, session_id: int) -> TreatmentSession:
    return get_or_404(session, TreatmentSession, session_id, "session")


def _plan(session: Session, s: TreatmentSession) -> TreatmentPlan:
    return get_or_404(session, TreatmentPlan, s.plan_id, "plan")


def open_session(session: Session, actor: Actor, plan_id: int, *,
                 early_request: bool = False) -> TreatmentSession:
    """Open the next session of a signed plan (needs a current consent)."""
    plan = get_or_404(session, TreatmentPlan, plan_id, "plan")
    if plan.status != "signed":
        raise Conflict(f"plan {plan_id} is not signed by a prescriber", field="plan_id")
    if current_consent(session, plan.patient_id) is None:
        raise Conflict("no current consent: sign the current consent document first",
                       field="consent")
    busy = session.execute(select(TreatmentSession.id).where(
        TreatmentSession.patient_id == plan.patient_id,
        TreatmentSession.status.in_(("open", "dosed")))).first()
    if busy:
        raise Conflict(f"session {busy[0]} of this patient is still open")
    number = int(session.execute(select(func.count(TreatmentSession.id)).where(
        TreatmentSession.plan_id == plan.id, TreatmentSession.status != "cancelled")
    ).scalar_one()) + 1
    s = TreatmentSession(patient_id=plan.patient_id, plan_id=plan.id, number=number,
                         status="open", created_by=actor.id or 0, early_request=early_request)
    session.add(s)
    log(session, actor, "create", s, None)
    if number > len(plan.doses):
        raise_alert(session, actor, patient_id=plan.patient_id, session_id=s.id,
                    kind="extra-session", severity="warn", source=MISUSE_SOURCE,
                    message=f"session {number} requested beyond the {len(plan.doses)} sessions "
                    "of the signed plan")
    if early_request:
        raise_alert(session, actor, patient_id=plan.patient_id, session_id=s.id,
                    kind="early-session", severity="warn", source=MISUSE_SOURCE,
                    message=f"session {number} requested earlier than scheduled")
    return s


def _f(value: object) -> float:
    if isinstance(value, int | float):
        return float(value)
    raise TypeError(f"stored plan dose is not a number: {value!r}")


def _planned_dose(plan: TreatmentPlan, number: int, dose_mg: float | None = None) -> PlannedDose:
    d = plan.doses[min(number, len(plan.doses)) - 1]
    pd_ = PlannedDose(session=number, phase=str(d["phase"]), day=0.0, time_min=0.0,
                      amount=_f(d["amount"]), unit=str(d["unit"]), route=str(d["route"]),
                      duration_min=_f(d["duration_min"]), amount_mg=_f(d["amount_mg"]))
    if dose_mg is not None:
        factor = dose_mg / pd_.amount_mg if pd_.amount_mg else 1.0
        pd_ = dataclasses.replace(pd_, amount=pd_.amount * factor, amount_mg=dose_mg)
    return pd_


_ALERT_OF_RULE = {"frequency.": "frequency-escalation", "cumulative.weekly": "cumulative-exposure",
                  "dose.above": "dose-escalation"}


def predose_check(session: Session, actor: Actor, session_id: int, *, sbp_mmhg: float,
                  dbp_mmhg: float, heart_rate_bpm: float, spo2_percent: float,
                  medications: Sequence[str] = (), fasting_confirmed: bool | None = None,
                  transport_arranged: bool | None = None,
                  new_conditions: Sequence[str] = ()) -> TreatmentSession:
    """Re-check eligibility before dosing with today's vitals and medicines and the doses already
    given (``new_conditions``: intercurrent illness since screening); stop findings block the
    dose; frequency, cumulative and dose findings raise alerts."""
    s = _session(session, session_id)
    if s.status != "open":
        raise Conflict(f"session {session_id} is {s.status}; the pre-dose check comes first")
    if not 50.0 <= spo2_percent <= 100.0:
        raise Invalid("spo2_percent", f"{spo2_percent:g} % is out of range; accepted 50 to 100")
    plan = _plan(session, s)
    patient = get_or_404(session, Patient, s.patient_id, "patient")
    screening = get_or_404(session, Screening, plan.screening_id, "screening")
    rules = default_rules()
    record = patient_record(
        patient, rules, screening=screening,
        vitals={"sbp_mmhg": sbp_mmhg, "dbp_mmhg": dbp_mmhg, "heart_rate_bpm": heart_rate_bpm},
        medications=medications, previous=prior_sessions(session, s.patient_id),
        conditions=sorted(set(screening.conditions) | set(new_conditions)))
    protocol = library_protocol(plan.protocol_id)
    findings = finding_dicts(check(protocol, record, [_planned_dose(plan, s.number)],
                                   rules=rules))
    before = audit.snapshot(s)
    s.predose_sbp_mmhg, s.predose_dbp_mmhg = sbp_mmhg, dbp_mmhg
    s.predose_heart_rate_bpm, s.predose_spo2_percent = heart_rate_bpm, spo2_percent
    s.concomitant_medications = list(medications)
    s.fasting_confirmed, s.transport_arranged = fasting_confirmed, transport_arranged
    s.predose_findings = findings
    s.predose_blocked = any(f["severity"] == "stop" for f in findings)
    log(session, actor, "predose-check", s, before)
    for f in findings:
        kind = next((k for prefix, k in _ALERT_OF_RULE.items()
                     if f["rule_id"].startswith(prefix)), None)
        if kind and f["severity"] in ("stop", "warn"):
            raise_alert(session, actor, patient_id=s.patient_id, session_id=s.id, kind=kind,
                        severity=f["severity"], message=f["message"], source=f["source"])
    return s


def give_dose(session: Session, actor: Actor, session_id: int, *, dose_mg: float,
              lot_number: str, start_at: dt.datetime, end_at: dt.datetime | None = None,
              rationale: str | None = None) -> TreatmentSession:
    """Record the dose given (mg), its lot number and times; refused without a pre-dose check or
    when it found a hard stop."""
    s = _session(session, session_id)
    if s.status != "open":
        raise Conflict(f"session {session_id} is {s.status}; a dose is given once, to an open "
                       "session")
    if s.predose_blocked is None:
        raise Conflict("the pre-dose check has not been done", field="predose")
    if s.predose_blocked:
        stops = [f["rule_id"] for f in s.predose_findings if f["severity"] == "stop"]
        raise Conflict(f"the pre-dose check found hard stops: {', '.join(stops)}",
                       extra={"stops": stops})
    if not 0 < dose_mg <= 1000:
        raise Invalid("dose_mg", f"{dose_mg:g} mg is out of range; accepted > 0 to 1000 mg")
    if not lot_number.strip():
        raise Invalid("lot_number", "required")
    if end_at is not None and end_at < start_at:
        raise Invalid("end_at", "before start_at")
    plan = _plan(session, s)
    planned = _planned_dose(plan, s.number)
    previous = session.execute(select(TreatmentSession.dose_mg).where(
        TreatmentSession.patient_id == s.patient_id, TreatmentSession.dose_mg.is_not(None),
        TreatmentSession.id != s.id).order_by(TreatmentSession.dose_start_at.desc()).limit(1)
    ).scalar_one_or_none()
    if dose_mg > planned.amount_mg * 1.001 and not (rationale or "").strip():
        raise Invalid("rationale", f"{dose_mg:g} mg is above the planned {planned.amount_mg:g} "
                      "mg: give the rationale for the change")
    before = audit.snapshot(s)
    s.dose_mg, s.lot_number = dose_mg, lot_number.strip()
    s.dose_start_at, s.dose_end_at, s.dose_rationale = start_at, end_at, rationale
    s.status = "dosed"
    log(session, actor, "dose", s, before)
    if previous is not None and dose_mg > previous * 1.001:
        raise_alert(session, actor, patient_id=s.patient_id, session_id=s.id,
                    kind="dose-escalation", severity="warn", source=MISUSE_SOURCE,
                    message=f"dose escalated from {previous:g} mg to {dose_mg:g} mg")
    planned_total = sum(_f(d["amount_mg"]) for d in plan.doses)
    given_total = float(session.execute(select(func.sum(TreatmentSession.dose_mg)).where(
        TreatmentSession.plan_id == plan.id)).scalar_one() or 0.0)
    if given_total > planned_total * 1.001:
        raise_alert(session, actor, patient_id=s.patient_id, session_id=s.id,
                    kind="cumulative-exposure", severity="warn", source=MISUSE_SOURCE,
                    message=f"cumulative {given_total:g} mg exceeds the {planned_total:g} mg of "
                    "the signed plan")
    return s


def add_observation(session: Session, actor: Actor, session_id: int, *,
                    minutes_after_dose: float, checkpoint: str = "",
                    sbp_mmhg: float | None = None, dbp_mmhg: float | None = None,
                    heart_rate_bpm: float | None = None, spo2_percent: float | None = None,
                    cadss: float | None = None, moaas: int | None = None,
                    bp_alert: tuple[float, float] = (180.0, 110.0),
                    taken_at: dt.datetime | None = None) -> Observation:
    """Timed vitals (mmHg, beats/min, %) and scores (CADSS 0-92, MOAA/S 0-5)."""
    s = _session(session, session_id)
    if s.status in ("signed", "cancelled"):
        raise Conflict(f"session {session_id} is {s.status}")
    checks = {"sbp_mmhg": (sbp_mmhg, 50, 300), "dbp_mmhg": (dbp_mmhg, 20, 200),
              "heart_rate_bpm": (heart_rate_bpm, 20, 250), "spo2_percent": (spo2_percent, 50, 100),
              "cadss": (cadss, 0, 92), "moaas": (moaas, 0, 5),
              "minutes_after_dose": (minutes_after_dose, -120, 1440)}
    for name, (v, lo, hi) in checks.items():
        if v is not None and not lo <= v <= hi:
            raise Invalid(name, f"{v:g} is out of range; accepted {lo} to {hi}")
    if (sbp_mmhg is None) != (dbp_mmhg is None):
        raise Invalid("dbp_mmhg" if dbp_mmhg is None else "sbp_mmhg",
                      "give systolic and diastolic together")
    if sbp_mmhg is not None and dbp_mmhg is not None and dbp_mmhg >= sbp_mmhg:
        raise Invalid("dbp_mmhg", "must be below sbp_mmhg")
    if checkpoint not in ("", "pre-dose", "40-min", "pre-discharge"):
        raise Invalid("checkpoint", f"{checkpoint!r}; accepted pre-dose, 40-min, pre-discharge")
    obs = Observation(session_id=s.id, minutes_after_dose=minutes_after_dose,
                      checkpoint=checkpoint, sbp_mmhg=sbp_mmhg, dbp_mmhg=dbp_mmhg,
                      heart_rate_bpm=heart_rate_bpm, spo2_percent=spo2_percent, cadss=cadss,
                      moaas=moaas, recorded_by=actor.id or 0, taken_at=taken_at)
    session.add(obs)
    log(session, actor, "create", obs, None)
    if sbp_mmhg is not None and dbp_mmhg is not None and (
            sbp_mmhg >= bp_alert[0] or dbp_mmhg >= bp_alert[1]):
        raise_alert(session, actor, patient_id=s.patient_id, session_id=s.id,
                    kind="bp-above-threshold", severity="warn", source=BP_ALERT_SOURCE,
                    message=f"BP {sbp_mmhg:g}/{dbp_mmhg:g} mmHg at {minutes_after_dose:g} min is "
                    f"at or above {bp_alert[0]:g}/{bp_alert[1]:g} mmHg")
    session.expire(s, ["observations"])
    return obs


def add_adverse_event(session: Session, actor: Actor, session_id: int, *, category: str,
                      severity: str, description: str, serious: bool = False,
                      onset_min: float | None = None, action: str = "") -> AdverseEvent:
    """An adverse event of a session."""
    s = _session(session, session_id)
    if s.status in ("signed", "cancelled"):
        raise Conflict(f"session {session_id} is {s.status}")
    if category not in AE_CATEGORIES:
        raise Invalid("category", f"{category!r}; accepted: {', '.join(AE_CATEGORIES)}")
    if severity not in AE_SEVERITIES:
        raise Invalid("severity", f"{severity!r}; accepted: {', '.join(AE_SEVERITIES)}")
    if not description.strip():
        raise Invalid("description", "required")
    ae = AdverseEvent(session_id=s.id, category=category, severity=severity, serious=serious,
                      description=description.strip(), onset_min=onset_min, action=action,
                      recorded_by=actor.id or 0)
    session.add(ae)
    log(session, actor, "create", ae, None)
    session.expire(s, ["adverse_events"])
    return ae


def _bp_checkpoints(s: TreatmentSession) -> dict[str, Observation | None]:
    def has_bp(o: Observation) -> bool:
        return o.sbp_mmhg is not None

    obs = [o for o in s.observations if has_bp(o)]
    pre = next((o for o in obs if o.checkpoint == "pre-dose"), None) or next(
        (o for o in obs if o.minutes_after_dose <= 0), None)
    forty = next((o for o in obs if o.checkpoint == "40-min"), None) or next(
        (o for o in obs if 30 <= o.minutes_after_dose <= 60), None)
    dis = next((o for o in obs if o.checkpoint == "pre-discharge"), None)
    return {"bp_pre_dose": pre, "bp_40_min": forty, "bp_pre_discharge": dis}


def discharge(session: Session, actor: Actor, session_id: int, *, discharged_at: dt.datetime,
              criteria_met: bool, monitoring_end_at: dt.datetime | None = None,
              ready_to_leave_min: float | None = None, vitals_acceptable_end: bool | None = None,
              transport_arranged: bool | None = None, bp_alert: tuple[float, float] = (180, 110),
              **rems: object) -> TreatmentSession:
    """Discharge after monitoring; missing BP checkpoints raise a missed-monitoring alert."""
    s = _session(session, session_id)
    if s.status != "dosed":
        raise Conflict(f"session {session_id} is {s.status}; discharge follows the dose")
    if not criteria_met:
        raise Conflict("discharge criteria are not met: continue monitoring",
                       field="criteria_met")
    assert s.dose_start_at is not None
    if discharged_at < s.dose_start_at:
        raise Invalid("discharged_at", "before the dose")
    plan = _plan(session, s)
    before = audit.snapshot(s)
    s.discharged_at, s.discharge_criteria_met = discharged_at, criteria_met
    s.monitoring_end_at = monitoring_end_at or discharged_at
    s.ready_to_leave_min = ready_to_leave_min
    if vitals_acceptable_end is not None:
        s.vitals_acceptable_end = vitals_acceptable_end
    if transport_arranged is not None:
        s.transport_arranged = transport_arranged
    for k, v in rems.items():
        if k not in ("first_treatment", "monitoring_provider", "setting",
                     "vitals_acceptable_before", "sedation_observed", "dissociation_observed",
                     "respiratory_depression_observed", "serious_adverse_event", "notes"):
            raise Invalid(k, "unknown field")
        if v is not None:
            setattr(s, k, v)
    s.status = "discharged"
    log(session, actor, "discharge", s, before)
    missing = [k for k, o in _bp_checkpoints(s).items() if o is None]
    minutes = (s.monitoring_end_at - s.dose_start_at).total_seconds() / 60.0
    limit = plan.discharge_not_before_min
    if limit is not None and minutes < limit:
        missing.append(f"monitoring {minutes:.0f} min < {limit:g} min")
    if missing:
        raise_alert(session, actor, patient_id=s.patient_id, session_id=s.id,
                    kind="missed-monitoring", severity="warn",
                    source="SPRAVATO US PI 5.6 and REMS (BP before, at ~40 min, before discharge;"
                    " >= 2 h observation); Sanacora 2017 APA consensus",
                    message="missed monitoring: " + ", ".join(missing))
    return s


def missing_fields(session: Session, s: TreatmentSession) -> list[str]:
    """Fields that must be filled before the session can be signed."""
    plan = _plan(session, s)
    missing = []
    if s.dose_mg is None:
        missing.append("dose_mg")
    if s.discharged_at is None:
        missing.append("discharged_at")
    if not s.observations:
        missing.append("observations")
    if plan.drug == "esketamine":
        form = rems_form(session, s)
        missing += [k for k in REMS_FIELDS if form.get(k) is None and k not in missing]
        mins = form.get("monitoring_minutes")
        if isinstance(mins, float) and mins < MIN_MONITORING_MIN:
            missing.append(f"monitoring_minutes (>= {MIN_MONITORING_MIN:g})")
    return missing


def sign_session(session: Session, actor: Actor, session_id: int) -> TreatmentSession:
    """The clinician's signature; refused while a required field is missing."""
    s = _session(session, session_id)
    if s.status != "discharged":
        raise Conflict(f"session {session_id} is {s.status}; sign after discharge")
    missing = missing_fields(session, s)
    if missing:
        raise Conflict("cannot sign: missing " + ", ".join(missing), extra={"missing": missing})
    before = audit.snapshot(s)
    s.status, s.signed_by, s.signed_at = "signed", actor.id, utcnow()
    log(session, actor, "sign", s, before)
    return s


def rems_form(session: Session, s: TreatmentSession) -> dict[str, object]:
    """The REMS patient monitoring form filled from the record (None: not recorded)."""
    patient = get_or_404(session, Patient, s.patient_id, "patient")
    bp = _bp_checkpoints(s)
    minutes = None
    if s.monitoring_end_at is not None and s.dose_start_at is not None:
        minutes = (s.monitoring_end_at - s.dose_start_at).total_seconds() / 60.0

    def fmt(o: Observation | None) -> str | None:
        return None if o is None else f"{o.sbp_mmhg:g}/{o.dbp_mmhg:g}"

    return {
        "form": "SPRAVATO REMS patient monitoring form", "source": REMS_SOURCE,
        "patient_mrn": patient.mrn, "patient_name": f"{patient.given_name} {patient.family_name}",
        "session_id": s.id, "session_number": s.number,
        "first_treatment": s.first_treatment,
        "concomitant_medications": (None if s.predose_blocked is None
                                    else list(s.concomitant_medications)),
        "monitoring_provider": s.monitoring_provider, "setting": s.setting,
        "treatment_date": None if s.dose_start_at is None else s.dose_start_at.date().isoformat(),
        "dose_mg": s.dose_mg, "lot_number": s.lot_number, "monitoring_minutes": minutes,
        "ready_to_leave_min": s.ready_to_leave_min,
        "vitals_acceptable_before": s.vitals_acceptable_before,
        "vitals_acceptable_end": s.vitals_acceptable_end,
        "bp_pre_dose": fmt(bp["bp_pre_dose"]), "bp_40_min": fmt(bp["bp_40_min"]),
        "bp_pre_discharge": fmt(bp["bp_pre_discharge"]),
        "sedation_observed": s.sedation_observed,
        "dissociation_observed": s.dissociation_observed,
        "respiratory_depression_observed": s.respiratory_depression_observed,
        "serious_adverse_event": s.serious_adverse_event,
        "adverse_events": [{"category": a.category, "severity": a.severity,
                            "serious": a.serious, "description": a.description}
                           for a in s.adverse_events],
        "due_by": None if s.dose_start_at is None
        else (s.dose_start_at + dt.timedelta(days=7)).date().isoformat(),
    }


def list_sessions(session: Session, patient_id: int | None = None) -> list[TreatmentSession]:
    """Sessions, newest first."""
    stmt = select(TreatmentSession).order_by(TreatmentSession.id.desc())
    if patient_id is not None:
        stmt = stmt.where(TreatmentSession.patient_id == patient_id)
    return list(session.execute(stmt).scalars())


def update_session(session: Session, actor: Actor, session_id: int,
                   values: dict[str, object]) -> TreatmentSession:
    """Fill REMS/discharge fields of a session that is not signed."""
    s = _session(session, session_id)
    if s.status in ("signed", "cancelled"):
        raise Conflict(f"session {session_id} is {s.status}")
    before = audit.snapshot(s)
    assign(s, values)
    log(session, actor, "update", s, before)
    return s
