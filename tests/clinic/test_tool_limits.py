"""Issue 12, item 3: the tool pages take catalogue model ids only (no file paths) and bounded
work, each refusal a 422 naming the field and the limit; the virtual trial runs as a background
job with a progress page, an owner and a run-time limit."""

from __future__ import annotations

import shutil
import time
import tomllib
from pathlib import Path
from typing import Any

import pytest

from ketasim.clinic.web import tool_limits as lim
from ketasim.clinic.web.tools import DEFAULT_TRIAL, run_trial_job

pytestmark = pytest.mark.parametrize("settings", ["sqlite"], indirect=True)


def _wait(c: Any, page: str, timeout_s: float = 90.0) -> Any:
    end = time.monotonic() + timeout_s
    while True:
        r = c.get(page)
        if ("queued" not in r.text and "running" not in r.text) or time.monotonic() > end:
            return r
        time.sleep(0.1)


@pytest.mark.parametrize(
    "model", ["/etc/shadow", "/dev/zero", "../../etc/passwd", "model.toml", "C:\\models\\x"]
)
def test_simulator_refuses_file_paths(app: Any, as_role: dict[str, Any], model: str) -> None:
    r = as_role["nurse"].get("/tools/simulate", params={"model": model, "dose": "1 mg/kg"})
    assert r.status_code == 422 and "catalogue model ids only" in r.text


def test_a_model_file_on_disk_is_not_executed(
    app: Any, as_role: dict[str, Any], tmp_path: Path
) -> None:
    import ketasim.catalogue

    src = sorted((Path(ketasim.catalogue.__file__).parent / "data").glob("*.toml"))[0]
    target = tmp_path / "mine.toml"
    shutil.copy(src, target)  # a valid model file: the page must still refuse the path
    for c in ("simulate", "tci"):
        r = as_role["nurse"].get(
            f"/tools/{c}", params={"model": str(target), "dose": "1 mg/kg", "target": "1 ug/mL"}
        )
        assert r.status_code == 422 and "model: " in r.text and 'id="figure"' not in r.text


def test_simulator_caps_doses_and_time(app: Any, as_role: dict[str, Any]) -> None:
    c = as_role["nurse"]
    r = c.get(
        "/tools/simulate", params={"model": "domino-1982", "dose": "1 mg/kg every 1min x 1000000"}
    )
    assert (
        r.status_code == 422 and f"dose: 1000000 doses; accepted at most {lim.MAX_DOSES}" in r.text
    )
    r = c.get("/tools/simulate", params={"model": "domino-1982", "dose": "1 mg/kg", "until": "30d"})
    assert r.status_code == 422 and "until: accepted up to 7 days" in r.text
    r = c.get(
        "/tools/simulate", params={"model": "domino-1982", "dose": "1 mg/kg", "weight_kg": "1e9"}
    )
    assert r.status_code == 422 and r.json()["field"] == "weight_kg"
    r = c.get("/tools/simulate", params={"model": "domino-1982", "dose": "x" * 1500})
    assert r.status_code == 422 and r.json()["field"] == "dose"


def test_tci_caps_target_steps(app: Any, as_role: dict[str, Any]) -> None:
    steps = "; ".join(f"{1 + i % 3} ug/mL at {i}min" for i in range(1, 40))
    r = as_role["nurse"].get(
        "/tools/tci", params={"model": "domino-1982", "target": f"1 ug/mL; {steps}"}
    )
    assert r.status_code == 422 and f"accepted at most {lim.MAX_TARGETS}" in r.text


@pytest.mark.parametrize(
    "edit,field",
    [
        (("n = 300", "n = 100000"), "n: "),
        (('model = "perez-ruixo"', 'model = "/etc/shadow"'), "arms[0].model"),
        (('every = "30min"', 'every = "1min"'), "outputs: 20161 output times; accepted at most"),
        (("n = 300", "n = 2000"), "values; accepted at most"),  # with every = 10min, below
        (('kind = "parametric"', 'kind = "csv"'), "population.kind"),
        (("seed = 1", "seed = 1\n[optimise]\nx = 1\n"), "optimise: "),
    ],
)
def test_trial_caps(app: Any, as_role: dict[str, Any], edit: tuple[str, str], field: str) -> None:
    spec = DEFAULT_TRIAL.replace(*edit)
    if "n = 2000" in spec:  # 2000 patients x 2 arms x 2017 times: over the work limit
        spec = spec.replace('every = "30min"', 'every = "10min"')
    r = as_role["nurse"].post("/tools/trial", data={"spec": spec}, follow_redirects=False)
    assert r.status_code == 422 and field in r.text, r.text[-600:]


def test_trial_spec_size_is_capped(app: Any, as_role: dict[str, Any]) -> None:
    spec = DEFAULT_TRIAL + "#" * lim.MAX_SPEC_CHARS
    r = as_role["nurse"].post("/tools/trial", data={"spec": spec}, follow_redirects=False)
    assert r.status_code == 422 and f"accepted at most {lim.MAX_SPEC_CHARS}" in r.text


def test_trial_job_owner_limit_and_time_limit(app: Any, as_role: dict[str, Any]) -> None:
    jobs = app.state.jobs
    jobs.timeout_s = 4.0
    c = as_role["nurse"]
    with app.state.db.read() as s:
        from ketasim.clinic.db.models import User

        uid = s.query(User).filter_by(username="nurse").one().id
    # far past the page's caps (submitted directly), so the limit is what ends it: 2 arms x
    # 10^6 patients x 673 output times is minutes of one core; 2000 and then 6000 patients
    # finished inside 4 s once the trial kernel got faster
    big = tomllib.loads(DEFAULT_TRIAL.replace("n = 300", "n = 1000000"))
    pending = [jobs.submit(uid, "big", run_trial_job, big) for _ in range(2)]
    small = DEFAULT_TRIAL.replace("n = 300", "n = 20")
    r = c.post("/tools/trial", data={"spec": small}, follow_redirects=False)
    assert r.status_code == 429 and "at most 2 of your jobs" in r.text
    page = f"/tools/trial/jobs/{pending[0].id}"
    assert as_role["prescriber"].get(page).status_code == 404  # someone else's job
    assert c.get(page).status_code == 200
    for job in pending:
        r = _wait(c, f"/tools/trial/jobs/{job.id}", timeout_s=60)
        assert "failed" in r.text and "run time: over the limit of 4 s" in r.text
