"""Logins, passwords, the second factor and user accounts."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from ketasim.clinic.api.schemas.common import RecordModel, RequestModel

__all__ = [
    "LoginIn",
    "LoginOut",
    "PasswordChange",
    "PasswordReset",
    "TotpCode",
    "TotpEnrolment",
    "UserCreate",
    "UserPublic",
    "UserUpdate",
]


class LoginIn(RequestModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=200)
    totp_code: str | None = Field(
        default=None, max_length=10, description="authenticator code (users with a second factor)"
    )


class LoginOut(BaseModel):
    token: str = Field(description="bearer token for API clients")
    csrf_token: str
    username: str
    role: str
    must_change_password: bool = Field(
        default=False,
        description="true after an admin's reset: only POST /api/v1/auth/password "
        "(and logout) are allowed until the password is changed",
    )


class PasswordChange(RequestModel):
    current_password: str = Field(min_length=1, max_length=200)
    new_password: str = Field(min_length=1, max_length=200)


class PasswordReset(RequestModel):
    new_password: str = Field(
        min_length=1, max_length=200, description="temporary password; the user must change it"
    )


class TotpCode(RequestModel):
    code: str = Field(min_length=1, max_length=10)


class TotpEnrolment(BaseModel):
    secret: str = Field(description="base32 secret (shown once)")
    uri: str = Field(description="otpauth:// URI for an authenticator app")


class UserCreate(RequestModel):
    username: str = Field(min_length=2, max_length=64)
    full_name: str = Field(min_length=1, max_length=200)
    role: Literal["admin", "prescriber", "nurse", "auditor"]
    password: str = Field(min_length=10, max_length=200)


class UserUpdate(RequestModel):
    active: bool


class UserPublic(RecordModel):
    id: int
    username: str
    full_name: str
    role: str
    active: bool
    must_change_password: bool = False
    totp_enabled: bool = False
