"""MAP Bayesian individualisation with a Laplace posterior.

Random effects ``eta ~ N(0, Omega)`` come from the model's ``[iiv]`` (with correlations); the
fit works on standardised ``u`` (``eta = L u``, ``L L' = Omega``), so the prior term is
``u'u``. The objective (-2 log posterior up to a constant) over all observed analytes jointly:

    OFV(u) = sum_i r_i(u)^2 + 2 sum_i log sd_i(u) + u'u,   r_i = (y_i - f_i) / sd_i

(on the log scale ``r_i = (log y_i - log f_i) / sigma`` with constant ``sd``). The MAP
estimate minimises OFV (BFGS from the typical patient). The posterior is approximated by a
normal distribution at the MAP (Laplace) with the Gauss-Newton Hessian of OFV/2,
``H = J'J + I`` (``J = dr/du`` by finite differences), so ``Cov(u) = H^-1``. Prediction bands
propagate that covariance to log concentrations (delta method), or sample it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from scipy.optimize import minimize
from scipy.special import log_ndtr

from ketasim.catalogue.schema import ModelSpec
from ketasim.errors import DataFileError, InputError
from ketasim.estimation.problem import (
    FD_STEP,
    ZERO_NG_PER_ML,
    FitPart,
    FitProblem,
    InputsLike,
)
from ketasim.estimation.records import (
    RecordLike,
    analyte_of,
    check_records,
    is_censored,
    lloq_of,
)
from ketasim.estimation.residual import ResidualErrorModel, residual_errors_for
from ketasim.estimation.result import (
    Z90,
    FitRow,
    IndividualFit,
    ParameterEstimate,
    Prediction,
)
from ketasim.findings import Finding
from ketasim.patient import Patient
from ketasim.pk.simulate import check_validity, refuse_extrapolation
from ketasim.pk.system import individual_parameters
from ketasim.types import FloatArray

__all__ = [
    "FitPart",
    "FitRow",
    "IndividualFit",
    "ParameterEstimate",
    "Prediction",
    "RecordLike",
    "fit_individual",
]


def fit_individual(
    model: ModelSpec,
    patient: Patient,
    inputs: InputsLike,
    records: Sequence[RecordLike],
    *,
    id: str = "1",
    residual_error: ResidualErrorModel | None = None,
    allow_extrapolation: bool = False,
    parts: Sequence[FitPart] | None = None,
) -> IndividualFit:
    """MAP estimate of one individual's random effects from measured concentrations.

    Parameters
    ----------
    model, patient:
        The model (its ``[iiv]`` gives the prior) and the patient's covariates.
    inputs:
        The doses as :class:`~ketasim.pk.SystemInputs`, or a function of the individual's
        :class:`~ketasim.pk.LinearSystem` returning them (when bioavailability or absorption
        carry random effects), e.g. ``lambda s: ketasim.io.individual_inputs(s, ind, ...)``.
    records:
        The individual's records (time min, DV ng/mL, MDV, EVID, analyte or CMT); observations
        are EVID 0 rows with MDV 0. Parent and metabolite levels are fitted jointly. A record
        with ``lloq_ng_per_ml`` and no DV (or a DV under it) is censored: M3 likelihood.
    residual_error:
        An assumed residual error model for every analyte (default: the model file's).
    allow_extrapolation:
        Covariates outside the model's ranges are warnings instead of errors.
    parts:
        Covariates that change during the data, or occasions (inter-occasion variability):
        the data cut into :class:`FitPart` s, each with its patient, doses and occasion (then
        ``inputs`` is not used and ``patient`` is the first part's). Solved exactly part by
        part, the state carried across; a model's ``[iov]`` adds one kappa per occasion label
        and IOV parameter to the estimated random effects.

    Returns
    -------
    IndividualFit
        Parameters, posterior covariance and a row per record with PRED, IPRED and a 90% band.
    """
    findings = check_validity(model, patient)
    for part in parts or []:
        findings += [f for f in check_validity(model, part.patient) if f not in findings]
    refuse_extrapolation(findings, allow=allow_extrapolation)
    if not model.iiv and not model.iov:
        raise InputError(
            "model",
            f"model {model.id} publishes no inter-individual "
            "variability, so there is no prior to individualise; choose a model "
            "with [iiv]",
        )
    check_records(records)
    problem = FitProblem(model, patient, inputs, parts)
    seen: set[int] = set()
    rows_in: list[RecordLike] = []
    for r in records:  # ADDL copies share their row number: one output row per file record
        if r.row not in seen:
            seen.add(r.row)
            rows_in.append(r)
    analytes_all = [analyte_of(r, model) for r in rows_in]
    obs = [
        i
        for i, r in enumerate(rows_in)
        if r.evid == 0 and r.mdv == 0 and (r.dv_ng_per_ml is not None or is_censored(r))
    ]
    obs_times = np.array([rows_in[i].time_min for i in obs])
    obs_analytes = [analytes_all[i] for i in obs]
    cens = np.array([is_censored(rows_in[i]) for i in obs], dtype=bool)
    y = np.array(
        [
            (lloq_of(rows_in[i]) if cens[k] else rows_in[i].dv_ng_per_ml) or 0.0
            for k, i in enumerate(obs)
        ],
        dtype=np.float64,
    )
    if cens.any():
        findings.append(
            Finding(
                "fit.m3",
                "info",
                f"{int(cens.sum())} observation(s) below "
                "the limit of quantification: M3 likelihood P(Y < LLOQ)",
                "Beal, J Pharmacokinet Pharmacodyn 2001;28:481-504",
            )
        )
    errors = residual_errors_for(
        model, set(obs_analytes) or {model.analyte_names[0]}, residual_error
    )
    for a, e in errors.items():
        if e.assumed:
            findings.append(
                Finding(
                    "fit.residual_error.assumed",
                    "info",
                    f"{a}: residual error {e.describe()}",
                    "user",
                )
            )
    prop = np.array([errors[a].proportional for a in obs_analytes])
    add = np.array([errors[a].additive_ng_per_ml for a in obs_analytes])
    log_mask = np.array([errors[a].log_scale for a in obs_analytes], dtype=bool)
    for i, k in enumerate(obs):
        if log_mask[i] and y[i] <= 0 and not cens[i]:
            raise DataFileError(
                "DV must be > 0 for a log-scale residual error (set MDV = 1 "
                "below the limit of quantification)",
                row=rows_in[k].row,
                column="DV",
            )
    logy = np.log(np.where(log_mask, np.maximum(y, 1e-300), 1.0))

    def residuals(u: FloatArray) -> tuple[FloatArray, FloatArray]:
        """Residuals; a censored observation's is sqrt(-2 log P(Y < LLOQ)) (M3), so that
        r'r + 2 sum(log sd of the measured) + u'u is the objective."""
        f = problem.conc(u, obs_times, obs_analytes)
        f_safe = np.maximum(f, 1e-12)
        sd = np.where(log_mask, prop, np.sqrt((prop * f_safe) ** 2 + add**2))
        r = np.where(
            log_mask, (logy - np.log(f_safe)) / np.where(log_mask, prop, 1.0), (y - f) / sd
        )
        if cens.any():
            r = np.where(cens, np.sqrt(np.maximum(-2.0 * log_ndtr(r), 0.0)), r)
        return r, np.where(cens, 1.0, sd)

    def ofv(u: FloatArray) -> float:
        r, sd = residuals(u)
        value = float(r @ r + 2.0 * np.sum(np.log(sd)) + u @ u)
        return value if np.isfinite(value) else 1e300

    n = len(problem.names)
    u0 = np.zeros(n)
    converged = True
    if obs:
        res = minimize(ofv, u0, method="BFGS", options={"gtol": 1e-4, "maxiter": 400})
        u_map = np.asarray(res.x, dtype=float)
        if not res.success:
            grad_ok = np.linalg.norm(res.jac) < 1e-2 if res.jac is not None else False
            converged = bool(grad_ok)
        r0, _ = residuals(u_map)
        J = np.zeros((r0.size, n))
        for k in range(n):
            du = np.zeros(n)
            du[k] = FD_STEP
            J[:, k] = (residuals(u_map + du)[0] - r0) / FD_STEP
        u_cov = np.linalg.inv(J.T @ J + np.eye(n))
        u_cov = 0.5 * (u_cov + u_cov.T)
    else:
        u_map, u_cov = u0, np.eye(n)
        findings.append(
            Finding(
                "fit.no_levels",
                "info",
                "no measured levels: the posterior is the prior (a priori prediction)",
                "ketasim.estimation",
            )
        )
    if not converged:
        findings.append(
            Finding(
                "fit.not_converged",
                "warn",
                f"ID {id}: the MAP search did not converge; estimates may be unreliable",
                "scipy.optimize.minimize BFGS",
            )
        )
    L = problem.L
    eta_map = L @ u_map
    eta_cov = L @ u_cov @ L.T
    fit = IndividualFit(
        id=id,
        model_id=model.id,
        parameters=_parameters(model, problem.parts[-1].patient, eta_map, eta_cov, problem),
        eta_names=tuple(problem.names),
        eta_map=eta_map,
        eta_cov=eta_cov,
        rows=(),
        residual_errors=errors,
        ofv=ofv(u_map),
        converged=converged,
        n_observations=len(obs),
        findings=tuple(findings),
        problem=problem,
        u_map=u_map,
        u_cov=u_cov,
    )
    return _with_rows(fit, rows_in, analytes_all, errors)


def _with_rows(
    fit: IndividualFit,
    rows_in: Sequence[RecordLike],
    analytes: list[str],
    errors: Mapping[str, ResidualErrorModel],
) -> IndividualFit:
    from dataclasses import replace

    assert fit.problem is not None
    times = np.array([r.time_min for r in rows_in])
    pred = fit.problem.conc(np.zeros(fit.u_map.size), times, analytes)
    pred = np.where(pred <= ZERO_NG_PER_ML, 0.0, pred)
    ipred, J = fit.problem.log_conc_jacobian(fit.u_map, times, analytes)
    sd = np.sqrt(np.maximum(np.einsum("ij,jk,ik->i", J, fit.u_cov, J), 0.0))
    rows = []
    for i, r in enumerate(rows_in):
        iwres = None
        is_obs = r.evid == 0 and r.mdv == 0 and r.dv_ng_per_ml is not None
        if is_obs and r.dv_ng_per_ml is not None:
            e = errors.get(analytes[i])
            if e is not None and ipred[i] > 0:
                if e.log_scale:
                    iwres = (
                        float(np.log(r.dv_ng_per_ml / ipred[i]) / e.proportional)
                        if r.dv_ng_per_ml > 0
                        else None
                    )
                else:
                    iwres = float(
                        (r.dv_ng_per_ml - ipred[i]) / e.sd_ng_per_ml(np.array([ipred[i]]))[0]
                    )
        rows.append(
            FitRow(
                r.row,
                float(r.time_min),
                analytes[i],
                int(r.evid),
                int(r.mdv),
                r.dv_ng_per_ml,
                float(pred[i]),
                float(ipred[i]),
                float(ipred[i] * np.exp(-Z90 * sd[i])),
                float(ipred[i] * np.exp(Z90 * sd[i])),
                iwres,
            )
        )
    return replace(fit, rows=tuple(rows))


def _parameters(
    model: ModelSpec, patient: Patient, eta: FloatArray, cov: FloatArray, problem: FitProblem
) -> dict[str, ParameterEstimate]:
    """Each parameter with IIV, then each (IOV parameter, occasion): MAP value and interval of
    the individual value (on an occasion: eta + kappa, whose variance adds the covariance)."""
    out: dict[str, ParameterEstimate] = {}
    typical_values = individual_parameters(model, patient.covariates())
    entries: list[tuple[str, str, FloatArray]] = []  # (key, parameter, weights over eta)
    for k, name in enumerate(problem.eta_names):
        w = np.zeros(eta.size)
        w[k] = 1.0
        entries.append((name, name, w))
    n_eta = len(problem.eta_names)
    for i, (name, _) in enumerate(problem.kappa_keys):
        w = np.zeros(eta.size)
        w[n_eta + i] = 1.0
        if name in problem.eta_names:
            w[problem.eta_names.index(name)] = 1.0
        entries.append((problem.names[n_eta + i], name, w))
    for key, name, w in entries:
        scale = model.variability_scale(name)
        if name in model.parameters:
            typical, unit = model.parameters[name].value, model.parameters[name].unit
        else:  # a derived value (covariate equation): internal units
            typical, unit = float(typical_values[name]), "internal (mg, L, min)"
        e = float(w @ eta)
        sd = float(np.sqrt(max(float(w @ cov @ w), 0.0)))

        def apply(e: float, typical: float = typical, scale: str = scale) -> float:
            if scale == "exponential":
                return float(typical * np.exp(e))
            if scale == "logit":
                lo = np.log(typical / (1.0 - typical)) + e
                return float(1.0 / (1.0 + np.exp(-lo)))
            return float(typical + e)

        out[key] = ParameterEstimate(
            apply(e), unit, typical, e, sd, apply(e - Z90 * sd), apply(e + Z90 * sd), scale
        )
    return out
