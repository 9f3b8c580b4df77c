"""Users and logins."""

from __future__ import annotations

import re

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ketasim.clinic import audit
from ketasim.clinic.auth import check_password, dummy_check, hash_password
from ketasim.clinic.db.models import ROLES, User
from ketasim.clinic.services.base import Actor, Conflict, Invalid, get_or_404, log

__all__ = ["authenticate", "count_users", "create_user", "list_users", "set_active"]

_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
MIN_PASSWORD = 10


def create_user(session: Session, actor: Actor, *, username: str, full_name: str, role: str,
                password: str) -> User:
    """A new account; user names are lower-case; passwords need >= 10 characters."""
    username = username.strip().lower()
    if not _USERNAME.match(username):
        raise Invalid("username", "2-64 characters: a-z, 0-9, '.', '_', '-'")
    if role not in ROLES:
        raise Invalid("role", f"{role!r}; accepted: {', '.join(ROLES)}")
    if len(password) < MIN_PASSWORD:
        raise Invalid("password", f"at least {MIN_PASSWORD} characters")
    if not full_name.strip():
        raise Invalid("full_name", "required")
    if session.execute(select(User).where(User.username == username)).scalar_one_or_none():
        raise Conflict(f"user name {username!r} is taken", field="username")
    user = User(username=username, full_name=full_name.strip(), role=role,
                password_hash=hash_password(password), active=True)
    session.add(user)
    log(session, actor, "create", user, None)
    return user


def list_users(session: Session) -> list[User]:
    """Every account, by user name."""
    return list(session.execute(select(User).order_by(User.username)).scalars())


def count_users(session: Session) -> int:
    """How many accounts exist."""
    return int(session.execute(select(func.count(User.id))).scalar_one())


def set_active(session: Session, actor: Actor, user_id: int, active: bool) -> User:
    """Activate or deactivate an account."""
    user = get_or_404(session, User, user_id, "user")
    before = audit.snapshot(user)
    user.active = active
    log(session, actor, "activate" if active else "deactivate", user, before)
    return user


def authenticate(session: Session, username: str, password: str) -> User | None:
    """The active user with these credentials, or None (same time either way)."""
    user = session.execute(select(User).where(User.username == username.strip().lower())
                           ).scalar_one_or_none()
    if user is None:
        dummy_check(password)
        return None
    if not check_password(user.password_hash, password) or not user.active:
        return None
    return user
