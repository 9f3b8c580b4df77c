"""Consent: versioned documents, signed consents, withdrawal."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ketasim.clinic import audit
from ketasim.clinic.clock import clinic_now
from ketasim.clinic.db.models import Consent, ConsentDocument, Patient
from ketasim.clinic.services.base import Actor, Conflict, Invalid, get_or_404, log

__all__ = [
    "consent_in_force",
    "create_document",
    "current_consent",
    "list_consents",
    "list_documents",
    "sign_consent",
    "withdraw_consent",
]


def create_document(
    session: Session, actor: Actor, *, code: str, title: str, body: str
) -> ConsentDocument:
    """A new version of consent document ``code`` (becomes current; older versions are not)."""
    code = code.strip().lower()
    if not code:
        raise Invalid("code", "required")
    if len(body.strip()) < 20:
        raise Invalid("body", "at least 20 characters of consent text")
    last = session.execute(
        select(func.max(ConsentDocument.version)).where(ConsentDocument.code == code)
    ).scalar_one()
    for old in session.execute(
        select(ConsentDocument).where(
            ConsentDocument.code == code, ConsentDocument.current.is_(True)
        )
    ).scalars():
        before = audit.snapshot(old)
        old.current = False
        log(session, actor, "supersede", old, before)  # audited: every row matches its log
    doc = ConsentDocument(
        code=code, version=(last or 0) + 1, title=title.strip(), body=body, current=True
    )
    session.add(doc)
    log(session, actor, "create", doc, None)
    return doc


def list_documents(session: Session) -> list[ConsentDocument]:
    """Every document version."""
    return list(
        session.execute(
            select(ConsentDocument).order_by(ConsentDocument.code, ConsentDocument.version)
        ).scalars()
    )


def sign_consent(
    session: Session, actor: Actor, patient_id: int, document_id: int, signed_by_name: str
) -> Consent:
    """Record a patient's signature on a current document version."""
    get_or_404(session, Patient, patient_id, "patient")
    doc = get_or_404(session, ConsentDocument, document_id, "consent document")
    if not doc.current:
        raise Conflict(
            f"consent document {doc.code} v{doc.version} is superseded; sign the current version",
            field="document_id",
        )
    if not signed_by_name.strip():
        raise Invalid("signed_by_name", "required (the name of the person signing)")
    consent = Consent(
        patient_id=patient_id,
        document_id=doc.id,
        recorded_by=actor.id or 0,
        signed_by_name=signed_by_name.strip(),
    )
    session.add(consent)
    log(session, actor, "sign", consent, None)
    return consent


def withdraw_consent(session: Session, actor: Actor, consent_id: int, reason: str) -> Consent:
    """Withdraw a consent (no further sessions until a new one is signed)."""
    consent = get_or_404(session, Consent, consent_id, "consent")
    if consent.withdrawn_at is not None:
        raise Conflict(f"consent {consent_id} was withdrawn already")
    before = audit.snapshot(consent)
    consent.withdrawn_at = clinic_now(session)
    consent.withdrawn_reason = reason.strip() or "not stated"
    log(session, actor, "withdraw", consent, before)
    return consent


def list_consents(session: Session, patient_id: int) -> list[Consent]:
    """A patient's consents, newest first."""
    return list(
        session.execute(
            select(Consent).where(Consent.patient_id == patient_id).order_by(Consent.id.desc())
        ).scalars()
    )


def current_consent(session: Session, patient_id: int) -> Consent | None:
    """A signed, not withdrawn consent on a current document version, if any."""
    return session.execute(
        select(Consent)
        .join(ConsentDocument)
        .where(
            Consent.patient_id == patient_id,
            Consent.withdrawn_at.is_(None),
            ConsentDocument.current.is_(True),
        )
        .order_by(Consent.id.desc())
        .limit(1)
    ).scalar_one_or_none()


def _superseded_at(session: Session, doc: ConsentDocument) -> dt.datetime | None:
    """When a newer version of ``doc``'s document was published (None: still current)."""
    return session.execute(
        select(func.min(ConsentDocument.created_at)).where(
            ConsentDocument.code == doc.code, ConsentDocument.version > doc.version
        )
    ).scalar_one_or_none()


def consent_window(session: Session, consent: Consent) -> tuple[dt.datetime, dt.datetime | None]:
    """When ``consent`` was in force: from its signature to its withdrawal or to the
    publication of a newer version of its document, whichever came first (None: still in
    force). Consents do not expire otherwise."""
    ends = [t for t in (consent.withdrawn_at, _superseded_at(session, consent.document)) if t]
    return consent.signed_at, min(ends) if ends else None


def consent_in_force(
    session: Session, patient_id: int, at: dt.datetime
) -> tuple[Consent | None, list[tuple[Consent, dt.datetime, dt.datetime | None]]]:
    """The consent of the patient in force at ``at`` (naive UTC): signed at or before ``at``,
    not withdrawn and its document version not superseded at or before ``at``; and every
    consent of the patient with its window (:func:`consent_window`), oldest first, for a
    refusal to show."""
    windows = [
        (c, *consent_window(session, c)) for c in reversed(list_consents(session, patient_id))
    ]
    in_force = [c for c, start, end in windows if start <= at and (end is None or at < end)]
    return (in_force[-1] if in_force else None), windows
