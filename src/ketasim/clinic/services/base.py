"""Errors and helpers shared by the services."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy.orm import Session

from ketasim.clinic import audit
from ketasim.clinic.db.models import Base

__all__ = [
    "Actor",
    "Conflict",
    "Invalid",
    "NotFound",
    "ServiceError",
    "assign",
    "get_or_404",
    "log",
]

T = TypeVar("T", bound=Base)


class ServiceError(Exception):
    """A refused request; ``status`` is the HTTP status the API answers with."""

    status = 400

    def __init__(
        self, message: str, *, field: str | None = None, extra: dict[str, object] | None = None
    ) -> None:
        self.field = field
        self.extra = extra or {}
        super().__init__(message)


class NotFound(ServiceError):  # noqa: N818
    status = 404


class Conflict(ServiceError):  # noqa: N818
    """The request is well formed but the record's state forbids it."""

    status = 409


class Invalid(ServiceError):  # noqa: N818
    """A field's value is wrong (names the field)."""

    status = 422

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}", field=field)


@dataclass(frozen=True)
class Actor:
    """Who makes a change (``id`` None: the command line)."""

    id: int | None
    username: str


def get_or_404(session: Session, model: type[T], ident: int, name: str) -> T:
    """The row ``ident`` of ``model`` or :class:`NotFound` naming it."""
    obj = session.get(model, ident)
    if obj is None:
        raise NotFound(f"{name} {ident} not found")
    return obj


def assign(obj: Base, values: dict[str, object]) -> None:
    """Set columns of ``obj``; a null for a required column is :class:`Invalid` naming it."""
    table = obj.__table__
    for k, v in values.items():
        if k not in table.c:
            raise Invalid(k, "unknown field")
        if v is None and not table.c[k].nullable:
            raise Invalid(k, "may not be null")
        setattr(obj, k, v)


def log(
    session: Session, actor: Actor, action: str, obj: Base, before: dict[str, object] | None
) -> None:
    """Audit a write of ``obj`` (after the change) in the caller's transaction."""
    session.flush()
    after = audit.snapshot(obj)
    audit.record(
        session,
        user_id=actor.id,
        username=actor.username,
        action=action,
        entity=obj.__tablename__,
        entity_id=after.get("id"),
        before=before,
        after=after,
    )
