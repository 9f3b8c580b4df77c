"""Alerts for misuse and prescribing risk (an alert queue for the prescriber)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from ketasim.clinic import audit
from ketasim.clinic.clock import clinic_now
from ketasim.clinic.db.models import Alert, TreatmentSession
from ketasim.clinic.services.base import Actor, Conflict, get_or_404, log

__all__ = [
    "ALERT_KINDS",
    "MISUSE_SOURCE",
    "acknowledge",
    "list_alerts",
    "raise_alert",
    "session_alert",
]

ALERT_KINDS = (
    "dose-escalation",
    "frequency-escalation",
    "early-session",
    "extra-session",
    "cumulative-exposure",
    "missed-monitoring",
    "bp-above-threshold",
    "prescriber-override",
    # a dose recorded after the consent in force at its start had ended (services/dosing.py)
    "consent-ended-since-dose",
    # patient-reported outcomes (services/instruments.py)
    "suicide-risk",
    "pro-worsening",
)

MISUSE_SOURCE = (
    "ASA statement on the safe use of ketamine (misuse signals: escalating dose or "
    "frequency, early or extra-session requests); SPRAVATO US PI section 5.3 "
    "(abuse and misuse)"
)


def raise_alert(
    session: Session,
    actor: Actor,
    *,
    patient_id: int,
    session_id: int | None,
    kind: str,
    severity: str,
    message: str,
    source: str,
) -> Alert:
    """Queue an alert (audited like every write)."""
    assert kind in ALERT_KINDS, kind
    alert = Alert(
        patient_id=patient_id,
        session_id=session_id,
        kind=kind,
        severity=severity,
        message=message,
        source=source,
    )
    session.add(alert)
    log(session, actor, "create", alert, None)
    return alert


def session_alert(
    session: Session,
    actor: Actor,
    s: TreatmentSession,
    *,
    kind: str,
    message: str,
    severity: str = "warn",
    source: str = MISUSE_SOURCE,
) -> Alert:
    """Queue an alert about treatment session ``s`` (its patient's); a warning of a misuse signal
    unless ``severity`` and ``source`` say otherwise."""
    return raise_alert(
        session,
        actor,
        patient_id=s.patient_id,
        session_id=s.id,
        kind=kind,
        severity=severity,
        message=message,
        source=source,
    )


def list_alerts(
    session: Session, *, open_only: bool = False, patient_id: int | None = None
) -> list[Alert]:
    """Alerts, newest first."""
    stmt = select(Alert).order_by(Alert.id.desc())
    if open_only:
        stmt = stmt.where(Alert.acknowledged_at.is_(None))
    if patient_id is not None:
        stmt = stmt.where(Alert.patient_id == patient_id)
    return list(session.execute(stmt).scalars())


def acknowledge(session: Session, actor: Actor, alert_id: int) -> Alert:
    """Mark an alert as seen by a prescriber."""
    alert = get_or_404(session, Alert, alert_id, "alert")
    if alert.acknowledged_at is not None:
        raise Conflict(f"alert {alert_id} was acknowledged already")
    before = audit.snapshot(alert)
    alert.acknowledged_by, alert.acknowledged_at = actor.id, clinic_now(session)
    log(session, actor, "acknowledge", alert, before)
    return alert
