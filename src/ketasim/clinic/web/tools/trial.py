"""The virtual trial page: a spec in the format of ``ketasim trial``, bounded, run as a background
job (:mod:`ketasim.clinic.jobs`) with a progress page."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path as PathParam
from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from ketasim.clinic.api.deps import Anyone, FormIn
from ketasim.clinic.jobs import JobLimit
from ketasim.clinic.web import tool_limits as lim
from ketasim.clinic.web.render import render
from ketasim.clinic.web.tools.common import png, router
from ketasim.errors import KetasimError

__all__ = ["DEFAULT_TRIAL", "run_trial_job", "trial_job_page", "trial_page", "trial_run"]

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


def run_trial_job(data: dict[str, Any], progress: Any) -> dict[str, Any]:
    """The trial page's job (in a child process): run, plot and summarise one spec."""
    from ketasim.population import run_trial
    from ketasim.population.spec import parse_trial_spec
    from ketasim.report.trial_plots import plot_bands

    spec = parse_trial_spec(data)
    result = run_trial(spec, scheduler="local:1", progress=progress)
    return {
        "figure": png(
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
            error=f"job {job_id[:40]!r} not found (the clinic keeps the most recent finished "
            "jobs; older ones are removed)",
        )
    ctx: dict[str, object] = {"job": job, "timeout_s": request.app.state.jobs.timeout_s}
    if job.result is not None:
        ctx.update(job.result)
    if job.state == "failed":
        ctx["error"] = job.error
    return render(request, "tool_trial_job.html", ctx)
