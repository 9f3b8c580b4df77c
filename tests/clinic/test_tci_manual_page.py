"""The web TCI page offers the manual scheme and a printable PDF (issue 14)."""

from __future__ import annotations

import html
from typing import Any

import pytest

from ketasim.catalogue import resolve_model
from ketasim.patient import Patient
from ketasim.tci import ManualSettings, parse_targets, plan_manual

PARAMS = {
    "model": "domino-1982",
    "target": "1 ug/mL",
    "duration": "60min",
    "site": "effect",
    "weight_kg": "70",
    "age_years": "40",
    "syringe": "10 mg/mL",
    "rate_step": "0.5 mL/h",
    "max_changes": "7",
    "loading_bolus": "true",
}


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
def test_manual_page_and_pdf(app: Any, as_role: dict[str, Any]) -> None:
    c = as_role["nurse"]
    r = c.get("/tools/tci/manual", params=PARAMS)
    assert r.status_code == 200 and 'id="scheme"' in r.text and 'id="pdf-manual"' in r.text
    # the page shows the scheme the library computes for the same input
    scheme = plan_manual(
        resolve_model("domino-1982"),
        Patient(weight_kg=70.0, age_years=40.0),
        parse_targets("1 ug/mL"),
        duration_min=60.0,
        settings=ManualSettings(loading_bolus=True),
    )
    text = html.unescape(r.text)
    for row in scheme.actions():
        assert row["action"] in text
    href = html.unescape(r.text.split('id="pdf-manual" target="_blank" href="')[1].split('"')[0])
    pdf = c.get(href)
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF") and b"DejaVu" in pdf.content
    # the TCI page links its own PDF
    r = c.get("/tools/tci", params={k: PARAMS[k] for k in ("model", "target", "duration")})
    assert r.status_code == 200 and 'id="pdf-tci"' in r.text
    tci_pdf = c.get("/tools/tci/report.pdf", params={**PARAMS, "manual": "false"})
    assert tci_pdf.status_code == 200 and tci_pdf.content.startswith(b"%PDF")


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
@pytest.mark.parametrize(
    ("field", "value"),
    [("rate_step", "0 mL/h"), ("max_changes", "0"), ("duration", "3d"), ("model", "nope")],
)
def test_bad_input_is_a_clear_error_not_a_500(
    app: Any, as_role: dict[str, Any], field: str, value: str
) -> None:
    c = as_role["nurse"]
    # a page error (id="error"), or the query validation's JSON naming the field
    named = ('id="error"', f'"field":"{field}"')
    r = c.get("/tools/tci/manual", params={**PARAMS, field: value})
    assert r.status_code == 422 and any(n in r.text for n in named)
    r = c.get("/tools/tci/report.pdf", params={**PARAMS, field: value})
    assert r.status_code == 422 and any(n in r.text for n in named)


#: the slow case the last pass found: 20 target steps x 30 rate changes over 6 h took 66 s
SLOW = {
    **PARAMS,
    "duration": "6h",
    "max_changes": "30",
    "target": "; ".join(f"{0.5 + (i % 4) * 0.5:g} ug/mL at {i * 18}min" for i in range(20)),
}


def test_manual_search_time_limit_names_the_field() -> None:
    from ketasim.errors import InputError

    args = (resolve_model("domino-1982"), Patient(weight_kg=70.0, age_years=40.0))
    with pytest.raises(InputError) as err:
        plan_manual(*args, parse_targets("1 ug/mL"), duration_min=60.0, time_limit_s=0.0)
    assert err.value.field == "max_changes" and "0 s allowed" in str(err.value)


@pytest.mark.parametrize("settings", ["sqlite"], indirect=True)
@pytest.mark.parametrize("path", ["/tools/tci/manual", "/tools/tci/report.pdf"])
def test_slow_manual_scheme_is_answered_within_seconds(as_role: dict[str, Any], path: str) -> None:
    import time

    from ketasim.clinic.web.tool_limits import MAX_MANUAL_SECONDS

    t = time.monotonic()
    r = as_role["nurse"].get(path, params=SLOW)
    elapsed = time.monotonic() - t
    # the reference plan, the figure and the page come on top of the search's limit
    assert elapsed < MAX_MANUAL_SECONDS + 6.0, elapsed
    assert r.status_code in (200, 422), r.text
    if r.status_code == 422:
        assert "max_changes" in r.text and "ran past" in r.text
