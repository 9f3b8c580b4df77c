"""Working state shared by several server processes, and TOTP secrets encrypted at rest.

New tables ``login_attempts`` (the login limit), ``totp_used`` (the second factor's replay guard)
and ``jobs`` (background jobs of the tool pages), so ``ketasim serve --workers N`` processes share
them. ``users.totp_secret`` widens to hold the sealed form, and every secret still stored in clear
is sealed with the key derived from the audit key (outside the database); each change is an audit
entry (``totp-seal``), so the row stays covered by the chain.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context, op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_ACTOR = "system:migration-0006"


def _audit_key() -> bytes | None:
    key = context.config.attributes.get("audit_key")
    return key if isinstance(key, bytes) else None


def _reseal(*, seal: bool) -> None:
    """Seal the clear secrets (``seal``) or open the sealed ones (downgrade), one audit entry
    per user changed."""
    from sqlalchemy.orm import Session

    from ketasim.clinic import audit
    from ketasim.clinic.security.secret_box import SecretBox

    conn = op.get_bind()
    users = sa.Table("users", sa.MetaData(), autoload_with=conn)
    rows = [
        dict(r)
        for r in conn.execute(
            sa.select(users).where(users.c.totp_secret.is_not(None)).order_by(users.c.id)
        ).mappings()
    ]
    todo = [r for r in rows if SecretBox.is_sealed(str(r["totp_secret"])) != seal]
    if not todo:
        return
    key = _audit_key()
    if key is None:
        raise RuntimeError(
            "migration 0006: TOTP secrets to re-encrypt but no audit key given "
            "(run it through ketasim.clinic.db.migrate(engine, audit_key=...))"
        )
    box = SecretBox(key)
    session = Session(bind=conn, info={audit.INFO_KEY: key})
    for row in todo:
        stored = str(row["totp_secret"])
        new = box.seal(stored) if seal else box.open(stored)
        conn.execute(sa.update(users).where(users.c.id == row["id"]).values(totp_secret=new))
        after = {**row, "totp_secret": new}
        audit.record(
            session,
            user_id=None,
            username=_ACTOR,
            action="totp-seal" if seal else "totp-unseal",
            entity="users",
            entity_id=row["id"],
            before=audit.row_image(row),
            after=audit.row_image(after),
        )
    session.flush()


def upgrade() -> None:
    op.create_table(
        "login_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("state", sa.String(8), nullable=False),
        sa.Column("at_unix_s", sa.Float(), nullable=False),
        sa.Column("attempt", sa.String(32), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_login_attempts_key", "login_attempts", ["key"])
    op.create_index("ix_login_attempts_at_unix_s", "login_attempts", ["at_unix_s"])
    op.create_index("ix_login_attempts_attempt", "login_attempts", ["attempt"])
    op.create_table(
        "totp_used",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("used_at_unix_s", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("user_id", "step"),
    )
    op.create_index("ix_totp_used_used_at_unix_s", "totp_used", ["used_at_unix_s"])
    op.create_table(
        "jobs",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("state", sa.String(8), nullable=False),
        sa.Column("done", sa.Integer(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("result_json", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("runner", sa.String(120), nullable=False),
        sa.Column("created_unix_s", sa.Float(), nullable=False),
        sa.Column("started_unix_s", sa.Float(), nullable=True),
        sa.Column("finished_unix_s", sa.Float(), nullable=True),
        sa.Column("heartbeat_unix_s", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_jobs_owner_id", "jobs", ["owner_id"])
    op.create_index("ix_jobs_state", "jobs", ["state"])
    with op.batch_alter_table("users") as b:
        b.alter_column(
            "totp_secret",
            existing_type=sa.String(64),
            type_=sa.String(255),
            existing_nullable=True,
        )
    _reseal(seal=True)


def downgrade() -> None:
    _reseal(seal=False)
    with op.batch_alter_table("users") as b:
        b.alter_column(
            "totp_secret",
            existing_type=sa.String(255),
            type_=sa.String(64),
            existing_nullable=True,
        )
    op.drop_index("ix_jobs_state", "jobs")
    op.drop_index("ix_jobs_owner_id", "jobs")
    op.drop_table("jobs")
    op.drop_index("ix_totp_used_used_at_unix_s", "totp_used")
    op.drop_table("totp_used")
    op.drop_index("ix_login_attempts_attempt", "login_attempts")
    op.drop_index("ix_login_attempts_at_unix_s", "login_attempts")
    op.drop_index("ix_login_attempts_key", "login_attempts")
    op.drop_table("login_attempts")
