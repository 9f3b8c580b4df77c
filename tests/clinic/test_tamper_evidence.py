"""Tamper evidence against someone who can write the database but not read the audit key: the
scripted attacks of issue 12 (triggers dropped first), each found by ``ketasim clinic
verify-audit`` (exit 1 naming what it found)."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path
from typing import Any

import pytest
from clinic_support import dosed_session, drop_audit_triggers, ok, patient_with_plan
from sqlalchemy import text
from typer.testing import CliRunner

from ketasim.cli import app as cli_app
from ketasim.clinic import audit
from ketasim.clinic.app import create_app


def _verify_cli(app: Any) -> tuple[int, str]:
    st = app.state.settings
    env = {"KETASIM_AUDIT_KEY": ""}
    if not st.is_sqlite:
        env["DATABASE_URL"] = st.url
    r = CliRunner().invoke(
        cli_app, ["clinic", "verify-audit", "--data-dir", str(st.data_dir)], env=env
    )
    return r.exit_code, r.output


def _clinic(app: Any, as_role: dict[str, Any]) -> int:
    _, plan_id = patient_with_plan(as_role)
    sid = dosed_session(as_role, plan_id)
    for m in (5, 15, 30):
        ok(
            as_role["nurse"].post(
                f"/api/v1/sessions/{sid}/observations",
                json={"minutes_after_dose": m, "sbp_mmhg": 130, "dbp_mmhg": 80},
            ),
            201,
        )
    return sid


def _plain(prev: str, row: Any) -> str:
    fields = [
        prev,
        str(row.seq),
        row.at,
        "" if row.user_id is None else str(row.user_id),
        row.username,
        row.action,
        row.entity,
        row.entity_id,
        row.before,
        row.after,
    ]
    return hashlib.sha256("\x1f".join(fields).encode()).hexdigest()


def _rechain_plain(conn: Any) -> str:
    """Recompute every entry's hash with plain SHA-256 (what an attacker without the key
    can do); return the last hash."""
    prev = audit.GENESIS
    for row in conn.execute(text("SELECT * FROM audit_log ORDER BY seq")).all():
        h = _plain(prev, row)
        conn.execute(
            text("UPDATE audit_log SET prev_hash = :p, hash = :h WHERE seq = :s"),
            {"p": prev, "h": h, "s": row.seq},
        )
        prev = h
    return prev


def test_untouched_clinic_verifies(app: Any, as_role: dict[str, Any]) -> None:
    _clinic(app, as_role)
    code, out = _verify_cli(app)
    assert code == 0 and "intact" in out, out


def test_attack_a_edit_a_clinical_row(app: Any, as_role: dict[str, Any]) -> None:
    sid = _clinic(app, as_role)
    with app.state.db.engine.begin() as conn:
        drop_audit_triggers(conn)
        conn.execute(text("UPDATE treatment_sessions SET dose_mg = 9 WHERE id = :i"), {"i": sid})
    code, out = _verify_cli(app)
    assert code == 1
    assert f"row treatment_sessions {sid}: dose_mg differ" in out and "edited outside" in out


def test_attack_b_recompute_the_chain_with_sha256(app: Any, as_role: dict[str, Any]) -> None:
    sid = _clinic(app, as_role)
    with app.state.db.engine.begin() as conn:
        drop_audit_triggers(conn)
        # the attacker edits a row and the entry describing it, then re-chains everything
        conn.execute(text("UPDATE treatment_sessions SET dose_mg = 9 WHERE id = :i"), {"i": sid})
        conn.execute(
            text(
                "UPDATE audit_log SET after = replace(after, :a, :b) "
                "WHERE entity = 'treatment_sessions'"
            ),
            {"a": '"dose_mg":56.0', "b": '"dose_mg":9.0'},
        )
        prev = _rechain_plain(conn)
        conn.execute(text("UPDATE audit_head SET hash = :h WHERE id = 1"), {"h": prev})
    code, out = _verify_cli(app)
    assert code == 1
    assert "content does not match its keyed hash" in out
    assert "hash differs from the signed checkpoint" in out


def test_attack_c_delete_the_last_three_entries(app: Any, as_role: dict[str, Any]) -> None:
    _clinic(app, as_role)
    with app.state.db.engine.begin() as conn:
        drop_audit_triggers(conn)
        last = conn.execute(text("SELECT max(seq) FROM audit_log")).scalar_one()
        conn.execute(text("DELETE FROM audit_log WHERE seq > :s"), {"s": last - 3})
        # and rewind the head so the chain looks complete
        h = conn.execute(
            text("SELECT hash FROM audit_log WHERE seq = :s"), {"s": last - 3}
        ).scalar_one()
        conn.execute(
            text("UPDATE audit_head SET seq = :s, hash = :h WHERE id = 1"), {"s": last - 3, "h": h}
        )
    code, out = _verify_cli(app)
    assert code == 1
    assert (
        f"the signed checkpoint records entry {last} but the log ends at entry {last - 3}: "
        "3 entries removed at the end"
    ) in out
    # the rows those entries described are no longer covered either
    assert "observations" in out and "has no audit entry" in out


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
def test_forged_checkpoint_and_key_file_mode(app: Any, as_role: dict[str, Any]) -> None:
    _clinic(app, as_role)
    st = app.state.settings
    key = st.data_dir / "audit.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert stat.S_IMODE(st.checkpoint_path.stat().st_mode) == 0o600
    with st.checkpoint_path.open("a") as f:  # a line not signed with the key
        f.write('{"kind":"head","seq":1,"hash":"00","at":"x","key_id":"x","sig":"00"}\n')
    code, out = _verify_cli(app)
    assert code == 1 and "signature does not match" in out
    os.chmod(key, 0o644)
    with pytest.raises(RuntimeError, match="readable by its owner only"):
        create_app(st)


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
def test_database_from_before_the_keyed_chain_upgrades(app: Any, as_role: dict[str, Any]) -> None:
    """A pre-0004 database: plain SHA-256 chain, no key, no checkpoints. After the upgrade its
    old entries verify as plain, new ones are keyed, and re-chaining them is still found."""
    _clinic(app, as_role)
    st = app.state.settings
    with app.state.db.engine.begin() as conn:  # make it look like a pre-0004 database
        drop_audit_triggers(conn)
        prev = _rechain_plain(conn)
        n_old = conn.execute(text("SELECT max(seq) FROM audit_log")).scalar_one()
        conn.execute(text("UPDATE audit_head SET hash = :h WHERE id = 1"), {"h": prev})
    app.state.db.dispose()
    st.checkpoint_path.unlink()
    (st.data_dir / "audit.key").unlink()
    upgraded = create_app(st)
    try:
        first = Path(st.checkpoint_path).read_text().splitlines()[0]
        assert f'"kind":"start","seq":{n_old + 1}' in first
        code, out = _verify_cli(upgraded)
        assert code == 0, out
    finally:
        upgraded.state.db.dispose()


def test_reads_of_patient_records_are_logged_and_covered(app: Any, as_role: dict[str, Any]) -> None:
    pid, plan_id = patient_with_plan(as_role)
    sid = dosed_session(as_role, plan_id)
    n = as_role["nurse"]
    ok(n.get(f"/api/v1/patients/{pid}"))
    ok(n.get(f"/api/v1/sessions/{sid}"))
    assert n.get(f"/sessions/{sid}").status_code == 200
    ok(as_role["prescriber"].get(f"/api/v1/plans/{plan_id}"))
    assert n.get("/api/v1/patients/999999").status_code == 404  # not a read of a record
    log = ok(as_role["auditor"].get(f"/api/v1/patients/{pid}/access-log"))
    seen = {(r["username"], r["entity"], r["path"]) for r in log}
    assert {
        ("nurse", "patients", f"/api/v1/patients/{pid}"),
        ("nurse", "treatment_sessions", f"/api/v1/sessions/{sid}"),
        ("nurse", "treatment_sessions", f"/sessions/{sid}"),
        ("prescriber", "treatment_plans", f"/api/v1/plans/{plan_id}"),
    } <= seen
    assert ok(as_role["auditor"].get("/api/v1/audit/verify"))["intact"] is True
    with app.state.db.engine.begin() as conn:  # hide who looked
        conn.execute(text("DELETE FROM access_log WHERE username = 'prescriber'"))
    code, out = _verify_cli(app)
    assert code == 1 and "access_log rows" in out and "differ from their digest" in out
