"""/api/v1/users: user accounts (admins only; passwords and the second factor are
:mod:`.account`)."""

from __future__ import annotations

from fastapi import APIRouter

from ketasim.clinic.api import schemas as sc
from ketasim.clinic.api.deps import DB, Admin, Id, actor
from ketasim.clinic.services import users as us

__all__ = ["router"]

router = APIRouter(prefix="/api/v1")


@router.get("/users", tags=["users"])
def users_list(user: Admin, database: DB) -> list[sc.UserPublic]:
    with database.read() as s:
        return [sc.UserPublic.model_validate(u) for u in us.list_users(s)]


@router.post("/users", tags=["users"], status_code=201)
def users_create(body: sc.UserCreate, user: Admin, database: DB) -> sc.UserPublic:
    with database.session() as s:
        return sc.UserPublic.model_validate(us.create_user(s, actor(user), **body.model_dump()))


@router.patch("/users/{user_id}", tags=["users"])
def users_update(user_id: Id, body: sc.UserUpdate, user: Admin, database: DB) -> sc.UserPublic:
    with database.session() as s:
        return sc.UserPublic.model_validate(us.set_active(s, actor(user), user_id, body.active))
