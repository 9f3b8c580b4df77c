"""/api/v1 account routes: password change, an admin's password reset, the optional TOTP second
factor."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from ketasim.clinic.api import schemas as sc
from ketasim.clinic.api.deps import ALL_ROLES, Id, actor, db, require
from ketasim.clinic.auth import COOKIE_NAME, CurrentUser
from ketasim.clinic.db import Database
from ketasim.clinic.security.totp import TOTP_ROLES, provisioning_uri
from ketasim.clinic.services import users as us

__all__ = ["current_token", "router"]

router = APIRouter(prefix="/api/v1")
DB = Annotated[Database, Depends(db)]
Anyone = Annotated[CurrentUser, Depends(require(*ALL_ROLES))]
Admin = Annotated[CurrentUser, Depends(require("admin"))]
TotpUser = Annotated[CurrentUser, Depends(require(*TOTP_ROLES))]


def current_token(request: Request) -> str:
    """The request's login token (bearer or cookie)."""
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    return request.cookies.get(COOKIE_NAME, "")


@router.post("/auth/password", tags=["auth"])
def password_change(
    request: Request, body: sc.PasswordChange, user: Anyone, database: DB
) -> dict[str, str]:
    """Change your own password (policy-checked); your other logins end."""
    with database.session() as s:
        us.change_password(
            s,
            actor(user),
            user.id,
            current_password=body.current_password,
            new_password=body.new_password,
            keep_token=current_token(request),
        )
    return {"status": "password changed"}


@router.post("/users/{user_id}/password", tags=["users"])
def password_reset(user_id: Id, body: sc.PasswordReset, user: Admin, database: DB) -> sc.UserPublic:
    """An admin's reset: a temporary password to be changed at the next login (the user's
    logins end and their second factor is cleared)."""
    with database.session() as s:
        return sc.UserPublic.model_validate(
            us.reset_password(s, actor(user), user_id, new_password=body.new_password)
        )


@router.post("/auth/totp", tags=["auth"])
def totp_begin(user: TotpUser, database: DB) -> sc.TotpEnrolment:
    """Start enrolling a second factor (prescribers and admins): the secret to add to an
    authenticator app; confirm with a code to turn it on."""
    with database.session() as s:
        secret = us.totp_begin(s, actor(user), user.id)
    return sc.TotpEnrolment(secret=secret, uri=provisioning_uri(secret, user.username))


@router.post("/auth/totp/confirm", tags=["auth"])
def totp_confirm(
    request: Request, body: sc.TotpCode, user: TotpUser, database: DB
) -> sc.UserPublic:
    """Turn the second factor on with a current code; from then on logins need one."""
    with database.session() as s:
        return sc.UserPublic.model_validate(
            us.totp_confirm(s, actor(user), user.id, body.code, request.app.state.totp)
        )
