"""One clinic day end to end in headless Chromium against ``ketasim serve``: three patients go
through the day board from check-in to a signed session with the REMS form submitted (clicks of
the core session workflow counted), one PHQ-9 is answered on the tablet in kiosk mode with item
9 above 0 and raises a suicide-risk alert, one through a one-time link whose second use is
refused, the REMS form PDF is rendered to a page image with pdftoppm, and the charts carry
labelled, ticked axes. Screenshots are saved in the test's tmp dir (and in
$KETASIM_E2E_SHOTS when set)."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
PASSWORD = "e2e-password-1"
#: clicks of the core session workflow measured by issue 13 before this work
CLICKS_BEFORE = 44
pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists() or not shutil.which("pdftoppm"),
    reason="chromium or poppler-utils not installed (run scripts/system-deps.sh)",
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cli(*args: str, env: dict[str, str]) -> None:
    code = "from ketasim.cli import main; main()"
    subprocess.run(
        [sys.executable, "-c", code, *args], check=True, env=env, capture_output=True, timeout=60
    )


def _set_clock(tmp_path: Path, at: dt.datetime | None) -> None:
    """Stand the served clinic's clock at ``at`` (it runs on from there); None: the machine's
    clock again."""
    (tmp_path / "clinic-clock").write_text("" if at is None else at.isoformat())


@pytest.fixture
def clinic(tmp_path: Path) -> Iterator[tuple[str, dict[str, str], list[dict[str, object]]]]:
    """A served clinic with three patients on signed esketamine plans and today's appointments
    (set up through the API); yields (url, bearer tokens by user, appointments)."""
    data = tmp_path / "data"
    env = {
        **os.environ,
        "KETASIM_PASSWORD": PASSWORD,
        "KETASIM_DATA_DIR": str(data),
        # the clinic's clock: the test moves it (see _set_clock)
        "KETASIM_CLINIC_CLOCK_FILE": str(tmp_path / "clinic-clock"),
    }
    env.pop("DATABASE_URL", None)
    for role, name, full in (
        ("admin", "admin", "Ada Admin"),
        ("prescriber", "drp", "Dr P"),
        ("nurse", "nur", "Nina Nurse"),
    ):
        _cli(
            "clinic",
            "create-user",
            "--role",
            role,
            "--username",
            name,
            "--full-name",
            full,
            env=env,
        )
    port = _free_port()
    log = (tmp_path / "server.log").open("wb")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from ketasim.cli import main; main()",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        env=env,
        stdout=log,
        stderr=log,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(150):
            try:
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            raise RuntimeError("server did not start")
        # the patients consented and were planned 2.5 h ago on the clinic's clock (a dose needs
        # a consent signed before it, issue 12)
        _set_clock(tmp_path, dt.datetime.now(dt.UTC) - dt.timedelta(minutes=150))
        with httpx.Client(base_url=url, timeout=60) as c:
            tokens = {
                u: c.post("/api/v1/auth/login", json={"username": u, "password": PASSWORD}).json()[
                    "token"
                ]
                for u in ("admin", "drp", "nur")
            }

            def call(
                user: str, path: str, body: dict[str, object], status: int = 201
            ) -> dict[str, object] | list[dict[str, object]]:
                r = c.post(path, json=body, headers={"Authorization": f"Bearer {tokens[user]}"})
                assert r.status_code == status, (path, r.text)
                out: dict[str, object] | list[dict[str, object]] = r.json()
                return out

            doc = call(
                "admin",
                "/api/v1/consent-documents",
                {
                    "code": "esketamine",
                    "title": "Consent to esketamine treatment",
                    "body": "Risks of sedation, dissociation and raised blood pressure explained.",
                },
            )
            appts = []
            today = dt.datetime.now(dt.UTC).date().isoformat()
            names = (("Iris", "Day-One"), ("Omar", "Day-Two"), ("Lena", "Day-Three"))
            for i, (given, family) in enumerate(names):
                p = call(
                    "nur",
                    "/api/v1/patients",
                    {
                        "mrn": f"DAY-{i + 1}",
                        "given_name": given,
                        "family_name": family,
                        "birth_date": f"19{70 + i}-03-0{i + 1}",
                        "sex": "female" if i % 2 == 0 else "male",
                        "weight_kg": 64.0 + 6 * i,
                    },
                )
                assert isinstance(p, dict) and isinstance(doc, dict)
                call(
                    "nur",
                    f"/api/v1/patients/{p['id']}/consents",
                    {"document_id": doc["id"], "signed_by_name": f"{given} {family}"},
                )
                scr = call(
                    "nur",
                    f"/api/v1/patients/{p['id']}/screenings",
                    {
                        "protocol_id": "esketamine-trd-us",
                        "sbp_mmhg": 126,
                        "dbp_mmhg": 80,
                        "heart_rate_bpm": 70,
                        "pregnant": False,
                    },
                )
                assert isinstance(scr, dict)
                plan = call("drp", f"/api/v1/patients/{p['id']}/plans", {"screening_id": scr["id"]})
                assert isinstance(plan, dict)
                call("drp", f"/api/v1/plans/{plan['id']}/sign", {}, status=200)
                made = call(
                    "nur",
                    f"/api/v1/plans/{plan['id']}/appointments",
                    {"first_day": today, "time_utc": f"{8 + i:02d}:00", "chair": f"Chair {i + 1}"},
                )
                assert isinstance(made, list)
                appts.append({**made[0], "name": f"{family}, {given}"})
        _set_clock(tmp_path, None)
        yield url, tokens, appts
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()


def test_one_clinic_day_in_headless_chromium(
    clinic: tuple[str, dict[str, str], list[dict[str, object]]], tmp_path: Path
) -> None:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import Select, WebDriverWait

    url, tokens, appts = clinic
    opts = webdriver.ChromeOptions()
    opts.binary_location = str(CHROMIUM)
    for a in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1100,1400",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-sync",
    ):
        opts.add_argument(a)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=opts)
    shots = Path(os.environ.get("KETASIM_E2E_SHOTS") or tmp_path / "screenshots")
    shots.mkdir(parents=True, exist_ok=True)
    clicks = [0]

    def fill(element_id: str, value: str) -> None:
        el = driver.find_element(By.ID, element_id)
        el.clear()
        el.send_keys(value)

    def set_value(element_id: str, value: str) -> None:
        driver.execute_script(f"document.getElementById('{element_id}').value = '{value}'")

    def choose(element_id: str, text: str) -> None:
        """A dropdown choice: two clicks (open, pick)."""
        Select(driver.find_element(By.ID, element_id)).select_by_visible_text(text)
        clicks[0] += 2

    def wait_new_page(old: object) -> None:
        WebDriverWait(driver, 30).until(expected_conditions.staleness_of(old))
        WebDriverWait(driver, 30).until(
            lambda d: d.execute_script("return document.readyState") == "complete"
        )

    def click(element_id: str) -> None:
        """Click a button or link (one click) and wait for the next page."""
        old = driver.find_element(By.TAG_NAME, "html")
        el = driver.find_element(By.ID, element_id)
        assert el.is_displayed() and el.is_enabled(), element_id
        driver.execute_script("arguments[0].click()", el)
        clicks[0] += 1
        wait_new_page(old)

    def shot(name: str) -> None:
        driver.save_screenshot(str(shots / f"{name}.png"))

    def text(element_id: str) -> str:
        return str(driver.find_element(By.ID, element_id).text)

    try:
        driver.get(f"{url}/")
        assert "/login" in driver.current_url
        fill("username", "nur")
        fill("password", PASSWORD)
        click("login")
        assert "Day board" in driver.find_element(By.TAG_NAME, "h1").text  # the landing page
        shot("01-board-morning")
        per_patient = []
        sessions = []
        for i, appt in enumerate(appts):
            clicks[0] = 0
            # checked in and checked 140 min ago on the clinic's clock, the dose (130 min ago)
            # recorded now: the session was opened before the dose (issue 12)
            _set_clock(tmp_path, dt.datetime.now(dt.UTC) - dt.timedelta(minutes=140))
            click(f"check-in-{appt['id']}")
            assert text("session-status") == "open"
            assert "Planned dose for session 1: 56 mg" in text("planned-dose")
            for k, v in (("p_sbp", "127"), ("p_dbp", "81"), ("p_hr", "71"), ("p_spo2", "98")):
                fill(k, v)
            click("predose")
            assert "No hard stop" in text("predose-result")
            _set_clock(tmp_path, None)
            start = dt.datetime.now(dt.UTC).replace(
                tzinfo=None, second=0, microsecond=0
            ) - dt.timedelta(minutes=130)
            assert driver.find_element(By.ID, "dose_mg").get_attribute("value") == "56"
            fill("lot_number", f"LOT-DAY-{i + 1}")
            set_value("start_at", start.strftime("%Y-%m-%dT%H:%M"))
            click("give-dose")
            assert text("session-status") == "dosed"
            for minute, cp, sbp in ((40, "40-min", "149"), (125, "pre-discharge", "132")):
                assert Select(driver.find_element(By.ID, "q_cp")).first_selected_option.text == cp
                set_value("q_clock", (start + dt.timedelta(minutes=minute)).strftime("%H:%M"))
                for k, v in (("q_sbp", sbp), ("q_dbp", "84"), ("q_hr", "78"), ("q_spo2", "97")):
                    fill(k, v)
                click("quick-save")
                assert driver.current_url.endswith("#quick-vitals")  # back in place
            assert len(driver.find_elements(By.CSS_SELECTOR, "#vitals tr")) == 4
            if i == 0:
                driver.execute_script("document.getElementById('vitals-chart').scrollIntoView()")
                shot("02-session-vitals-chart")
            fill("d_ready", "95")
            choose("d_vitals_acceptable_end", "yes")
            choose("d_sedation_observed", "no")
            choose("d_dissociation_observed", "yes")
            # prefilled from the record: first treatment, vitals before, transport, respiratory
            # depression and serious adverse events
            assert (
                Select(driver.find_element(By.ID, "d_first_treatment")).first_selected_option.text
                == "yes"
            )
            click("discharge")
            assert text("session-status") == "discharged"
            click("sign-session")
            assert text("session-status") == "signed"
            click("mark-rems")
            assert "Submitted on" in text("rems-submitted") and "Nina Nurse" in text(
                "rems-submitted"
            )
            sessions.append(int(driver.current_url.split("/sessions/")[1].split("#")[0]))
            old = driver.find_element(By.TAG_NAME, "html")
            driver.execute_script(
                "arguments[0].click()", driver.find_element(By.LINK_TEXT, "Board")
            )
            clicks[0] += 1
            wait_new_page(old)
            per_patient.append(clicks[0])
        print(f"core session workflow clicks per patient: {per_patient} (before: {CLICKS_BEFORE})")
        assert max(per_patient) <= CLICKS_BEFORE // 2
        phases = [
            e.get_attribute("data-phase")
            for e in driver.find_elements(By.CSS_SELECTOR, "#today .badge")
        ]
        assert phases == ["signed"] * 3
        submitted = driver.find_element(By.ID, "rems").text
        assert submitted.count("submitted") >= 3 and "Nina Nurse" in submitted
        shot("03-board-after-sessions")

        # PHQ-9 in kiosk mode with item 9 > 0: an alert to the care team at once
        patient1 = appts[0]["patient_id"]
        driver.get(f"{url}/patients/{patient1}")
        click("q-kiosk")
        assert "/q/" in driver.current_url
        assert not driver.find_elements(By.CSS_SELECTOR, "a[href='/board']")  # locked
        for item, answer in enumerate((2, 2, 1, 2, 1, 1, 2, 1, 1)):
            driver.execute_script(
                "arguments[0].click()", driver.find_element(By.ID, f"item{item}-{answer}")
            )
        shot("04-kiosk-phq9")
        click("q-submit")
        assert "Thank you" in text("q-thanks")
        shot("05-kiosk-hand-back")
        driver.get(f"{url}/board")
        assert "/login" in driver.current_url  # the staff login ended at the hand-over
        driver.back()
        fill("username", "nur")
        fill("password", PASSWORD)
        click("login")
        assert f"/patients/{patient1}" in driver.current_url
        driver.get(f"{url}/board")
        alerts = driver.find_element(By.ID, "alerts").text
        assert "suicide-risk" in alerts and "item 9" in alerts
        driver.execute_script("document.getElementById('alerts').scrollIntoView()")
        shot("06-board-suicide-risk-alert")

        # a one-time link: answered once, refused the second time
        patient2 = appts[1]["patient_id"]
        driver.get(f"{url}/patients/{patient2}")
        click("q-make-link")
        link = text("q-url")
        assert "/q/" in link
        driver.get(link)
        for item in range(9):
            driver.execute_script(
                "arguments[0].click()",
                driver.find_element(By.ID, f"item{item}-{1 if item < 8 else 0}"),
            )
        click("q-submit")
        assert "Thank you" in text("q-thanks")
        driver.get(link)
        assert "cannot be used" in driver.find_element(By.TAG_NAME, "h1").text
        shot("07-link-second-use-refused")
        token = link.rsplit("/q/", 1)[1]
        again = httpx.post(f"{url}/api/v1/q/{token}", json={"answers": [1] * 8 + [0]}, timeout=60)
        assert again.status_code == 410

        # charts: scores over the course, vitals against clock time, labelled ticked axes
        driver.get(f"{url}/patients/{patient2}")
        chart = driver.find_element(By.CSS_SELECTOR, "#score-chart-PHQ-9")
        assert chart.find_element(By.CSS_SELECTOR, "text.xlabel").text.startswith("date")
        assert "PHQ-9 total" in chart.find_element(By.CSS_SELECTOR, "text.ylabel").text
        assert len(chart.find_elements(By.CSS_SELECTOR, "line.ytick")) >= 3
        driver.execute_script("document.getElementById('ratings').scrollIntoView()")
        shot("08-score-chart")
        driver.get(f"{url}/sessions/{sessions[0]}")
        vit = driver.find_element(By.CSS_SELECTOR, "#vitals-chart")
        assert vit.find_element(By.CSS_SELECTOR, "text.xlabel").text == "clock time (UTC)"
        assert len(vit.find_elements(By.CSS_SELECTOR, "line.xtick")) >= 3
        assert len(vit.find_elements(By.CSS_SELECTOR, "polyline.series")) == 3  # sys, dia, HR
    finally:
        driver.quit()

    # the REMS form as PDF, rendered to a page image
    pdf = shots / "09-rems-form.pdf"
    r = httpx.get(
        f"{url}/api/v1/sessions/{sessions[0]}/rems-form.pdf",
        headers={"Authorization": f"Bearer {tokens['nur']}"},
        timeout=60,  # generous: the machine running the tests may be loaded
    )
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    pdf.write_bytes(r.content)
    subprocess.run(
        ["pdftoppm", "-png", "-r", "80", "-singlefile", str(pdf), str(shots / "09-rems-form")],
        check=True,
        timeout=60,
    )
    words = subprocess.run(
        ["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    assert "LOT-DAY-1" in words and "Nina Nurse" in words and "Submitted on" in words
    for name in (
        "01-board-morning",
        "02-session-vitals-chart",
        "03-board-after-sessions",
        "04-kiosk-phq9",
        "05-kiosk-hand-back",
        "06-board-suicide-risk-alert",
        "07-link-second-use-refused",
        "08-score-chart",
        "09-rems-form",
    ):
        assert (shots / f"{name}.png").stat().st_size > 10_000, name
