"""Guardrails and the session lifecycle: pre-dose conditions kept for the dose-time check,
prescriber overrides of warnings, cancelled sessions, amendments of discharged/signed sessions.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_COLUMNS = (
    ("predose_new_conditions", sa.JSON()),
    ("dose_override_reason", sa.Text()),
    ("dose_override_findings", sa.JSON()),
    ("cancelled_at", sa.DateTime()),
    ("cancel_reason", sa.Text()),
)
_USER_COLUMNS = ("dose_override_by", "cancelled_by")


def upgrade() -> None:
    with op.batch_alter_table("treatment_sessions", schema=None) as batch_op:
        for name, type_ in _COLUMNS:
            batch_op.add_column(sa.Column(name, type_, nullable=True))
        for name in _USER_COLUMNS:
            batch_op.add_column(sa.Column(name, sa.Integer(), nullable=True))
            batch_op.create_foreign_key(
                f"fk_treatment_sessions_{name}_users", "users", [name], ["id"]
            )
    op.create_table(
        "session_amendments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("field", sa.String(length=64), nullable=False),
        sa.Column("original_value", sa.JSON(), nullable=True),
        sa.Column("amended_value", sa.JSON(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"]),
        sa.ForeignKeyConstraint(["session_id"], ["treatment_sessions.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("session_amendments", schema=None) as batch_op:
        batch_op.create_index("ix_session_amendments_session_id", ["session_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("session_amendments", schema=None) as batch_op:
        batch_op.drop_index("ix_session_amendments_session_id")
    op.drop_table("session_amendments")
    with op.batch_alter_table("treatment_sessions", schema=None) as batch_op:
        for name in _USER_COLUMNS:
            batch_op.drop_constraint(f"fk_treatment_sessions_{name}_users", type_="foreignkey")
            batch_op.drop_column(name)
        for name, _ in reversed(_COLUMNS):
            batch_op.drop_column(name)
