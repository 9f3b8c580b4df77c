"""Pages that open the computational side to people who do not use Python: the simulator
(model, patient, regimen -> concentrations), the plan (protocol + patient -> findings, doses,
predicted curves) and TCI. They call the same functions as ``ketasim simulate``, ``ketasim plan``
and ``ketasim tci``; nothing is written to the records (GET forms, no CSRF needed).

Inputs are bounded (:mod:`ketasim.clinic.web.tool_limits`): catalogue models by id only, capped
doses, output times, patients and arms, each refusal a 422 naming the field and the limit. The
virtual trial runs as a background job (:mod:`ketasim.clinic.jobs`) with a progress page."""

from __future__ import annotations

import base64
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, Depends, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from ketasim.catalogue import available_models
from ketasim.clinic.api.deps import ALL_ROLES, FormIn, require
from ketasim.clinic.auth import CurrentUser
from ketasim.clinic.jobs import JobLimit
from ketasim.clinic.web import tool_limits as lim
from ketasim.clinic.web.pages import render
from ketasim.errors import KetasimError
from ketasim.patient import Patient
from ketasim.regimens.protocols import available_protocols

__all__ = ["DEFAULT_TRIAL", "router"]

MAX_TRIAL_N = lim.MAX_TRIAL_N
DEFAULT_TRIAL = """# Two esketamine arms over a 2-week induction (spec format of `ketasim trial`)
title = "Esketamine 56 vs 84 mg twice weekly, 2 weeks"
n = 300
seed = 1

[population]
kind = "parametric"
source = "ASSUMED illustrative adult population (not from a survey)"
female_fraction = 0.6
[population.female.weight_kg]
median = 72
cv_percent = 22
min = 40
max = 160
[population.female.age_years]
mean = 45
sd = 13
min = 18
max = 75
[population.male.weight_kg]
median = 85
cv_percent = 20
min = 45
max = 170
[population.male.age_years]
mean = 45
sd = 13
min = 18
max = 75

[outputs]
until = "14d"
every = "30min"
percentiles = [5, 50, 95]

[[arms]]
name = "esketamine 56 mg twice weekly"
model = "perez-ruixo"
regimen = "56 mg intranasal every 84h x 4"

[[arms]]
name = "esketamine 84 mg twice weekly"
model = "perez-ruixo"
regimen = "84 mg intranasal every 84h x 4"

[[endpoints]]
name = "esketamine_cmax"
kind = "cmax"
output = "esketamine_plasma"
"""

router = APIRouter(include_in_schema=False)
Anyone = Annotated[CurrentUser, Depends(require(*ALL_ROLES))]
MAX_MIN = 7 * 1440.0
Weight = Annotated[float, Query(ge=1.0, le=400.0, description="kg")]
Age = Annotated[float | None, Query(ge=0.0, le=120.0, description="years")]
Height = Annotated[float | None, Query(ge=30.0, le=250.0, description="cm")]
Short = Annotated[str, Query(max_length=200)]
Text = Annotated[str, Query(max_length=1000)]
Changes = Annotated[int, Query(ge=1, le=30, description="rate changes of a manual scheme")]


def _png(draw: Callable[[Path], object]) -> str:
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "figure.png"
        draw(path)
        return base64.b64encode(path.read_bytes()).decode("ascii")


def _patient(weight: float, age: float | None, height: float | None, sex: str | None) -> Patient:
    return Patient(
        weight_kg=weight,
        age_years=age,
        height_cm=height,
        sex=sex if sex in ("female", "male") else None,  # type: ignore[arg-type]
    )


def _models() -> list[str]:
    return [m if isinstance(m, str) else m.id for m in available_models()]


@router.get("/tools/simulate", response_class=HTMLResponse)
def simulate_page(
    request: Request,
    user: Anyone,
    model: Short = "domino-1982",
    dose: Text = "",
    route: Short = "iv",
    over: Short = "",
    weight_kg: Weight = 70.0,
    age_years: Age = 40.0,
    height_cm: Height = None,
    sex: Short = "",
    until: Short = "6h",
    compare: Text = "",
) -> HTMLResponse:
    """Simulator: as ``ketasim simulate --model --dose --route --over --until --plot``;
    ``compare`` (catalogue model ids, or ``all``) overlays several models as ``ketasim compare``."""
    from ketasim.pk import simulate
    from ketasim.regimens import parse_regimen
    from ketasim.report.plots import plot_concentrations
    from ketasim.units import parse_duration_min

    ctx: dict[str, object] = {
        "models": _models(),
        "q": dict(request.query_params),
        "model": model,
        "route": route,
        "until": until,
    }
    if dose:
        try:
            m = lim.catalogue_model(model)
            lim.check_doses(dose)
            regimen = parse_regimen(dose, route=route, over=over or None)
            if len(regimen) > lim.MAX_DOSES:
                raise lim.ToolInputError(
                    "dose",
                    f"{len(regimen)} doses; accepted at most "
                    f"{lim.MAX_DOSES} per regimen on this page",
                )
            end = parse_duration_min(until, field="until")
            if not 0 < end <= MAX_MIN:
                raise KetasimError(f"until: accepted up to {MAX_MIN / 1440:g} days")
            lim.check_time_points(int(end) + 1, field="until")
            res = simulate(
                m,
                _patient(weight_kg, age_years, height_cm, sex),
                regimen,
                times_min=np.arange(0.0, end + 1.0, 1.0),
            )
            title = f"{m.title}\n" + "; ".join(d.describe() for d in regimen)
            ctx["figure"] = _png(lambda p: plot_concentrations(res, p, title=title))
            ctx["findings"] = list(res.findings)
            frame = res.to_dataframe()
            ctx["peaks"] = {c: float(frame[c].max()) for c in frame.columns if c != "time_min"}
            if compare.strip():
                _compare_overlay(ctx, m, compare, res.patient, regimen, res.times_min)
        except KetasimError as exc:
            ctx["error"] = str(exc)
            return render(request, "tool_simulate.html", ctx, status_code=422)
    return render(request, "tool_simulate.html", ctx)


@router.get("/tools/tci", response_class=HTMLResponse)
def tci_page(
    request: Request,
    user: Anyone,
    model: Short = "domino-1982",
    target: Text = "",
    duration: Short = "60min",
    site: Short = "effect",
    weight_kg: Weight = 70.0,
    age_years: Age = 40.0,
    height_cm: Height = None,
    sex: Short = "",
) -> HTMLResponse:
    """TCI: as ``ketasim tci --model --target --duration --site --plot``."""
    from ketasim.report.tci_plots import plot_tci
    from ketasim.tci import parse_pump, parse_targets, plan_tci
    from ketasim.units import parse_duration_min

    ctx: dict[str, object] = {
        "models": _models(),
        "q": dict(request.query_params),
        "model": model,
        "site": site,
    }
    if target:
        try:
            m = lim.catalogue_model(model)
            minutes = parse_duration_min(duration, field="duration")
            if not 0 < minutes <= 1440:
                raise KetasimError("duration: accepted up to 24 h")
            targets = parse_targets(target, field="target")
            if len(targets.steps) > lim.MAX_TARGETS:
                raise lim.ToolInputError(
                    "target", f"{len(targets.steps)} steps; accepted at most {lim.MAX_TARGETS}"
                )
            plan = plan_tci(
                m,
                _patient(weight_kg, age_years, height_cm, sex),
                targets,
                duration_min=minutes,
                site="plasma" if site == "plasma" else "effect",
                pump=parse_pump("10 mg/mL", "1200 mL/h", "10s"),
            )
            ctx["figure"] = _png(
                lambda p: plot_tci(plan, p, title=f"{m.id}: {site}-site TCI, {target}")
            )
            ctx["findings"] = list(plan.findings)
            ctx["total_mg"] = plan.total_mg
        except KetasimError as exc:
            ctx["error"] = str(exc)
            return render(request, "tool_tci.html", ctx, status_code=422)
    return render(request, "tool_tci.html", ctx)


@router.get("/tools/plan", response_class=HTMLResponse)
def plan_tool_page(
    request: Request,
    user: Anyone,
    protocol: Short = "",
    age_years: Annotated[float, Query(ge=0.0, le=120.0)] = 45.0,
    weight_kg: Weight = 70.0,
    sex: Short = "",
    sbp_mmhg: Annotated[float | None, Query(ge=40.0, le=300.0)] = None,
    dbp_mmhg: Annotated[float | None, Query(ge=20.0, le=200.0)] = None,
) -> HTMLResponse:
    """Plan: as ``ketasim plan --protocol --patient`` (a patient typed in, not a record)."""
    from ketasim.report.plan_report import plan_figures
    from ketasim.safety import default_rules, make_plan, parse_patient_record

    ctx: dict[str, object] = {
        "protocols": available_protocols(),
        "q": dict(request.query_params),
        "protocol": protocol,
    }
    if protocol:
        try:
            proto = next((p for p in available_protocols() if p.id == protocol), None)
            if proto is None:
                raise KetasimError(f"protocol: unknown {protocol!r}")
            data: dict[str, object] = {"age_years": age_years, "weight_kg": weight_kg}
            if sex:
                data["sex"] = sex
            if sbp_mmhg is not None and dbp_mmhg is not None:
                data.update(sbp_mmhg=sbp_mmhg, dbp_mmhg=dbp_mmhg)
            rules = default_rules()
            plan = make_plan(
                proto,
                parse_patient_record(data, rules),
                rules=rules,
                n_samples=request.app.state.settings.plan_samples,
                rng=1,
            )
            ctx.update(plan=plan, figures=plan_figures(plan))
        except KetasimError as exc:
            ctx["error"] = str(exc)
            return render(request, "tool_plan.html", ctx, status_code=422)
    return render(request, "tool_plan.html", ctx)


def run_trial_job(data: dict[str, Any], progress: Any) -> dict[str, Any]:
    """The trial page's job (in a child process): run, plot and summarise one spec."""
    from ketasim.population import run_trial
    from ketasim.population.spec import parse_trial_spec
    from ketasim.report.trial_plots import plot_bands

    spec = parse_trial_spec(data)
    result = run_trial(spec, scheduler="local:1", progress=progress)
    return {
        "figure": _png(
            lambda p: plot_bands(
                result.summary, p, title=spec.title, variability=result.variability
            )
        ),
        "endpoints": result.endpoints.round(4).to_dict(orient="records"),
        "findings": [
            {"severity": f.severity, "message": f.message, "source": f.source}
            for f in result.findings
        ],
        "variability": dict(result.variability),
    }


@router.get("/tools/trial", response_class=HTMLResponse)
def trial_page(request: Request, user: Anyone) -> HTMLResponse:
    """Virtual trial form (a spec in the format of ``ketasim trial``)."""
    return render(request, "tool_trial.html", {"spec": DEFAULT_TRIAL})


@router.post("/tools/trial", response_class=HTMLResponse)
def trial_run(request: Request, user: Anyone, form: FormIn) -> Response:
    """Queue a virtual trial (as ``ketasim trial SPEC``, bounded) and go to its progress page."""
    import tomllib

    from ketasim.population.spec import parse_trial_spec

    raw = form.get("spec")
    text = raw if isinstance(raw, str) else ""
    ctx: dict[str, object] = {"spec": text[: lim.MAX_SPEC_CHARS]}
    try:
        if len(text) > lim.MAX_SPEC_CHARS:
            raise lim.ToolInputError(
                "spec", f"{len(text)} characters; accepted at most {lim.MAX_SPEC_CHARS}"
            )
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise KetasimError(f"spec: not valid TOML: {exc}") from None
        lim.check_trial_data(data)
        spec = parse_trial_spec(data)
        lim.check_trial_size(spec.n, len(spec.arms), int(spec.outputs.grid().size))
        job = request.app.state.jobs.submit(user.id, spec.title, run_trial_job, data)
    except KetasimError as exc:
        ctx["error"] = str(exc)
        return render(request, "tool_trial.html", ctx, status_code=422)
    except JobLimit as exc:
        ctx["error"] = str(exc)
        return render(request, "tool_trial.html", ctx, status_code=429)
    return RedirectResponse(f"/tools/trial/jobs/{job.id}", status_code=303)


@router.get("/tools/trial/jobs/{job_id}", response_class=HTMLResponse)
def trial_job_page(
    request: Request, user: Anyone, job_id: Annotated[str, PathParam(max_length=40)]
) -> HTMLResponse:
    """A trial job's progress, then its results (the owner's jobs only)."""
    job = request.app.state.jobs.get(job_id)
    if job is None or job.owner_id != user.id:
        return render(
            request,
            "tool_trial.html",
            {"spec": DEFAULT_TRIAL},
            status_code=404,
            error=f"job {job_id[:40]!r} not found (jobs are kept in memory until the "
            "server restarts)",
        )
    ctx: dict[str, object] = {"job": job, "timeout_s": request.app.state.jobs.timeout_s}
    if job.result is not None:
        ctx.update(job.result)
    if job.state == "failed":
        ctx["error"] = job.error
    return render(request, "tool_trial_job.html", ctx)


def _compare_overlay(
    ctx: dict[str, object],
    model: object,
    compare: str,
    patient: Patient,
    regimen: object,
    times: np.ndarray,
) -> None:
    """Add the ``ketasim compare`` overlay and summary of ``model`` and the ``compare`` models
    (comma-separated ids, or ``all`` for every model of the same drug valid for the patient)."""
    from ketasim.catalogue.schema import ModelSpec
    from ketasim.catalogue.select import select_models
    from ketasim.pk import Regimen
    from ketasim.report.compare_plots import plot_comparison
    from ketasim.validation.compare import compare_models

    assert isinstance(model, ModelSpec) and isinstance(regimen, Regimen)
    routes = {d.route for d in regimen}
    if compare.strip().lower() == "all":
        others = [
            o
            for o in select_models(
                weight_kg=patient.weight_kg, age_years=patient.age_years, population=model.setting
            )
            if o.drug == model.drug and routes <= set(o.route_names)
        ]
    else:
        names = [n.strip() for n in compare.split(",") if n.strip()]
        if len(names) > 12:
            raise lim.ToolInputError("compare", f"{len(names)} models; accepted at most 12")
        others = [lim.catalogue_model(n, field="compare") for n in names]
    chosen = [model, *[o for o in others if o.id != model.id]][:12]
    comparison = compare_models(
        chosen, patient, regimen, times_min=times, allow_extrapolation=False
    )
    ctx["compare_figure"] = _png(lambda p: plot_comparison(comparison, p))
    ctx["compare_summary"] = comparison.summary()


# --- manual schemes and printable TCI reports (issue 14) -------------------------------------


@dataclass(frozen=True)
class ManualQuery:
    """The query of the manual-scheme page and of its PDF (the options of ``ketasim tci
    --manual``)."""

    model: str
    target: str
    duration: str
    site: str
    weight_kg: float
    age_years: float | None
    height_cm: float | None
    sex: str
    syringe: str
    rate_step: str
    max_changes: int
    loading_bolus: bool
    boluses: bool


def manual_query(
    model: Short = "domino-1982",
    target: Text = "",
    duration: Short = "60min",
    site: Short = "effect",
    weight_kg: Weight = 70.0,
    age_years: Age = 40.0,
    height_cm: Height = None,
    sex: Short = "",
    syringe: Short = "10 mg/mL",
    rate_step: Short = "0.5 mL/h",
    max_changes: Changes = 7,
    loading_bolus: bool = False,
    boluses: bool = False,
) -> ManualQuery:
    """The query of the manual-scheme page and its PDF, bounded (a dependency)."""
    return ManualQuery(
        model,
        target,
        duration,
        site,
        weight_kg,
        age_years,
        height_cm,
        sex,
        syringe,
        rate_step,
        max_changes,
        loading_bolus,
        boluses,
    )


Manual = Annotated[ManualQuery, Depends(manual_query)]


def _manual_scheme(q: ManualQuery) -> object:
    """As ``ketasim tci --manual`` (or ``--boluses``); the pump maximum is the CLI default."""
    from ketasim.tci import parse_pump, parse_targets, plan_manual
    from ketasim.tci.manual_lp import parse_manual_settings
    from ketasim.units import parse_duration_min

    minutes = parse_duration_min(q.duration, field="duration")
    if not 0 < minutes <= 1440:
        raise KetasimError("duration: accepted up to 24 h")
    settings = parse_manual_settings(
        boluses=q.boluses,
        max_changes=q.max_changes,
        rate_step=q.rate_step,
        time_step="5min",
        loading_bolus=q.loading_bolus and not q.boluses,
        bolus_step="1 mg",
        settle="10min",
        max_overshoot=None,
    )
    targets = parse_targets(q.target, field="target")
    if len(targets.steps) > lim.MAX_TARGETS:
        raise lim.ToolInputError(
            "target", f"{len(targets.steps)} steps; accepted at most {lim.MAX_TARGETS}"
        )
    return plan_manual(
        lim.catalogue_model(q.model),
        _patient(q.weight_kg, q.age_years, q.height_cm, q.sex),
        targets,
        duration_min=minutes,
        site="plasma" if q.site == "plasma" else "effect",
        pump=parse_pump(q.syringe, "1200 mL/h", "10s"),
        settings=settings,
    )


@router.get("/tools/tci/manual", response_class=HTMLResponse)
def tci_manual_page(request: Request, user: Anyone, q: Manual) -> HTMLResponse:
    """Manual scheme for an ordinary pump: as ``ketasim tci --manual`` (``--boluses``)."""
    from urllib.parse import urlencode

    from ketasim.report.tci_plots import plot_manual
    from ketasim.tci import ManualScheme

    ctx: dict[str, object] = {
        "models": _models(),
        "q": dict(request.query_params),
        "model": q.model,
        "site": q.site,
        "manual": True,
    }
    if q.target:
        try:
            scheme = _manual_scheme(q)
            assert isinstance(scheme, ManualScheme)
            ctx["figure"] = _png(
                lambda p: plot_manual(
                    scheme, p, title=f"{scheme.model_id}: {q.site}-site target {q.target}"
                )
            )
            ctx["findings"] = list(scheme.findings)
            ctx["scheme_rows"] = scheme.actions()
            ctx["pdf_query"] = urlencode({**dict(request.query_params), "manual": "1"})
        except KetasimError as exc:
            ctx["error"] = str(exc)
            return render(request, "tool_tci.html", ctx, status_code=422)
    return render(request, "tool_tci.html", ctx)


@router.get("/tools/tci/report.pdf", response_model=None)
def tci_report_pdf(request: Request, user: Anyone, q: Manual, manual: bool = True) -> Response:
    """The printable PDF of the page's scheme (manual) or TCI plan, as ``--report file.pdf``;
    without a ``target`` in the query, 1 ug/mL."""
    from ketasim.report.tci_pdf import write_manual_pdf, write_tci_pdf
    from ketasim.tci import ManualScheme, parse_pump, parse_targets, plan_tci
    from ketasim.units import parse_duration_min

    if "target" not in request.query_params:
        q = replace(q, target="1 ug/mL")
    try:
        with tempfile.TemporaryDirectory() as d:
            path = Path(d) / "report.pdf"
            if manual or q.boluses:
                scheme = _manual_scheme(q)
                assert isinstance(scheme, ManualScheme)
                write_manual_pdf(scheme, path)
            else:
                minutes = parse_duration_min(q.duration, field="duration")
                if not 0 < minutes <= 1440:
                    raise KetasimError("duration: accepted up to 24 h")
                plan = plan_tci(
                    lim.catalogue_model(q.model),
                    _patient(q.weight_kg, q.age_years, q.height_cm, q.sex),
                    parse_targets(q.target, field="target"),
                    duration_min=minutes,
                    site="plasma" if q.site == "plasma" else "effect",
                    pump=parse_pump(q.syringe, "1200 mL/h", "10s"),
                )
                write_tci_pdf(plan, path, title=f"{plan.model_id}: {q.site}-site TCI, {q.target}")
            data = path.read_bytes()
    except KetasimError as exc:
        return render(
            request,
            "tool_tci.html",
            {
                "models": _models(),
                "model": q.model,
                "site": q.site,
                "q": dict(request.query_params),
                "error": str(exc),
            },
            status_code=422,
        )
    return Response(
        content=data,
        media_type="application/pdf",
        headers={"Content-Disposition": 'inline; filename="ketasim-tci.pdf"'},
    )
