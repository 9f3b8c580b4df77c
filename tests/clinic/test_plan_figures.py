"""Issue 12 (speed): the plan page's figures are separate, cacheable resources (ETag, private
cache), decoded once per process; access control and the read log are those of the plan page."""

from __future__ import annotations

import base64
import re
from typing import Any

import pytest
from clinic_support import ok, patient_with_plan
from sqlalchemy import select

from ketasim.clinic.db.models import AccessLog, PlanPrediction


def _figure_urls(html: str) -> list[str]:
    return re.findall(r'<img class="figure" alt="[^"]*" src="([^"]+)"', html)


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
def test_plan_figures_are_the_stored_pngs_with_etag(app: Any, as_role: dict[str, Any]) -> None:
    pid, plan_id = patient_with_plan(as_role, protocol="depression-iv-course")
    nurse = as_role["nurse"]
    page = nurse.get(f"/plans/{plan_id}")
    assert page.status_code == 200 and "data:image/png" not in page.text
    urls = _figure_urls(page.text)
    with app.state.db.read() as s:
        stored = s.get(PlanPrediction, plan_id)
        assert stored is not None
        expected = [base64.b64decode(v) for v in stored.figures.values()]
        captions = list(stored.figures)
    assert len(urls) == len(expected) >= 2
    for caption in captions:
        assert f'alt="{caption}"' in page.text
    etags = []
    for url, png in zip(urls, expected, strict=True):
        r = nurse.get(url)
        assert r.status_code == 200 and r.headers["content-type"] == "image/png"
        assert r.content == png  # byte for byte the figure stored with the prediction
        assert r.headers["cache-control"].startswith("private")
        etags.append(r.headers["etag"])
        again = nurse.get(url, headers={"If-None-Match": r.headers["etag"]})
        assert again.status_code == 304 and again.content == b""
    assert len(set(etags)) == len(etags)
    # no such figure: 404 naming the range; not an integer: 422
    r = nurse.get(f"/plans/{plan_id}/figures/{len(urls)}.png")
    assert r.status_code == 404 and "figure" in r.text
    assert nurse.get(f"/plans/{plan_id}/figures/x.png").status_code == 422
    # the inputs change: a new prediction, new ETags, the old one no longer matches
    ok(nurse.patch(f"/api/v1/patients/{pid}", json={"weight_kg": 95.0}))
    page2 = nurse.get(f"/plans/{plan_id}")
    urls2 = _figure_urls(page2.text)
    assert urls2 != urls
    r = nurse.get(urls2[0], headers={"If-None-Match": etags[0]})
    assert r.status_code == 200 and r.headers["etag"] != etags[0]
    with app.state.db.read() as s:
        stored2 = s.get(PlanPrediction, plan_id)
        assert stored2 is not None
        assert r.content == base64.b64decode(next(iter(stored2.figures.values())))


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
def test_plan_figure_access_and_read_log(app: Any, as_role: dict[str, Any], client: Any) -> None:
    _, plan_id = patient_with_plan(as_role, protocol="depression-iv-course")
    url = _figure_urls(as_role["prescriber"].get(f"/plans/{plan_id}").text)[0]
    # not logged in: no figure (the same refusal as the plan page itself)
    anon = client.get(url, follow_redirects=False)
    page = client.get(f"/plans/{plan_id}", follow_redirects=False)
    assert anon.status_code == page.status_code and anon.status_code in (303, 401, 403)
    assert not anon.content.startswith(b"\x89PNG")
    # an unknown plan: 404, also for its figures
    assert as_role["nurse"].get(f"/plans/{plan_id + 99}/figures/0.png").status_code == 404
    # every role that may open the plan page may load its figures; the read is logged
    app.state.access.flush()
    with app.state.db.read() as s:
        before = s.execute(select(AccessLog.id)).all()
    assert as_role["auditor"].get(url).status_code == 200
    app.state.access.flush()
    with app.state.db.read() as s:
        rows = (
            s.execute(select(AccessLog).where(AccessLog.id > max([0, *[b[0] for b in before]])))
            .scalars()
            .all()
        )
        logged = [(r.username, r.entity, r.entity_id) for r in rows]
    assert ("auditor", "treatment_plans", str(plan_id)) in logged
    assert ok(as_role["auditor"].get("/api/v1/audit/verify"))["intact"] is True
