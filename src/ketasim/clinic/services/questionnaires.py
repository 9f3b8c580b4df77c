"""Patient-reported outcomes: one-time, expiring questionnaire links (no patient account) and the
kiosk hand-over, item-level answers stored as ratings, and the alerts the answers raise.

A link's token has 256 bits from :mod:`secrets`; only its SHA-256 is stored, so a database
reader cannot answer in the patient's name. A link answers once: a second use, or a use after
expiry, is refused with 410 Gone.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from ketasim.clinic import audit
from ketasim.clinic.clock import clinic_now
from ketasim.clinic.db.models import Patient, QuestionnaireLink, Rating
from ketasim.clinic.services.alerts import raise_alert
from ketasim.clinic.services.base import Actor, Invalid, NotFound, ServiceError, get_or_404, log
from ketasim.clinic.services.instruments import BY_SCALE, INSTRUMENTS, Instrument, risk_signals
from ketasim.clinic.services.instruments import score as total_of

__all__ = ["Gone", "NewLink", "create_link", "open_link", "record_items", "submit"]

#: default lifetime of a link sent to a patient, and of a kiosk hand-over (clinic policy)
LINK_TTL_H = 72.0
KIOSK_TTL_H = 1.0
MAX_TTL_H = 24.0 * 14


class Gone(ServiceError):  # noqa: N818
    """The link was used already or has expired."""

    status = 410


@dataclass(frozen=True)
class NewLink:
    """A link just made: the only moment the token exists in clear."""

    token: str
    url: str
    expires_at: dt.datetime
    link: QuestionnaireLink


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()


def instrument_of(code: str) -> Instrument:
    """A self-report instrument by code (``Invalid`` naming the accepted codes)."""
    inst = INSTRUMENTS.get(code)
    if inst is None or not inst.self_report:
        codes = ", ".join(k for k, v in INSTRUMENTS.items() if v.self_report)
        raise Invalid("instrument", f"{code!r}; accepted: {codes}")
    return inst


def create_link(
    session: Session,
    actor: Actor,
    patient_id: int,
    instrument: str,
    *,
    kiosk: bool = False,
    expires_in_h: float | None = None,
) -> NewLink:
    """A one-time link to ``instrument`` for the patient (``kiosk``: for the clinic tablet)."""
    get_or_404(session, Patient, patient_id, "patient")
    instrument_of(instrument)
    ttl = expires_in_h if expires_in_h is not None else (KIOSK_TTL_H if kiosk else LINK_TTL_H)
    if not 0 < ttl <= MAX_TTL_H:
        raise Invalid("expires_in_h", f"{ttl:g} h is out of range; accepted > 0 to {MAX_TTL_H:g}")
    token = secrets.token_urlsafe(32)
    link = QuestionnaireLink(
        token_hash=_digest(token),
        patient_id=patient_id,
        instrument=instrument,
        kiosk=kiosk,
        created_by=actor.id or 0,
        expires_at=clinic_now(session) + dt.timedelta(hours=ttl),
    )
    session.add(link)
    log(session, actor, "create", link, None)
    return NewLink(token, f"/q/{token}", link.expires_at, link)


def _find(session: Session, token: str, *, lock: bool = False) -> QuestionnaireLink:
    stmt = select(QuestionnaireLink).where(QuestionnaireLink.token_hash == _digest(token))
    if lock:
        stmt = stmt.with_for_update()
    link = session.execute(stmt).scalar_one_or_none()
    if link is None:
        raise NotFound("questionnaire link not found")
    if link.used_at is not None:
        raise Gone("this questionnaire link was used already")
    if link.expires_at < clinic_now(session):
        raise Gone("this questionnaire link has expired")
    return link


def open_link(session: Session, token: str) -> tuple[QuestionnaireLink, Instrument]:
    """The unused, unexpired link of ``token`` and its instrument (404 unknown, 410 used)."""
    link = _find(session, token)
    return link, INSTRUMENTS[link.instrument]


def _alerts(
    session: Session, actor: Actor, rating: Rating, inst: Instrument, items: Sequence[int]
) -> None:
    previous = session.execute(
        select(Rating.score)
        .where(
            Rating.patient_id == rating.patient_id,
            Rating.scale == rating.scale,
            Rating.id != rating.id,
        )
        .order_by(Rating.taken_on.desc(), Rating.id.desc())
        .limit(1)
    ).scalar_one_or_none()
    for sig in risk_signals(inst, items, rating.score, previous):
        raise_alert(
            session,
            actor,
            patient_id=rating.patient_id,
            session_id=None,
            kind=sig.kind,
            severity=sig.severity,
            message=f"{sig.message} [{rating.source}, rating {rating.id}]",
            source=sig.source,
        )


def submit(session: Session, token: str, answers: Sequence[int]) -> Rating:
    """The patient's answers: stored item by item as a rating, the link spent, alerts raised."""
    link = _find(session, token, lock=True)
    inst = INSTRUMENTS[link.instrument]
    total = total_of(inst, answers)
    who = Actor(None, f"patient:{link.patient_id}:{'kiosk' if link.kiosk else 'link'}")
    rating = Rating(
        patient_id=link.patient_id,
        scale=inst.scale,
        score=total,
        taken_on=clinic_now(session).date(),
        recorded_by=link.created_by,
        items=list(answers),
        source="kiosk" if link.kiosk else "patient-link",
    )
    session.add(rating)
    log(session, who, "create", rating, None)
    before = audit.snapshot(link)
    link.used_at, link.rating_id = clinic_now(session), rating.id
    log(session, who, "use", link, before)
    _alerts(session, who, rating, inst, answers)
    return rating


def record_items(
    session: Session,
    actor: Actor,
    patient_id: int,
    *,
    scale: str,
    items: Sequence[int],
    taken_on: dt.date,
    score: int | None = None,
) -> Rating:
    """A staff-entered rating with its item answers (MADRS is clinician-rated); the total is
    the items' sum and must match ``score`` when given."""
    get_or_404(session, Patient, patient_id, "patient")
    inst = BY_SCALE.get(scale)
    if inst is None:
        raise Invalid("scale", f"{scale!r}; accepted: {', '.join(BY_SCALE)}")
    total = total_of(inst, items)
    if score is not None and score != total:
        raise Invalid("score", f"{score} differs from the items' total {total}")
    if taken_on > clinic_now(session).date() + dt.timedelta(days=1):
        raise Invalid("taken_on", f"{taken_on} is in the future")
    rating = Rating(
        patient_id=patient_id,
        scale=inst.scale,
        score=total,
        taken_on=taken_on,
        recorded_by=actor.id or 0,
        items=list(items),
        source="staff",
    )
    session.add(rating)
    log(session, actor, "create", rating, None)
    _alerts(session, actor, rating, inst, items)
    return rating
