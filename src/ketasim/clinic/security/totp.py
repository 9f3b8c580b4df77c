"""Optional second factor: time-based one-time passwords (RFC 6238, 30 s steps, 6 digits, via
pyotp), offered to prescribers and admins. A code is accepted for the current step and one step
either side (clock drift) and only once: the used (user, step) pairs are a table of the database,
so a code used on one server process is refused on every other (``totp_used``, written in the
login's own transaction). Secrets are stored sealed (:mod:`ketasim.clinic.security.secret_box`).
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import Table, delete
from sqlalchemy.orm import Session

from ketasim.clinic.db.shared_state import TotpUse
from ketasim.clinic.security.secret_box import box_of

__all__ = ["TOTP_ROLES", "TotpReplay", "new_secret", "provisioning_uri"]

TOTP_ROLES = ("admin", "prescriber")
_ISSUER = "ketasim clinic"
#: used steps are kept this many steps (beyond the +-1 accepted, so never needed again)
_KEEP_STEPS = 5


def new_secret() -> str:
    """A fresh base32 secret (160 bits)."""
    import pyotp

    return pyotp.random_base32(32)


def provisioning_uri(secret: str, username: str) -> str:
    """The ``otpauth://`` URI an authenticator app enrols from."""
    import pyotp

    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=_ISSUER)


def _claim(session: Session, user_id: int, step: int, now: float) -> bool:
    """Record (user, step) as used in the caller's transaction; False when it was already
    (here or by a concurrent transaction of any process: the primary key decides)."""
    dialect = session.get_bind().dialect.name
    table = TotpUse.__table__
    assert isinstance(table, Table)
    values = {"user_id": user_id, "step": step, "used_at_unix_s": now}
    stmt: Any
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        stmt = pg_insert(table).values(**values).on_conflict_do_nothing()
    else:  # SQLite (the clinic runs on SQLite or PostgreSQL)
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        stmt = sqlite_insert(table).values(**values).on_conflict_do_nothing()
    # a row comes back only when this transaction inserted it
    return session.execute(stmt.returning(table.c.step)).first() is not None


class TotpReplay:
    """Checks codes against a user's stored (sealed) secret; each code works once across every
    process on the database."""

    def verify(self, user_id: int, stored_secret: str, code: str, session: Session) -> bool:
        """True for a valid, not yet used code; the use is recorded in ``session``'s
        transaction (refused afterwards once that commits)."""
        import pyotp

        code = code.strip().replace(" ", "")
        if not (code.isdigit() and len(code) == 6):
            return False
        totp = pyotp.TOTP(box_of(session).open(stored_secret))
        now = time.time()
        for offset in (0, -1, 1):
            at = now + offset * totp.interval
            if totp.verify(code, for_time=at):
                step = int(at // totp.interval)
                session.execute(
                    delete(TotpUse).where(
                        TotpUse.used_at_unix_s < now - _KEEP_STEPS * totp.interval
                    )
                )
                return _claim(session, user_id, step, now)
        return False
