"""Issue 12: more than one server process on one database. Two app instances over one database
(as two `ketasim serve --workers 2` processes are) share the login limit (attempts in flight
counted), refuse a second-factor code the other used, and see each other's jobs; a job left
running by a dead process is failed, not lost."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pyotp
import pytest
from clinic_support import PASSWORD, TestClient, ok, sleepy_job

from ketasim.clinic.app import create_app
from ketasim.clinic.db.shared_state import JobRow
from ketasim.clinic.jobs import DEAD_RUNNER, STALE_S, JobLimit
from ketasim.clinic.settings import Settings


@pytest.fixture
def pair(app: Any, settings: Settings) -> Iterator[tuple[Any, Any]]:
    """Two apps on one database (the second does not migrate, as a worker process)."""
    other = create_app(Settings(**{**settings.__dict__, "migrate": False}))
    yield app, other
    for each in (app, other):
        each.state.jobs.shutdown(wait=True)  # the runner's last write before the pool closes
    other.state.db.dispose()


def _login(c: TestClient, name: str, password: str, **extra: str) -> Any:
    return c.post("/api/v1/auth/login", json={"username": name, "password": password, **extra})


def test_one_login_limit_over_two_processes(pair: tuple[Any, Any]) -> None:
    a, b = pair
    limit = a.state.settings.login_max_failures
    clients = [TestClient(a), TestClient(b)]
    for i in range(limit):  # alternate: each process sees only half of the failures itself
        assert _login(clients[i % 2], "nurse", "wrong-wrong").status_code == 400
    for c in clients:
        r = _login(c, " NURSE", PASSWORD)
        assert r.status_code == 429 and "try again" in r.json()["detail"]


def test_attempts_in_flight_on_one_process_count_on_the_other(pair: tuple[Any, Any]) -> None:
    a, b = pair
    limit = a.state.settings.login_max_failures
    admitted = [a.state.limiter.begin("admin", "10.0.0.1") for _ in range(limit)]
    assert admitted == [0.0] * limit
    assert b.state.limiter.begin("Admin ", "10.0.0.2") > 0  # the name is busy everywhere
    for _ in range(limit):
        a.state.limiter.end("admin", "10.0.0.1", ok=False)
    assert b.state.limiter.begin("admin", "10.0.0.3") > 0  # now failed, still counted


def test_a_totp_code_used_on_one_process_is_refused_on_the_other(pair: tuple[Any, Any]) -> None:
    a, b = pair
    c = TestClient(a)
    token = ok(_login(c, "prescriber", PASSWORD))["token"]
    c.headers["Authorization"] = f"Bearer {token}"
    totp = pyotp.TOTP(ok(c.post("/api/v1/auth/totp"))["secret"])
    assert ok(c.post("/api/v1/auth/totp/confirm", json={"code": totp.now()}))["totp_enabled"]
    code = totp.at(time.time() + 30)  # not the one used to confirm
    assert _login(TestClient(a), "prescriber", PASSWORD, totp_code=code).status_code == 200
    r = _login(TestClient(b), "prescriber", PASSWORD, totp_code=code)
    assert r.status_code == 400 and r.json()["field"] == "totp_code", r.text
    # and the other way round
    code = totp.at(time.time() - 30)
    assert _login(TestClient(b), "prescriber", PASSWORD, totp_code=code).status_code == 200
    assert _login(TestClient(a), "prescriber", PASSWORD, totp_code=code).status_code == 400


def _uid(app: Any, name: str) -> int:
    from ketasim.clinic.db.models import User

    with app.state.db.read() as s:
        return int(s.query(User).filter_by(username=name).one().id)


def _wait_done(app: Any, job_id: str, timeout_s: float = 60.0) -> Any:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout_s:
        job = app.state.jobs.get(job_id)
        if job is not None and job.state in ("done", "failed"):
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} did not finish")


def test_a_job_started_on_one_process_is_seen_on_the_other(pair: tuple[Any, Any]) -> None:
    a, b = pair
    uid = _uid(a, "nurse")
    job = a.state.jobs.submit(uid, "echo", sleepy_job, {"sleep_s": 0.5, "tag": "from-a"})
    seen = b.state.jobs.get(job.id)
    assert seen is not None and seen.owner_id == uid and seen.title == "echo"
    done = _wait_done(b, job.id)
    assert done.state == "done" and done.result == {"echo": "from-a"}, done.error
    assert done.elapsed_s >= 0.5
    # the page of the other process shows it to its owner only
    nurse_b = TestClient(b)
    nurse_b.headers["Authorization"] = "Bearer " + ok(_login(nurse_b, "nurse", PASSWORD))["token"]
    assert nurse_b.get(f"/tools/trial/jobs/{job.id}").status_code == 200
    other = TestClient(b)
    other.headers["Authorization"] = "Bearer " + ok(_login(other, "prescriber", PASSWORD))["token"]
    assert other.get(f"/tools/trial/jobs/{job.id}").status_code == 404


def test_the_job_limit_counts_every_process(pair: tuple[Any, Any]) -> None:
    a, b = pair
    uid = _uid(a, "nurse")
    a.state.jobs.timeout_s = b.state.jobs.timeout_s = 3.0
    pending = [
        a.state.jobs.submit(uid, "slow", sleepy_job, {"sleep_s": 30, "tag": str(k)})
        for k in range(2)
    ]
    with pytest.raises(JobLimit, match="at most 2 of your jobs"):
        b.state.jobs.submit(uid, "slow", sleepy_job, {"sleep_s": 30, "tag": "x"})
    for job in pending:
        assert "over the limit of 3 s" in _wait_done(b, job.id).error


def test_a_job_left_running_by_a_dead_process_is_failed(pair: tuple[Any, Any]) -> None:
    a, b = pair
    uid = _uid(a, "nurse")
    long_ago = time.time() - STALE_S - 5
    with a.state.db.session() as s:  # what a killed process leaves behind
        s.add(
            JobRow(
                id="left-behind",
                owner_id=uid,
                title="orphan",
                state="running",
                done=10,
                total=100,
                error="",
                runner="gone:123:dead",
                created_unix_s=long_ago,
                started_unix_s=long_ago,
                heartbeat_unix_s=long_ago,
            )
        )
    job = b.state.jobs.get("left-behind")
    assert job is not None and job.state == "failed" and job.error == DEAD_RUNNER
    assert a.state.jobs.get("left-behind").state == "failed"  # stored, not per process
    # nor does it count against the user's limit any more
    fresh = b.state.jobs.submit(uid, "echo", sleepy_job, {"sleep_s": 0, "tag": "t"})
    assert _wait_done(a, fresh.id).state == "done"
