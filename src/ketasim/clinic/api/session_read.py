"""The API's session read (the most frequent read at the chair) without ORM objects.

Loading the ORM session with its three ``selectin`` collections and validating the response
from its attributes cost about 3.5 ms of CPU with 80 vitals. Here four prepared Core selects on
the read session's connection fetch only the columns the response shows, in the order of the
ORM relationships (vitals by minutes after the dose, then entry order; adverse events and
amendments by id), and the rows validate into the same :class:`SessionPublic`: the JSON is
byte-identical to the ORM path's (``tests/clinic/test_json_out.py``).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from sqlalchemy import FromClause, Select, bindparam, select
from sqlalchemy.orm import Session

from ketasim.clinic.api.schemas import (
    AdverseEventPublic,
    AmendmentPublic,
    ObservationPublic,
    SessionPublic,
)
from ketasim.clinic.db.models import (
    AdverseEvent,
    Observation,
    SessionAmendment,
    TreatmentSession,
)
from ketasim.clinic.services.base import NotFound

__all__ = ["session_public"]


def _columns(table: FromClause, model: type[BaseModel]) -> list[Any]:
    return [c for c in table.c if c.name in model.model_fields]


def _prepared() -> tuple[Select[Any], list[tuple[str, Select[Any]]]]:
    s = TreatmentSession.__table__
    one = select(*_columns(s, SessionPublic)).where(s.c.id == bindparam("sid"))
    children = []
    for name, orm, model, order in (
        ("observations", Observation, ObservationPublic, ("minutes_after_dose", "id")),
        ("adverse_events", AdverseEvent, AdverseEventPublic, ("id",)),
        ("amendments", SessionAmendment, AmendmentPublic, ("id",)),
    ):
        t = orm.__table__
        stmt = (
            select(*_columns(t, model))
            .where(t.c.session_id == bindparam("sid"))
            .order_by(*(t.c[k] for k in order))
        )
        children.append((name, stmt))
    return one, children


_SESSION, _CHILDREN = _prepared()


def session_public(session: Session, session_id: int) -> SessionPublic:
    """Session ``session_id`` with its vitals, adverse events and amendments as the API shows
    it; :class:`NotFound` naming the session."""
    conn = session.connection()
    params = {"sid": session_id}
    result = conn.execute(_SESSION, params)
    keys = list(result.keys())
    row = result.first()
    if row is None:
        raise NotFound(f"session {session_id} not found")
    record: dict[str, Any] = dict(zip(keys, row, strict=True))
    for name, stmt in _CHILDREN:
        result = conn.execute(stmt, params)
        keys = list(result.keys())
        record[name] = [dict(zip(keys, r, strict=True)) for r in result.all()]
    return SessionPublic.model_validate(record)
