"""Issue 12, item 8: a plan's predicted curves are computed once, when the plan is made (or its
inputs change), and stored; viewing the plan page does not simulate again."""

from __future__ import annotations

from typing import Any

import pytest
from clinic_support import ok, patient_with_plan

from ketasim.clinic.db.models import PlanPrediction
from ketasim.clinic.services import plans


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
def test_plan_page_does_not_resimulate(
    app: Any, as_role: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    pid, plan_id = patient_with_plan(as_role, protocol="depression-iv-course")
    with app.state.db.read() as s:
        stored = s.get(PlanPrediction, plan_id)
        assert stored is not None and stored.figures  # made with the plan
    calls: list[int] = []
    real = plans.predict

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(plans, "predict", counted)
    for _ in range(3):
        r = as_role["nurse"].get(f"/plans/{plan_id}")
        assert r.status_code == 200 and "Predicted concentrations" in r.text
    assert calls == []
    # the patient's weight changes: the prediction is made again, once
    ok(as_role["nurse"].patch(f"/api/v1/patients/{pid}", json={"weight_kg": 95.0}))
    for _ in range(2):
        assert as_role["nurse"].get(f"/plans/{plan_id}").status_code == 200
    assert calls == [1]
    assert ok(as_role["auditor"].get("/api/v1/audit/verify"))["intact"] is True
