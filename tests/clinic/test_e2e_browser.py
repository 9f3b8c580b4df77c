"""End to end in headless Chromium (selenium + Debian chromium-driver): a real server on
127.0.0.1, log in, add a patient, record consent and screening, create and sign a plan (with
its predicted curve), run a session with vitals, enter MADRS scores and see the response chart.
Screenshots are saved in the test's tmp dir. Skipped only when /usr/bin/chromium is absent."""

from __future__ import annotations

import datetime as dt
import os
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
pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="chromium not installed (run scripts/system-deps.sh)"
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _ketasim(*args: str, env: dict[str, str]) -> None:
    code = "from ketasim.cli import main; main()"
    subprocess.run(
        [sys.executable, "-c", code, *args], check=True, env=env, capture_output=True, timeout=60
    )


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    """``ketasim serve`` on a free loopback port with a fresh data dir and two users."""
    data = tmp_path / "data"
    env = {
        **os.environ,
        "KETASIM_PASSWORD": PASSWORD,
        "KETASIM_DATA_DIR": str(data),
        # the clinic's clock: the test moves it (see _set_clock)
        "KETASIM_CLINIC_CLOCK_FILE": str(tmp_path / "clinic-clock"),
    }
    env.pop("DATABASE_URL", None)
    _ketasim("clinic", "create-user", "--role", "admin", "--username", "admin", env=env)
    _ketasim(
        "clinic",
        "create-user",
        "--role",
        "prescriber",
        "--username",
        "drp",
        "--full-name",
        "Dr P",
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
        with httpx.Client(base_url=url) as c:
            token = c.post(
                "/api/v1/auth/login", json={"username": "admin", "password": PASSWORD}
            ).json()["token"]
            r = c.post(
                "/api/v1/consent-documents",
                headers={"Authorization": f"Bearer {token}"},
                json={
                    "code": "ketamine",
                    "title": "Consent to esketamine treatment",
                    "body": "Risks of sedation, dissociation and raised blood "
                    "pressure were explained.",
                },
            )
            assert r.status_code == 201, r.text
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()


def _set_clock(tmp_path: Path, at: dt.datetime | None) -> None:
    """Stand the served clinic's clock at ``at`` (it runs on from there); None: the machine's
    clock again."""
    (tmp_path / "clinic-clock").write_text("" if at is None else at.isoformat())


def test_clinic_workflow_in_headless_chromium(server: str, tmp_path: Path) -> None:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import Select, WebDriverWait

    opts = webdriver.ChromeOptions()
    opts.binary_location = str(CHROMIUM)
    for a in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1024,1366",
        f"--user-data-dir={tmp_path / 'profile'}",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-sync",
    ):
        opts.add_argument(a)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=opts)
    shots = tmp_path / "screenshots"
    shots.mkdir()

    def fill(element_id: str, value: str) -> None:
        el = driver.find_element(By.ID, element_id)
        el.clear()
        el.send_keys(value)

    def choose(element_id: str, text: str) -> None:
        Select(driver.find_element(By.ID, element_id)).select_by_visible_text(text)

    def click(element_id: str) -> None:
        """Click a submit button and wait for the next page."""
        old = driver.find_element(By.TAG_NAME, "html")
        button = driver.find_element(By.ID, element_id)
        assert button.is_displayed() and button.is_enabled()
        # a script click: chromedriver's native click races with the navigation it starts
        driver.execute_script("arguments[0].click()", button)
        WebDriverWait(driver, 30).until(expected_conditions.staleness_of(old))
        WebDriverWait(driver, 30).until(
            lambda d: d.execute_script("return document.readyState") == "complete"
        )

    def shot(name: str) -> None:
        driver.save_screenshot(str(shots / f"{name}.png"))

    # the patient is registered, consented, planned and the session opened 2.5 h ago on the
    # clinic's clock; the dose given 135 min ago is recorded now (issue 12: a dose needs a
    # consent signed before it and a session opened before it)
    now = dt.datetime.now(dt.UTC)
    _set_clock(tmp_path, now - dt.timedelta(minutes=150))
    try:
        driver.get(f"{server}/patients")  # redirected to the login page
        assert "/login" in driver.current_url
        fill("username", "drp")
        fill("password", PASSWORD)
        click("login")
        assert "Patients" in driver.page_source
        for k, v in (
            ("mrn", "E2E-1"),
            ("given_name", "Demo"),
            ("family_name", "Browser-Patient"),
            ("weight_kg", "68"),
            ("height_cm", "165"),
        ):
            fill(k, v)
        driver.execute_script("document.getElementById('birth_date').value = '1972-02-04'")
        click("add-patient")
        assert "Demo Browser-Patient" in driver.find_element(By.TAG_NAME, "h1").text
        click("sign-consent")
        assert "Current consent" in driver.find_element(By.ID, "consent-status").text
        choose(
            "protocol_id",
            next(
                o.text
                for o in Select(driver.find_element(By.ID, "protocol_id")).options
                if o.text.startswith("esketamine-trd-us:")
            ),
        )
        for k, v in (("s_sbp", "128"), ("s_dbp", "80"), ("s_hr", "72"), ("s_spo2", "98")):
            fill(k, v)
        choose("pregnant", "no")
        click("screen")
        assert "eligible" in driver.find_element(By.ID, "eligibility").text
        shot("1-screening")
        click("create-plan")
        assert driver.find_elements(By.CSS_SELECTOR, "img.figure")
        click("sign-plan")
        assert driver.find_element(By.ID, "plan-status").text == "signed"
        shot("2-plan")
        click("open-session")
        for k, v in (("p_sbp", "126"), ("p_dbp", "79"), ("p_hr", "70"), ("p_spo2", "98")):
            fill(k, v)
        click("predose")
        assert "No hard stop" in driver.find_element(By.ID, "predose-result").text
        _set_clock(tmp_path, None)
        start = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=135)).strftime("%Y-%m-%dT%H:%M")
        fill("dose_mg", "56")
        fill("lot_number", "LOT-E2E")
        driver.execute_script(f"document.getElementById('start_at').value = '{start}'")
        click("give-dose")
        assert driver.find_element(By.ID, "session-status").text == "dosed"
        # the pre-dose check's vitals are the pre-dose reading (entered once, issue 13)
        for minute, cp, sbp in (("40", "40-min", "148"), ("125", "pre-discharge", "130")):
            fill("v_min", minute)
            choose("v_cp", cp)
            fill("v_sbp", sbp)
            fill("v_dbp", "82")
            fill("v_hr", "76")
            fill("v_spo2", "97")
            click("add-vitals")
        rows = driver.find_elements(By.CSS_SELECTOR, "#vitals tr")
        assert len(rows) == 4  # header + pre-dose (from the check) + 2
        fill("d_ready", "90")
        for name, answer in (
            ("first_treatment", "yes"),
            ("vitals_acceptable_before", "yes"),
            ("vitals_acceptable_end", "yes"),
            ("sedation_observed", "no"),
            ("dissociation_observed", "yes"),
            ("respiratory_depression_observed", "no"),
            ("serious_adverse_event", "no"),
            ("transport_arranged", "yes"),
        ):
            choose(f"d_{name}", answer)
        click("discharge")
        click("sign-session")
        assert driver.find_element(By.ID, "session-status").text == "signed"
        shot("3-session")
        # issue 12: a correction of the signed session is an amendment (the original is kept)
        session_url = driver.current_url
        choose("am_field", "ready_to_leave_min")
        fill("am_value", "75")
        fill("am_reason", "typed 90 in error; the paper chart says 75 min")
        click("amend")
        amendments = driver.find_element(By.ID, "amendments").text
        assert "ready_to_leave_min 90 75" in amendments and "paper chart" in amendments
        assert driver.find_element(By.ID, "session-status").text == "signed"
        shot("5-amendment")
        # an open session is cancelled with a reason and no longer blocks the next one
        driver.get(session_url)
        plan_link = driver.find_element(By.ID, "plan-link").get_attribute("href")
        driver.get(plan_link)
        click("open-session")
        fill("cancel_reason", "patient unwell today with a fever; rescheduled")
        click("cancel-session")
        assert "fever" in driver.find_element(By.ID, "cancelled").text
        assert driver.find_element(By.ID, "session-status").text == "cancelled"
        shot("6-cancelled-session")
        driver.get(plan_link)
        click("open-session")
        for k, v in (("p_sbp", "124"), ("p_dbp", "78"), ("p_hr", "70"), ("p_spo2", "98")):
            fill(k, v)
        click("predose")
        dose_url = driver.current_url
        # an overdose is refused, even for a prescriber with a reason: label maximum 84 mg
        fill("dose_mg", "900")
        fill("lot_number", "LOT-E2E-2")
        fill("rationale", "x")
        fill("override_reason", "the patient asked for a much stronger effect today")
        click("give-dose")
        error = driver.find_element(By.ID, "error").text
        assert "dose.above-label-max" in error and "84" in error
        assert driver.find_element(By.ID, "session-status").text == "open"
        shot("7-refused-overdose")
        # a dose time before the consent was signed (2.5 h ago) is refused, naming the field
        early = (now - dt.timedelta(minutes=200)).strftime("%Y-%m-%dT%H:%M")
        fill("dose_mg", "56")
        fill("lot_number", "LOT-E2E-2")
        fill("rationale", "")
        fill("override_reason", "")
        driver.execute_script(f"document.getElementById('start_at').value = '{early}'")
        click("give-dose")
        error = driver.find_element(By.ID, "error").text
        assert "consent.not-current" in error and "start_at" in error, error
        assert "no consent of the patient was in force" in error
        assert driver.find_element(By.ID, "session-status").text == "open"
        shot("9-refused-before-consent")
        # consent withdrawn mid-session: the dose is refused
        driver.get(driver.find_element(By.ID, "patient-link").get_attribute("href"))
        reason = driver.find_element(
            By.CSS_SELECTOR, "form[action$='/withdraw'] input[name=reason]"
        )
        reason.send_keys("patient withdrew consent in the chair")
        old = driver.find_element(By.TAG_NAME, "html")
        driver.execute_script(
            "arguments[0].click()",
            driver.find_element(By.CSS_SELECTOR, "form[action$='/withdraw'] button"),
        )
        WebDriverWait(driver, 30).until(expected_conditions.staleness_of(old))
        assert "No current consent" in driver.find_element(By.ID, "consent-status").text
        driver.get(dose_url)
        fill("dose_mg", "56")
        fill("lot_number", "LOT-E2E-2")
        # given two minutes after the withdrawal (the form's default, now, is to the minute)
        later = (dt.datetime.now(dt.UTC) + dt.timedelta(minutes=2)).strftime("%Y-%m-%dT%H:%M")
        driver.execute_script(f"document.getElementById('start_at').value = '{later}'")
        click("give-dose")
        assert "consent.not-current" in driver.find_element(By.ID, "error").text
        assert driver.find_element(By.ID, "session-status").text == "open"
        shot("8-refused-after-consent-withdrawal")
        old = driver.find_element(By.TAG_NAME, "html")
        driver.execute_script(
            "arguments[0].click()", driver.find_element(By.LINK_TEXT, "Demo Browser-Patient")
        )
        WebDriverWait(driver, 30).until(expected_conditions.staleness_of(old))
        for day, score in (("2026-01-01", "34"), ("2026-01-15", "15")):
            choose("scale", "MADRS")
            fill("score", score)
            driver.execute_script(f"document.getElementById('taken_on').value = '{day}'")
            click("add-rating")
        chart = driver.find_element(By.CSS_SELECTOR, "#chart-MADRS svg")
        assert chart.is_displayed() and chart.size["width"] > 200
        assert len(driver.find_elements(By.CSS_SELECTOR, "#chart-MADRS circle")) == 2
        assert "yes" in driver.find_element(By.ID, "ratings").text  # response at 15 <= 17
        driver.execute_script("document.getElementById('ratings').scrollIntoView()")
        shot("4-response-chart")
    finally:
        driver.quit()
    for name in (
        "1-screening",
        "2-plan",
        "3-session",
        "4-response-chart",
        "5-amendment",
        "6-cancelled-session",
        "7-refused-overdose",
        "8-refused-after-consent-withdrawal",
        "9-refused-before-consent",
    ):
        assert (shots / f"{name}.png").stat().st_size > 10_000
