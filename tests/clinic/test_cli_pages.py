"""CLI (create-user, demo, verify-audit, backup, export) and the server-rendered pages."""

from __future__ import annotations

import re
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from clinic_support import (
    PASSWORD,
    TestClient,
    dosed_session,
    drop_audit_triggers,
    ok,
    patient_with_plan,
)
from typer.testing import CliRunner

from ketasim.cli import app as cli_app


def _run(*args: str, env: dict[str, str] | None = None) -> Any:
    return CliRunner().invoke(cli_app, list(args), env=env)


def test_cli_demo_verify_tamper_backup_export(tmp_path: Path) -> None:
    d = str(tmp_path / "data")
    r = _run(
        "clinic",
        "create-user",
        "--role",
        "admin",
        "--username",
        "boss",
        "--data-dir",
        d,
        env={"KETASIM_PASSWORD": "short"},
    )
    assert r.exit_code == 2 and "password" in r.output
    assert _run("clinic", "demo", "--data-dir", d).exit_code == 0
    assert _run("clinic", "demo", "--data-dir", d).exit_code == 2  # not empty any more
    r = _run("clinic", "verify-audit", "--data-dir", d)
    assert r.exit_code == 0 and "intact" in r.output
    r = _run("clinic", "backup", str(tmp_path / "b.sqlite3"), "--data-dir", d)
    assert r.exit_code == 0
    with sqlite3.connect(tmp_path / "b.sqlite3") as con:
        n_sessions = con.execute("SELECT count(*) FROM treatment_sessions").fetchone()[0]
        assert n_sessions > 0
    assert (
        _run("clinic", "export", str(tmp_path / "x"), "--format", "json", "--data-dir", d).exit_code
        == 0
    )
    assert (tmp_path / "x" / "treatment_sessions.json").read_text().count('"lot_number"') == (
        n_sessions
    )
    assert "argon2" not in (tmp_path / "x" / "users.json").read_text()
    with sqlite3.connect(Path(d) / "clinic.sqlite3") as con:
        con.execute("DROP TRIGGER audit_log_no_update")
        con.execute("UPDATE treatment_sessions SET dose_mg = 9999 WHERE id = 1")
        con.execute(
            "UPDATE audit_log SET after = replace(after, '\"dose_mg\":56.0', "
            "'\"dose_mg\":9999') WHERE entity = 'treatment_sessions' AND "
            "action = 'dose' AND entity_id = '1'"
        )
        seq = con.execute(
            "SELECT seq FROM audit_log WHERE entity = 'treatment_sessions' AND "
            "action = 'dose' AND entity_id = '1'"
        ).fetchone()[0]
    r = _run("clinic", "verify-audit", "--data-dir", d)
    assert r.exit_code == 1 and f"entry {seq}" in r.output


def _csrf(html: str) -> str:
    m = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert m, "no CSRF token on the page"
    return m.group(1)


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
def test_pages_workflow_with_forms(app: Any, as_role: dict[str, Any]) -> None:
    c = TestClient(app)
    r = c.post("/login", data={"username": "nurse", "password": PASSWORD, "next": "/patients"})
    assert r.status_code == 200 and "New patient" in r.text
    csrf = _csrf(r.text)
    r = c.post(
        "/patients",
        data={
            "csrf_token": csrf,
            "mrn": "P-9",
            "given_name": "Eve",
            "family_name": "Ray",
            "birth_date": "1975-04-03",
            "sex": "female",
            "weight_kg": "heavy",
        },
    )
    assert r.status_code == 422 and "weight_kg" in r.text
    r = c.post(
        "/patients",
        data={
            "csrf_token": csrf,
            "mrn": "P-9",
            "given_name": "Eve",
            "family_name": "Ray",
            "birth_date": "1975-04-03",
            "sex": "female",
            "weight_kg": "61",
        },
    )
    assert r.status_code == 200 and "Eve Ray" in r.text
    pid = int(str(r.url).rstrip("/").split("/")[-1])
    for day, score in (("2026-01-01", 30), ("2026-01-10", 14)):
        r = c.post(
            f"/patients/{pid}/rating",
            data={"csrf_token": csrf, "scale": "MADRS", "score": str(score), "taken_on": day},
        )
        assert r.status_code == 200
    assert "<svg" in r.text and "response: 50 % below baseline" in r.text
    assert re.search(r"<td>14</td><td>-53 %</td><td>yes</td>", r.text)


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
def test_plan_page_shows_the_predicted_curve(app: Any, as_role: dict[str, Any]) -> None:
    _, plan_id = patient_with_plan(as_role, protocol="depression-iv-course")
    r = as_role["prescriber"].get(f"/plans/{plan_id}")
    assert r.status_code == 200
    assert "Predicted concentrations" in r.text
    # the figures are separate resources (issue 12: not inlined and decoded on every view)
    src = re.search(r'<img class="figure" alt="[^"]*" src="([^"]+)"', r.text)
    assert src is not None
    png = as_role["prescriber"].get(src.group(1))
    assert png.status_code == 200 and png.content.startswith(b"\x89PNG")


def test_concurrent_writers_lose_nothing(app: Any, as_role: dict[str, Any]) -> None:
    _, plan_id = patient_with_plan(as_role)
    sid = dosed_session(as_role, plan_id)
    n_threads, per_thread = 8, 6
    errors: list[str] = []

    def work(k: int) -> None:
        c = TestClient(app)
        c.headers.update(as_role["nurse"].headers)
        for j in range(per_thread):
            r = c.post(
                f"/api/v1/sessions/{sid}/observations",
                json={"minutes_after_dose": k * 10 + j, "sbp_mmhg": 120 + j, "dbp_mmhg": 80},
            )
            if r.status_code != 201:
                errors.append(r.text)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    s = ok(as_role["nurse"].get(f"/api/v1/sessions/{sid}"))
    assert len(s["observations"]) == n_threads * per_thread
    assert ok(as_role["auditor"].get("/api/v1/audit/verify"))["intact"] is True


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
def test_tool_pages_call_the_cli_functions(app: Any, as_role: dict[str, Any]) -> None:
    from ketasim.catalogue import resolve_model
    from ketasim.patient import Patient
    from ketasim.pk import simulate
    from ketasim.regimens import parse_regimen

    c = as_role["auditor"]
    r = c.get(
        "/tools/simulate",
        params={
            "model": "domino-1982",
            "dose": "0.5 mg/kg",
            "over": "40min",
            "weight_kg": "70",
            "age_years": "40",
            "until": "2h",
        },
    )
    assert r.status_code == 200 and 'id="figure"' in r.text
    # the page's peak equals the library's own simulation of the same input
    res = simulate(
        resolve_model("domino-1982"),
        Patient(weight_kg=70.0, age_years=40.0),
        parse_regimen("0.5 mg/kg", route="iv", over="40min"),
        times_min=np.arange(0.0, 121.0, 1.0),
    )
    peak = float(res.concentrations_ng_per_ml["ketamine_plasma"].max())
    assert f"{peak:.4g}" in r.text
    r = c.get("/tools/simulate", params={"model": "nope", "dose": "1 mg/kg"})
    assert r.status_code == 422 and 'class="error"' in r.text  # issue 12: refusals are 422
    r = c.get(
        "/tools/tci",
        params={"model": "domino-1982", "target": "1 ug/mL", "duration": "30min", "site": "plasma"},
    )
    assert r.status_code == 200 and 'id="figure"' in r.text and "Total dose" in r.text
    r = c.get(
        "/tools/plan",
        params={"protocol": "depression-iv-course", "age_years": "45", "weight_kg": "72"},
    )
    assert r.status_code == 200 and "data:image/png;base64," in r.text


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
def test_admin_audit_and_equity_pages(app: Any, as_role: dict[str, Any]) -> None:
    from sqlalchemy import text

    a = as_role["admin"]
    r = a.post(
        "/admin/consent-documents",
        data={"code": "k", "title": "Consent v1", "body": "Risks explained to the patient."},
    )
    assert r.status_code == 200 and "Consent v1" in r.text
    r = a.post(
        "/admin/users",
        data={
            "username": "new.nurse",
            "full_name": "New Nurse",
            "role": "nurse",
            "password": "short",
        },
    )
    assert r.status_code == 422 and "password" in r.text
    r = as_role["auditor"].get("/audit")
    assert r.status_code == 200 and "Hash chain intact" in r.text
    with app.state.db.engine.begin() as conn:
        drop_audit_triggers(conn)
        conn.execute(text("UPDATE audit_log SET username = 'mallory' WHERE seq = 2"))
    r = as_role["auditor"].get("/audit")
    assert "Chain broken" in r.text and "entry 2" in r.text
    r = as_role["prescriber"].get("/reports/equity", params={"dimension": "age_group"})
    assert r.status_code == 200 and 'id="equity"' in r.text


def test_backup_is_a_consistent_copy(app: Any, as_role: dict[str, Any], tmp_path: Path) -> None:
    import shutil

    from ketasim.clinic.services.export import backup

    settings = app.state.settings
    if not settings.is_sqlite and shutil.which("pg_dump") is None:
        pytest.skip("pg_dump is not installed")
    patient_with_plan(as_role)
    out = backup(settings, tmp_path / "clinic.backup")
    assert out.stat().st_size > 1000
    if settings.is_sqlite:
        with sqlite3.connect(out) as con:
            assert con.execute("SELECT count(*) FROM treatment_plans").fetchone()[0] == 1
            assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    else:
        assert out.read_bytes()[:5] == b"PGDMP"  # pg_dump's custom format


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
def test_trial_page_runs_the_trial_function(app: Any, as_role: dict[str, Any]) -> None:
    from ketasim.clinic.web.tools import DEFAULT_TRIAL

    c = as_role["nurse"]
    r = c.get("/tools/trial")
    assert r.status_code == 200 and "perez-ruixo" in r.text
    small = DEFAULT_TRIAL.replace("n = 300", "n = 40")
    # issue 12: the trial runs as a background job; the page redirects to its progress page
    r = c.post("/tools/trial", data={"spec": small}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/tools/trial/jobs/")
    page = r.headers["location"]
    for _ in range(600):
        r = c.get(page)
        if 'id="job-state" class="ok"' in r.text or "failed" in r.text:
            break
        time.sleep(0.1)
    assert r.status_code == 200, r.text[-500:]
    assert 'id="figure"' in r.text and "esketamine_cmax" in r.text, r.text[-800:]
    r = c.post("/tools/trial", data={"spec": small.replace("n = 40", "n = 100000")})
    assert r.status_code == 422 and "n:" in r.text
    r = c.post("/tools/trial", data={"spec": small.replace('kind = "parametric"', 'kind = "csv"')})
    assert r.status_code == 422 and "population.kind" in r.text
