"""The clinic's tables (SQLAlchemy 2 declarative). Times are naive UTC; units are in the names."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

__all__ = [
    "ROLES",
    "AccessLog",
    "AdverseEvent",
    "Alert",
    "Appointment",
    "AuditEntry",
    "AuditHead",
    "AuthSession",
    "Base",
    "Consent",
    "ConsentDocument",
    "Observation",
    "Patient",
    "PlanPrediction",
    "QuestionnaireLink",
    "Rating",
    "Screening",
    "SessionAmendment",
    "TreatmentPlan",
    "TreatmentSession",
    "User",
    "utcnow",
]

ROLES = ("admin", "prescriber", "nurse", "auditor")


def utcnow() -> dt.datetime:
    """Now, naive UTC, to the microsecond."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class Base(DeclarativeBase):
    """Declarative base of the clinic tables."""


class User(Base):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint("role IN ('admin','prescriber','nurse','auditor')", name="ck_users_role"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False)
    password_changed_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    #: encrypted (``enc1:`` + Fernet token, see ``ketasim.clinic.security.secret_box``)
    totp_secret: Mapped[str | None] = mapped_column(String(255), nullable=True)
    totp_enabled: Mapped[bool] = mapped_column(Boolean, default=False)


class AuthSession(Base):
    __tablename__ = "auth_sessions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime)
    last_seen_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    user: Mapped[User] = relationship(lazy="joined")


class Patient(Base):
    __tablename__ = "patients"
    __table_args__ = (
        CheckConstraint("weight_kg > 0", name="ck_patients_weight"),
        CheckConstraint("sex IN ('female','male')", name="ck_patients_sex"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    mrn: Mapped[str] = mapped_column(String(64), unique=True)
    given_name: Mapped[str] = mapped_column(String(100))
    family_name: Mapped[str] = mapped_column(String(100))
    birth_date: Mapped[dt.date] = mapped_column(Date)
    sex: Mapped[str] = mapped_column(String(8))
    weight_kg: Mapped[float] = mapped_column(Float)
    height_cm: Mapped[float | None] = mapped_column(Float, nullable=True)
    ethnicity: Mapped[str] = mapped_column(String(64), default="not stated")
    language: Mapped[str] = mapped_column(String(64), default="not stated")
    postcode_area: Mapped[str | None] = mapped_column(String(16), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class ConsentDocument(Base):
    __tablename__ = "consent_documents"
    __table_args__ = (UniqueConstraint("code", "version", name="uq_consent_doc_version"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    current: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class Consent(Base):
    __tablename__ = "consents"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("consent_documents.id"))
    signed_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    recorded_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    signed_by_name: Mapped[str] = mapped_column(String(200))
    withdrawn_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    withdrawn_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    document: Mapped[ConsentDocument] = relationship(lazy="joined")


class Screening(Base):
    __tablename__ = "screenings"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    recorded_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    protocol_id: Mapped[str] = mapped_column(String(64))
    age_years: Mapped[float] = mapped_column(Float)
    weight_kg: Mapped[float] = mapped_column(Float)
    sbp_mmhg: Mapped[float | None] = mapped_column(Float, nullable=True)
    dbp_mmhg: Mapped[float | None] = mapped_column(Float, nullable=True)
    heart_rate_bpm: Mapped[float | None] = mapped_column(Float, nullable=True)
    spo2_percent: Mapped[float | None] = mapped_column(Float, nullable=True)
    conditions: Mapped[list[str]] = mapped_column(JSON, default=list)
    medications: Mapped[list[str]] = mapped_column(JSON, default=list)
    pregnant: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    substance_use: Mapped[str] = mapped_column(Text, default="")
    history: Mapped[str] = mapped_column(Text, default="")
    findings: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    eligible: Mapped[bool] = mapped_column(Boolean)
    rules_version: Mapped[str] = mapped_column(String(32))


class TreatmentPlan(Base):
    __tablename__ = "treatment_plans"
    __table_args__ = (
        CheckConstraint("status IN ('draft','signed','stopped')", name="ck_plans_status"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    screening_id: Mapped[int] = mapped_column(ForeignKey("screenings.id"))
    protocol_id: Mapped[str] = mapped_column(String(64))
    drug: Mapped[str] = mapped_column(String(32))
    route: Mapped[str] = mapped_column(String(16))
    dose: Mapped[float] = mapped_column(Float)
    dose_unit: Mapped[str] = mapped_column(String(16))
    duration_min: Mapped[float] = mapped_column(Float)
    weeks: Mapped[int] = mapped_column(Integer)
    doses: Mapped[list[dict[str, object]]] = mapped_column(JSON, default=list)
    findings: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    monitoring: Mapped[list[dict[str, object]]] = mapped_column(JSON, default=list)
    discharge_not_before_min: Mapped[float | None] = mapped_column(Float, nullable=True)
    has_stop: Mapped[bool] = mapped_column(Boolean)
    rules_version: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default="draft")
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    signed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    signed_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)


class TreatmentSession(Base):
    __tablename__ = "treatment_sessions"
    __table_args__ = (
        CheckConstraint(
            "status IN ('open','dosed','discharged','signed','cancelled')",
            name="ck_sessions_status",
        ),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("treatment_plans.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="open")
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, index=True)
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    early_request: Mapped[bool] = mapped_column(Boolean, default=False)
    # pre-dose check
    predose_sbp_mmhg: Mapped[float | None] = mapped_column(Float, nullable=True)
    predose_dbp_mmhg: Mapped[float | None] = mapped_column(Float, nullable=True)
    predose_heart_rate_bpm: Mapped[float | None] = mapped_column(Float, nullable=True)
    predose_spo2_percent: Mapped[float | None] = mapped_column(Float, nullable=True)
    predose_findings: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    predose_blocked: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    fasting_confirmed: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    transport_arranged: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    concomitant_medications: Mapped[list[str]] = mapped_column(JSON, default=list)
    # dose
    dose_mg: Mapped[float | None] = mapped_column(Float, nullable=True)
    lot_number: Mapped[str | None] = mapped_column(String(64), nullable=True)
    dose_start_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    dose_end_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    dose_rationale: Mapped[str | None] = mapped_column(Text, nullable=True)
    # REMS monitoring-form fields and discharge
    first_treatment: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    monitoring_provider: Mapped[str | None] = mapped_column(String(200), nullable=True)
    setting: Mapped[str | None] = mapped_column(String(32), nullable=True)
    monitoring_end_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    ready_to_leave_min: Mapped[float | None] = mapped_column(Float, nullable=True)
    vitals_acceptable_before: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    vitals_acceptable_end: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    sedation_observed: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    dissociation_observed: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    respiratory_depression_observed: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    serious_adverse_event: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    discharge_criteria_met: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    discharged_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    signed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    signed_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    notes: Mapped[str] = mapped_column(Text, default="")
    # guardrails and lifecycle (migration 0003)
    predose_new_conditions: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    dose_override_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    dose_override_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    dose_override_findings: Mapped[list[dict[str, str]] | None] = mapped_column(JSON, nullable=True)
    cancelled_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    cancelled_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    cancel_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    # clinic day (0005): chair, check-in, IV infusion, REMS form submission
    chair: Mapped[str | None] = mapped_column(String(32), nullable=True)
    checked_in_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    infusion_rate_ml_per_h: Mapped[float | None] = mapped_column(Float, nullable=True)
    infusion_volume_ml: Mapped[float | None] = mapped_column(Float, nullable=True)
    infusion_start_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    infusion_stop_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    rems_submitted_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    rems_submitted_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    # entry order among vitals taken at the same minute (deterministic on every database)
    observations: Mapped[list[Observation]] = relationship(
        order_by="(Observation.minutes_after_dose, Observation.id)", lazy="selectin"
    )
    adverse_events: Mapped[list[AdverseEvent]] = relationship(
        order_by="AdverseEvent.id", lazy="selectin"
    )
    amendments: Mapped[list[SessionAmendment]] = relationship(
        order_by="SessionAmendment.id", lazy="selectin"
    )


class SessionAmendment(Base):
    """A correction of a discharged or signed session: the original value is kept here (and in
    the audit log), the session shows the corrected one."""

    __tablename__ = "session_amendments"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("treatment_sessions.id"), index=True)
    field: Mapped[str] = mapped_column(String(64))
    original_value: Mapped[object] = mapped_column(JSON, nullable=True)
    amended_value: Mapped[object] = mapped_column(JSON, nullable=True)
    reason: Mapped[str] = mapped_column(Text)
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class Observation(Base):
    """Timed vital signs and scores of one session (minutes after the start of dosing)."""

    __tablename__ = "observations"
    __table_args__ = (
        CheckConstraint("sbp_mmhg IS NULL OR (sbp_mmhg BETWEEN 50 AND 300)", name="ck_obs_sbp"),
        CheckConstraint(
            "spo2_percent IS NULL OR (spo2_percent BETWEEN 50 AND 100)", name="ck_obs_spo2"
        ),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("treatment_sessions.id"), index=True)
    minutes_after_dose: Mapped[float] = mapped_column(Float)
    checkpoint: Mapped[str] = mapped_column(String(16), default="")
    sbp_mmhg: Mapped[float | None] = mapped_column(Float, nullable=True)
    dbp_mmhg: Mapped[float | None] = mapped_column(Float, nullable=True)
    heart_rate_bpm: Mapped[float | None] = mapped_column(Float, nullable=True)
    spo2_percent: Mapped[float | None] = mapped_column(Float, nullable=True)
    cadss: Mapped[float | None] = mapped_column(Float, nullable=True)
    moaas: Mapped[int | None] = mapped_column(Integer, nullable=True)
    taken_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    recorded_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    recorded_by: Mapped[int] = mapped_column(ForeignKey("users.id"))


class AdverseEvent(Base):
    __tablename__ = "adverse_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("treatment_sessions.id"), index=True)
    category: Mapped[str] = mapped_column(String(32))
    severity: Mapped[str] = mapped_column(String(16))
    serious: Mapped[bool] = mapped_column(Boolean, default=False)
    description: Mapped[str] = mapped_column(Text)
    onset_min: Mapped[float | None] = mapped_column(Float, nullable=True)
    action: Mapped[str] = mapped_column(Text, default="")
    recorded_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    recorded_by: Mapped[int] = mapped_column(ForeignKey("users.id"))


class Rating(Base):
    __tablename__ = "ratings"
    __table_args__ = (
        CheckConstraint("scale IN ('MADRS','PHQ-9','GAD-7','C-SSRS')", name="ck_rating_scale"),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    scale: Mapped[str] = mapped_column(String(8))
    score: Mapped[int] = mapped_column(Integer)
    taken_on: Mapped[dt.date] = mapped_column(Date)
    recorded_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    recorded_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    items: Mapped[list[int] | None] = mapped_column(JSON, nullable=True)
    source: Mapped[str] = mapped_column(String(16), default="staff", server_default="staff")


class QuestionnaireLink(Base):
    """A one-time, expiring patient questionnaire (only the token's SHA-256 is stored)."""

    __tablename__ = "questionnaire_links"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    instrument: Mapped[str] = mapped_column(String(16))
    kiosk: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime)
    used_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)
    rating_id: Mapped[int | None] = mapped_column(ForeignKey("ratings.id"), nullable=True)


class Appointment(Base):
    """A planned session of a signed plan (day, clock time UTC, chair); checked in, it becomes a
    session."""

    __tablename__ = "appointments"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("treatment_plans.id"), index=True)
    session_number: Mapped[int] = mapped_column(Integer)
    starts_at: Mapped[dt.datetime] = mapped_column(DateTime, index=True)
    chair: Mapped[str] = mapped_column(String(32), default="")
    session_id: Mapped[int | None] = mapped_column(
        ForeignKey("treatment_sessions.id"), nullable=True
    )
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class Alert(Base):
    __tablename__ = "alerts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    session_id: Mapped[int | None] = mapped_column(
        ForeignKey("treatment_sessions.id"), nullable=True
    )
    kind: Mapped[str] = mapped_column(String(32))
    severity: Mapped[str] = mapped_column(String(8))
    message: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    acknowledged_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)
    acknowledged_at: Mapped[dt.datetime | None] = mapped_column(DateTime, nullable=True)


class AuditHead(Base):
    """One row: the last sequence number and hash of the audit chain (locked by each write)."""

    __tablename__ = "audit_head"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64))


class AuditEntry(Base):
    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, unique=True)
    at: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    username: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    entity: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[str] = mapped_column(String(32))
    before: Mapped[str] = mapped_column(Text)
    after: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AccessLog(Base):
    """Who read which patient's record (a read of a patient, plan or session page/resource)."""

    __tablename__ = "access_log"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    user_id: Mapped[int] = mapped_column(Integer, index=True)
    username: Mapped[str] = mapped_column(String(64))
    patient_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    entity: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[str] = mapped_column(String(32))
    path: Mapped[str] = mapped_column(String(200))


class PlanPrediction(Base):
    """A plan's predicted curves, computed once when the plan is made (or its inputs change:
    ``plan_digest`` is the digest of the plan row it was computed from)."""

    __tablename__ = "plan_predictions"
    plan_id: Mapped[int] = mapped_column(ForeignKey("treatment_plans.id"), primary_key=True)
    plan_digest: Mapped[str] = mapped_column(String(64))
    n_samples: Mapped[int] = mapped_column(Integer)
    figures: Mapped[dict[str, str]] = mapped_column(JSON)
    note: Mapped[str] = mapped_column(Text)
    effects_note: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
