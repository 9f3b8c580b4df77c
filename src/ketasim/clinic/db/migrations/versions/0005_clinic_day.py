"""The clinic day: appointments scheduled from signed plans, one-time patient questionnaire links,
item-level ratings with their source (staff, patient link, kiosk) and the C-SSRS screener,
clock times of vitals, chair and check-in, IV infusion rate/volume/start/stop and the REMS form's
submission of a session.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_SCALES_OLD = "scale IN ('MADRS','PHQ-9','GAD-7')"
_SCALES_NEW = "scale IN ('MADRS','PHQ-9','GAD-7','C-SSRS')"
_SESSION_COLUMNS = (
    ("chair", sa.String(length=32)),
    ("checked_in_at", sa.DateTime()),
    ("infusion_rate_ml_per_h", sa.Float()),
    ("infusion_volume_ml", sa.Float()),
    ("infusion_start_at", sa.DateTime()),
    ("infusion_stop_at", sa.DateTime()),
    ("rems_submitted_at", sa.DateTime()),
)


def upgrade() -> None:
    op.create_table(
        "questionnaire_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("instrument", sa.String(length=16), nullable=False),
        sa.Column("kiosk", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("used_at", sa.DateTime(), nullable=True),
        sa.Column("rating_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"]),
        sa.ForeignKeyConstraint(["patient_id"], ["patients.id"]),
        sa.ForeignKeyConstraint(["rating_id"], ["ratings.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_index("ix_questionnaire_links_patient_id", "questionnaire_links", ["patient_id"])
    op.create_table(
        "appointments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=False),
        sa.Column("session_number", sa.Integer(), nullable=False),
        sa.Column("starts_at", sa.DateTime(), nullable=False),
        sa.Column("chair", sa.String(length=32), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=True),
        sa.Column("created_by", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"]),
        sa.ForeignKeyConstraint(["patient_id"], ["patients.id"]),
        sa.ForeignKeyConstraint(["plan_id"], ["treatment_plans.id"]),
        sa.ForeignKeyConstraint(["session_id"], ["treatment_sessions.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_appointments_patient_id", "appointments", ["patient_id"])
    op.create_index("ix_appointments_plan_id", "appointments", ["plan_id"])
    op.create_index("ix_appointments_starts_at", "appointments", ["starts_at"])
    with op.batch_alter_table("ratings", recreate="auto") as b:
        b.add_column(sa.Column("items", sa.JSON(), nullable=True))
        b.add_column(
            sa.Column("source", sa.String(length=16), nullable=False, server_default="staff")
        )
        b.drop_constraint("ck_rating_scale", type_="check")
        b.create_check_constraint("ck_rating_scale", _SCALES_NEW)
    op.add_column("observations", sa.Column("taken_at", sa.DateTime(), nullable=True))
    for name, type_ in _SESSION_COLUMNS:
        op.add_column("treatment_sessions", sa.Column(name, type_, nullable=True))
    with op.batch_alter_table("treatment_sessions") as b:
        b.add_column(sa.Column("rems_submitted_by", sa.Integer(), nullable=True))
        b.create_foreign_key(
            "fk_sessions_rems_submitted_by", "users", ["rems_submitted_by"], ["id"]
        )
    op.create_index("ix_treatment_sessions_created_at", "treatment_sessions", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_treatment_sessions_created_at", "treatment_sessions")
    with op.batch_alter_table("treatment_sessions") as b:
        b.drop_constraint("fk_sessions_rems_submitted_by", type_="foreignkey")
        b.drop_column("rems_submitted_by")
        for name, _type in _SESSION_COLUMNS:
            b.drop_column(name)
    with op.batch_alter_table("observations") as b:
        b.drop_column("taken_at")
    op.drop_table("appointments")
    op.drop_table("questionnaire_links")
    op.execute("DELETE FROM ratings WHERE scale = 'C-SSRS'")
    with op.batch_alter_table("ratings", recreate="auto") as b:
        b.drop_constraint("ck_rating_scale", type_="check")
        b.create_check_constraint("ck_rating_scale", _SCALES_OLD)
        b.drop_column("source")
        b.drop_column("items")
