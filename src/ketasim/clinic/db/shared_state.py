"""Tables of the server's working state shared by every server process on one database: login
attempts (the login limit), used second-factor codes (the replay guard) and background jobs.

None of this is a clinical record (nothing here is audited); times are Unix seconds (UTC by
definition), so processes compare them without a clock of their own.
"""

from __future__ import annotations

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import Float

from ketasim.clinic.db.models import Base

__all__ = ["JobRow", "LoginAttempt", "TotpUse"]


class LoginAttempt(Base):
    """One login attempt counted against one key: ``key`` is the SHA-256 of ``user:<normalised
    name>`` or ``client:<address>`` (the typed name is not kept: people type passwords there)."""

    __tablename__ = "login_attempts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(64), index=True)
    #: ``inflight`` (admitted, not finished) or ``failed``
    state: Mapped[str] = mapped_column(String(8))
    at_unix_s: Mapped[float] = mapped_column(Float, index=True)
    #: the attempt's id (its user-name row and its client row share it)
    attempt: Mapped[str] = mapped_column(String(32), index=True)


class TotpUse(Base):
    """A second-factor code used once: the user and the code's 30-s time step."""

    __tablename__ = "totp_used"
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    step: Mapped[int] = mapped_column(Integer, primary_key=True)
    used_at_unix_s: Mapped[float] = mapped_column(Float, index=True)


class JobRow(Base):
    """A background job of the tool pages: state, progress and result, visible to every server
    process; ``runner`` names the process running it, ``heartbeat_unix_s`` when it last said so
    (a job whose runner fell silent is failed, not lost)."""

    __tablename__ = "jobs"
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    owner_id: Mapped[int] = mapped_column(Integer, index=True)
    title: Mapped[str] = mapped_column(String(200))
    #: queued, running, done, failed
    state: Mapped[str] = mapped_column(String(8), index=True)
    done: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[int] = mapped_column(Integer, default=0)
    #: the result (JSON), stored in the database so every process can show it
    result_json: Mapped[str | None] = mapped_column(Text, nullable=True)
    error: Mapped[str] = mapped_column(Text, default="")
    runner: Mapped[str] = mapped_column(String(120))
    created_unix_s: Mapped[float] = mapped_column(Float)
    started_unix_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    finished_unix_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    heartbeat_unix_s: Mapped[float] = mapped_column(Float)
