"""Security: account fields (forced password change, optional TOTP), login idle time, the log
of patient-record reads, and stored plan predictions.

Existing databases upgrade in place (``ketasim serve`` / any ``ketasim clinic`` command runs the
migrations on start). The keyed audit chain starts at the first entry written after the upgrade:
older entries stay plain-SHA-256 chained and are verified as such; the boundary is recorded in
the signed checkpoint file outside the database (see ``ketasim.clinic.security.integrity``).

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as b:
        b.add_column(
            sa.Column(
                "must_change_password", sa.Boolean(), nullable=False, server_default=sa.false()
            )
        )
        b.add_column(sa.Column("password_changed_at", sa.DateTime(), nullable=True))
        b.add_column(sa.Column("totp_secret", sa.String(64), nullable=True))
        b.add_column(
            sa.Column("totp_enabled", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table("auth_sessions") as b:
        b.add_column(sa.Column("last_seen_at", sa.DateTime(), nullable=True))
    op.create_table(
        "access_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=True),
        sa.Column("entity", sa.String(32), nullable=False),
        sa.Column("entity_id", sa.String(32), nullable=False),
        sa.Column("path", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_access_log_patient_id", "access_log", ["patient_id"])
    op.create_index("ix_access_log_user_id", "access_log", ["user_id"])
    op.create_table(
        "plan_predictions",
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("plan_digest", sa.String(64), nullable=False),
        sa.Column("n_samples", sa.Integer(), nullable=False),
        sa.Column("figures", sa.JSON(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("effects_note", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["plan_id"], ["treatment_plans.id"]),
        sa.PrimaryKeyConstraint("plan_id"),
    )


def downgrade() -> None:
    op.drop_table("plan_predictions")
    op.drop_index("ix_access_log_user_id", "access_log")
    op.drop_index("ix_access_log_patient_id", "access_log")
    op.drop_table("access_log")
    with op.batch_alter_table("auth_sessions") as b:
        b.drop_column("last_seen_at")
    with op.batch_alter_table("users") as b:
        b.drop_column("totp_enabled")
        b.drop_column("totp_secret")
        b.drop_column("password_changed_at")
        b.drop_column("must_change_password")
