"""Users and logins: accounts, password policy, change and admin reset, the optional TOTP second
factor, and the rule that the last active admin stays."""

from __future__ import annotations

import re

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ketasim.clinic import audit
from ketasim.clinic.auth import (
    check_password,
    dummy_check,
    hash_password,
    normalise_username,
    revoke_user_logins,
)
from ketasim.clinic.clock import clinic_now
from ketasim.clinic.db.models import ROLES, User
from ketasim.clinic.security.passwords import MIN_LENGTH, password_problem
from ketasim.clinic.security.secret_box import box_of
from ketasim.clinic.security.totp import TOTP_ROLES, TotpReplay, new_secret
from ketasim.clinic.services.base import Actor, Conflict, Invalid, get_or_404, log

__all__ = [
    "authenticate",
    "change_password",
    "count_users",
    "create_user",
    "list_users",
    "reset_password",
    "set_active",
    "totp_begin",
    "totp_confirm",
]

_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
MIN_PASSWORD = MIN_LENGTH


def _check_password(
    password: str,
    user: User | None,
    *,
    username: str = "",
    full_name: str = "",
    field: str = "password",
) -> None:
    inputs = [username, full_name, *(full_name.split())]
    if user is not None:
        inputs += [user.username, user.full_name, *user.full_name.split()]
    problem = password_problem(password, user_inputs=inputs)
    if problem:
        raise Invalid(field, problem)


def create_user(
    session: Session,
    actor: Actor,
    *,
    username: str,
    full_name: str,
    role: str,
    password: str,
    policy: bool = True,
) -> User:
    """A new account; user names are lower-case; passwords follow the policy of
    :mod:`ketasim.clinic.security.passwords` (``policy=False``: the demo clinic only)."""
    username = normalise_username(username)
    if not _USERNAME.match(username):
        raise Invalid("username", "2-64 characters: a-z, 0-9, '.', '_', '-'")
    if role not in ROLES:
        raise Invalid("role", f"{role!r}; accepted: {', '.join(ROLES)}")
    if len(password) < MIN_PASSWORD:
        raise Invalid("password", f"at least {MIN_PASSWORD} characters")
    if not full_name.strip():
        raise Invalid("full_name", "required")
    if policy:
        _check_password(password, None, username=username, full_name=full_name)
    if session.execute(select(User).where(User.username == username)).scalar_one_or_none():
        raise Conflict(f"user name {username!r} is taken", field="username")
    user = User(
        username=username,
        full_name=full_name.strip(),
        role=role,
        password_hash=hash_password(password),
        active=True,
        must_change_password=False,
        totp_enabled=False,
    )
    session.add(user)
    log(session, actor, "create", user, None)
    return user


def list_users(session: Session) -> list[User]:
    """Every account, by user name."""
    return list(session.execute(select(User).order_by(User.username)).scalars())


def count_users(session: Session) -> int:
    """How many accounts exist."""
    return int(session.execute(select(func.count(User.id))).scalar_one())


def _active_admins(session: Session) -> int:
    return int(
        session.execute(
            select(func.count(User.id)).where(User.role == "admin", User.active.is_(True))
        ).scalar_one()
    )


def set_active(session: Session, actor: Actor, user_id: int, active: bool) -> User:
    """Activate or deactivate an account (the last active admin cannot be deactivated)."""
    user = session.execute(
        select(User).where(User.id == user_id).with_for_update()
    ).scalar_one_or_none()
    if user is None:
        user = get_or_404(session, User, user_id, "user")
    if not active and user.active and user.role == "admin" and _active_admins(session) <= 1:
        raise Conflict(
            f"user {user.username} is the last active admin; activate or create "
            "another admin first",
            field="active",
        )
    before = audit.snapshot(user)
    user.active = active
    if not active:
        revoke_user_logins(session, user.id)
    log(session, actor, "activate" if active else "deactivate", user, before)
    return user


def change_password(
    session: Session,
    actor: Actor,
    user_id: int,
    *,
    current_password: str,
    new_password: str,
    keep_token: str | None = None,
) -> User:
    """The user's own password change (the current one is checked); other logins end."""
    user = get_or_404(session, User, user_id, "user")
    if not check_password(user.password_hash, current_password):
        raise Invalid("current_password", "does not match")
    if new_password == current_password:
        raise Invalid("new_password", "must differ from the current password")
    _check_password(new_password, user, field="new_password")
    before = audit.snapshot(user)
    user.password_hash = hash_password(new_password)
    user.must_change_password = False
    user.password_changed_at = clinic_now(session)
    revoke_user_logins(session, user.id, keep_token=keep_token)
    log(session, actor, "password-change", user, before)
    return user


def reset_password(session: Session, actor: Actor, user_id: int, *, new_password: str) -> User:
    """An admin's reset: a temporary password the user must change at the next login; the
    second factor is cleared (to be enrolled again) and every login of the user ends."""
    user = get_or_404(session, User, user_id, "user")
    _check_password(new_password, user, field="new_password")
    before = audit.snapshot(user)
    user.password_hash = hash_password(new_password)
    user.must_change_password = True
    user.password_changed_at = clinic_now(session)
    user.totp_secret, user.totp_enabled = None, False
    revoke_user_logins(session, user.id)
    log(session, actor, "password-reset", user, before)
    return user


def totp_begin(session: Session, actor: Actor, user_id: int) -> str:
    """Start enrolling a second factor: a new secret (not yet required at login)."""
    user = get_or_404(session, User, user_id, "user")
    if user.role not in TOTP_ROLES:
        raise Invalid("role", f"the second factor is offered to {' and '.join(TOTP_ROLES)}s")
    if user.totp_enabled:
        raise Conflict("a second factor is enrolled already (an admin's password reset clears it)")
    before = audit.snapshot(user)
    secret = new_secret()
    user.totp_secret = box_of(session).seal(secret)  # encrypted at rest
    log(session, actor, "totp-begin", user, before)
    return secret


def totp_confirm(
    session: Session, actor: Actor, user_id: int, code: str, replay: TotpReplay
) -> User:
    """Finish enrolling: a valid code from the authenticator turns the second factor on."""
    user = get_or_404(session, User, user_id, "user")
    if user.totp_enabled or not user.totp_secret:
        raise Conflict("no second factor enrolment in progress")
    if not replay.verify(user.id, user.totp_secret, code, session):
        raise Invalid("code", "not the current code of the authenticator")
    before = audit.snapshot(user)
    user.totp_enabled = True
    log(session, actor, "totp-enable", user, before)
    return user


def authenticate(session: Session, username: str, password: str) -> User | None:
    """The active user with these credentials, or None (same time either way)."""
    user = session.execute(
        select(User).where(User.username == normalise_username(username))
    ).scalar_one_or_none()
    if user is None:
        dummy_check(password)
        return None
    if not check_password(user.password_hash, password) or not user.active:
        return None
    return user
