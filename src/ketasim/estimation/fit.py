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

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

import numpy as np
from scipy.optimize import minimize
from scipy.special import log_ndtr
from scipy.stats import norm

from ketasim.catalogue.schema import ModelSpec
from ketasim.errors import DataFileError, InputError
from ketasim.estimation.predict import predict_piecewise, predict_states
from ketasim.estimation.residual import ResidualErrorModel, residual_errors_for
from ketasim.findings import Finding
from ketasim.patient import Patient
from ketasim.pk.events import SystemInputs
from ketasim.pk.piecewise import Segment
from ketasim.pk.simulate import check_validity, refuse_extrapolation
from ketasim.pk.system import LinearSystem, build_system, individual_parameters
from ketasim.pk.variability import omega_matrix
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

InputsLike = SystemInputs | Callable[[LinearSystem], SystemInputs]
_Z90 = float(norm.ppf(0.95))
_FD_STEP = 1e-5
_ZERO_NG_PER_ML = 1e-9  # below this a prediction is round-off around zero


class RecordLike(Protocol):
    """One record of an event table (as :class:`ketasim.io.EventRecord`), internal units."""

    @property
    def row(self) -> int: ...
    @property
    def time_min(self) -> float: ...
    @property
    def evid(self) -> int: ...
    @property
    def dv_ng_per_ml(self) -> float | None: ...
    @property
    def mdv(self) -> int: ...
    @property
    def analyte(self) -> str | None: ...
    @property
    def cmt(self) -> int | None: ...


@dataclass(frozen=True, slots=True)
class ParameterEstimate:
    """An individual parameter: MAP value with a 90% Laplace interval, in the file's unit."""

    value: float
    unit: str
    typical: float
    eta: float
    eta_sd: float
    ci90_low: float
    ci90_high: float
    scale: str


@dataclass(frozen=True, slots=True)
class FitRow:
    """One record of the data with its predictions (min, ng/mL).

    ``pred``: typical patient; ``ipred``: MAP individual; ``ipred_p05``/``ipred_p95``: 90%
    band of the individual prediction; ``iwres``: (dv - ipred) / sd for observations.
    """

    row: int
    time_min: float
    analyte: str
    evid: int
    mdv: int
    dv_ng_per_ml: float | None
    pred: float
    ipred: float
    ipred_p05: float
    ipred_p95: float
    iwres: float | None


@dataclass(frozen=True, slots=True)
class Prediction:
    """Individual predictions (ng/mL) at ``times_min`` with a 90% band."""

    times_min: FloatArray
    analyte: str
    ipred: FloatArray
    p05: FloatArray
    p95: FloatArray


@dataclass(frozen=True)
class FitPart:
    """A stretch of an individual's data with one set of covariates and one occasion.

    ``start_min``: from this time on (``-inf`` for the first part) until the next part;
    ``patient``: the covariates then; ``inputs``: the doses given in the part (as for
    :func:`fit_individual`); ``occasion``: its occasion label (records with the same label share
    the occasion's random effects of a model with ``[iov]``; ``None``: one occasion for all).
    """

    start_min: float
    patient: Patient
    inputs: InputsLike
    occasion: int | None = None


class _Problem:
    """Everything needed to predict one individual's concentrations for given ``u``.

    ``u`` stacks the standardised etas (``eta = L u``, ``[iiv]``) and, for a model with
    ``[iov]``, one standardised kappa per occasion label and IOV parameter
    (``kappa = omega_iov u``), so the prior stays ``u'u``.
    """

    def __init__(
        self,
        model: ModelSpec,
        patient: Patient,
        inputs: InputsLike,
        parts: Sequence[FitPart] | None = None,
    ) -> None:
        self.model = model
        self.patient = patient
        self.inputs = inputs
        self.parts = list(parts) if parts else [FitPart(-np.inf, patient, inputs)]
        omega = omega_matrix(model, required=False)
        self.eta_names = list(omega.names)
        # without occasion labels (no OCC column) there is one occasion, on which eta and
        # kappa cannot be told apart: no kappa is estimated
        labels = sorted({p.occasion for p in self.parts if p.occasion is not None})
        self.kappa_keys: list[tuple[str, int]] = [
            (name, label) for label in labels for name in model.iov
        ]
        self.names = self.eta_names + [f"{name}@OCC{label}" for name, label in self.kappa_keys]
        iov_sd = [np.sqrt(model.iov[name].variance()) for name, _ in self.kappa_keys]
        n_eta = len(self.eta_names)
        self.L = np.zeros((len(self.names), len(self.names)))
        self.L[:n_eta, :n_eta] = omega.cholesky()
        self.L[n_eta:, n_eta:] = np.diag(iov_sd) if iov_sd else np.zeros((0, 0))

    def etas(self, u: FloatArray) -> dict[str, float]:
        eta = self.L @ u
        return dict(zip(self.eta_names, map(float, eta[: len(self.eta_names)]), strict=True))

    def kappas(self, u: FloatArray, occasion: int | None) -> dict[str, float]:
        """The occasion's kappas (empty for a model without ``[iov]`` or without occasions)."""
        eta = self.L @ u
        n_eta = len(self.eta_names)
        return {
            name: float(eta[n_eta + i])
            for i, (name, label) in enumerate(self.kappa_keys)
            if label == occasion
        }

    def _part_system(self, part: FitPart, u: FloatArray) -> LinearSystem:
        return build_system(
            self.model, part.patient, etas=self.etas(u), kappas=self.kappas(u, part.occasion)
        )

    def system(self, u: FloatArray) -> LinearSystem:
        """The system of the last part (the latest covariates and occasion)."""
        return self._part_system(self.parts[-1], u)

    def conc(self, u: FloatArray, times: FloatArray, analytes: Sequence[str]) -> FloatArray:
        """Plasma concentrations (ng/mL) of ``analytes[i]`` at ``times[i]``."""
        if not len(analytes):
            return np.zeros(0)
        if len(self.parts) == 1:
            sys_ = self._part_system(self.parts[0], u)
            part_inputs = self.parts[0].inputs
            inputs = part_inputs(sys_) if callable(part_inputs) else part_inputs
            states = predict_states(sys_.K, inputs, times)
            rows = {o.analyte: o.row for o in sys_.outputs if o.site == "plasma"}
            C = np.vstack([rows[a] for a in analytes])
            return np.asarray(np.einsum("ij,ij->i", states, C) * 1000.0, dtype=np.float64)
        segments = []
        all_inputs = SystemInputs()
        names: list[str] = []
        for part in self.parts:
            sys_ = self._part_system(part, u)
            got = part.inputs(sys_) if callable(part.inputs) else part.inputs
            all_inputs = all_inputs + got
            segments.append(Segment(part.start_min, sys_.K, sys_.output_matrix() * 1000.0))
            names = [o.name for o in sys_.outputs]
        t = np.asarray(times, dtype=np.float64)
        order = np.argsort(t, kind="stable")
        out = np.empty((t.size, len(names)))
        out[order] = predict_piecewise(segments, all_inputs, t[order])
        col = np.array([names.index(f"{a}_plasma") for a in analytes])
        return np.asarray(out[np.arange(t.size), col], dtype=np.float64)

    def log_conc_jacobian(
        self, u: FloatArray, times: FloatArray, analytes: Sequence[str]
    ) -> tuple[FloatArray, FloatArray]:
        """Concentrations at ``u`` and d log(conc) / du by forward differences."""
        f0 = self.conc(u, times, analytes)
        zero = f0 <= _ZERO_NG_PER_ML  # no drug yet (round-off): no band
        f0 = np.where(zero, 0.0, f0)
        J = np.zeros((f0.size, u.size))
        logf0 = np.log(np.maximum(f0, _ZERO_NG_PER_ML))
        for k in range(u.size):
            du = np.zeros(u.size)
            du[k] = _FD_STEP
            f1 = np.maximum(self.conc(u + du, times, analytes), _ZERO_NG_PER_ML)
            J[:, k] = np.where(zero, 0.0, (np.log(f1) - logf0) / _FD_STEP)
        return f0, J


@dataclass(frozen=True)
class IndividualFit:
    """The MAP fit of one individual (immutable).

    Attributes
    ----------
    parameters:
        Each parameter with inter-individual variability: MAP value, 90% interval, typical.
    eta_names, eta_map, eta_cov:
        Random effects at the MAP and their Laplace covariance.
    rows:
        One :class:`FitRow` per record of the data (dose and MDV = 1 rows included).
    residual_errors:
        Residual error model used per analyte (published or assumed).
    ofv:
        Objective at the MAP (-2 log posterior + constant).
    """

    id: str
    model_id: str
    parameters: Mapping[str, ParameterEstimate]
    eta_names: tuple[str, ...]
    eta_map: FloatArray
    eta_cov: FloatArray
    rows: tuple[FitRow, ...]
    residual_errors: Mapping[str, ResidualErrorModel]
    ofv: float
    converged: bool
    n_observations: int
    findings: tuple[Finding, ...] = ()
    problem: _Problem | None = field(default=None, repr=False, compare=False)
    u_map: FloatArray = field(default_factory=lambda: np.zeros(0), repr=False, compare=False)
    u_cov: FloatArray = field(default_factory=lambda: np.zeros((0, 0)), repr=False, compare=False)

    def system(self) -> LinearSystem:
        """The individual's linear system at the MAP estimate."""
        assert self.problem is not None
        return self.problem.system(self.u_map)

    def predict(
        self,
        times_min: FloatArray | list[float],
        analyte: str | None = None,
        *,
        method: Literal["delta", "sampling"] = "delta",
        n_draws: int = 500,
        rng: np.random.Generator | int | None = None,
    ) -> Prediction:
        """Individual predictions (ng/mL) at ``times_min`` with a 90% posterior band.

        ``delta``: normal approximation of log concentration (Laplace covariance propagated
        by the Jacobian); ``sampling``: percentiles over ``n_draws`` posterior draws.
        """
        assert self.problem is not None
        times = np.asarray(times_min, dtype=float)
        name = analyte or self.problem.model.analyte_names[0]
        analytes = [name] * times.size
        if method == "sampling":
            f0 = self.problem.conc(self.u_map, times, analytes)
            gen = np.random.default_rng(rng)
            draws = gen.multivariate_normal(self.u_map, self.u_cov, size=n_draws, method="cholesky")
            sims = np.array([self.problem.conc(u, times, analytes) for u in draws])
            return Prediction(
                times, name, f0, np.percentile(sims, 5, axis=0), np.percentile(sims, 95, axis=0)
            )
        f0, J = self.problem.log_conc_jacobian(self.u_map, times, analytes)
        sd = np.sqrt(np.maximum(np.einsum("ij,jk,ik->i", J, self.u_cov, J), 0.0))
        return Prediction(times, name, f0, f0 * np.exp(-_Z90 * sd), f0 * np.exp(_Z90 * sd))


def _analyte_of(rec: RecordLike, model: ModelSpec) -> str:
    names = model.analyte_names
    if rec.analyte:
        aliases = {a: a for a in names}
        for a in names:  # accept e.g. 'ketamine' for the parent, 'nk' is not guessed
            aliases.setdefault(a.replace("es", "", 1), a)
        if rec.analyte in aliases:
            return aliases[rec.analyte]
        raise DataFileError(
            f"analyte {rec.analyte!r} is not one of {', '.join(names)}",
            row=rec.row,
            column="ANALYTE",
        )
    if rec.cmt is not None and rec.evid not in (1, 4):
        comps = model.compartments
        if not 1 <= rec.cmt <= len(comps):
            raise DataFileError(
                f"CMT {rec.cmt} is not a compartment of {model.id} (1 to {len(comps)})",
                row=rec.row,
                column="CMT",
            )
        comp = comps[rec.cmt - 1]
        if comp.analyte is None or comp.observed != "plasma":
            observed = ", ".join(
                f"{i + 1} ({c.analyte})" for i, c in enumerate(comps) if c.observed == "plasma"
            )
            raise DataFileError(
                f"CMT {rec.cmt} ({comp.name}) is not an observed compartment "
                f"of {model.id}; observations use CMT {observed}",
                row=rec.row,
                column="CMT",
            )
        return comp.analyte
    return names[0]


def _lloq(rec: RecordLike) -> float | None:
    value = getattr(rec, "lloq_ng_per_ml", None)
    return None if value is None else float(value)


def _censored(rec: RecordLike) -> bool:
    """Below the limit of quantification: an LLOQ and no DV, or a DV under it (M3)."""
    lloq = _lloq(rec)
    return (
        rec.evid == 0
        and rec.mdv == 0
        and lloq is not None
        and (rec.dv_ng_per_ml is None or rec.dv_ng_per_ml < lloq)
    )


def _check_records(records: Sequence[RecordLike]) -> None:
    doses = [r.time_min for r in records if r.evid in (1, 4)]
    first_dose = min(doses) if doses else None
    for r in records:
        if r.evid == 0 and r.mdv == 0 and (first_dose is None or r.time_min < first_dose):
            raise DataFileError(
                "observation before any dose; the model starts at zero drug "
                "(set MDV = 1 on pre-dose rows)",
                row=r.row,
                column="TIME",
            )


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
    _check_records(records)
    problem = _Problem(model, patient, inputs, parts)
    seen: set[int] = set()
    rows_in: list[RecordLike] = []
    for r in records:  # ADDL copies share their row number: one output row per file record
        if r.row not in seen:
            seen.add(r.row)
            rows_in.append(r)
    analytes_all = [_analyte_of(r, model) for r in rows_in]
    obs = [
        i
        for i, r in enumerate(rows_in)
        if r.evid == 0 and r.mdv == 0 and (r.dv_ng_per_ml is not None or _censored(r))
    ]
    obs_times = np.array([rows_in[i].time_min for i in obs])
    obs_analytes = [analytes_all[i] for i in obs]
    cens = np.array([_censored(rows_in[i]) for i in obs], dtype=bool)
    y = np.array(
        [
            (_lloq(rows_in[i]) if cens[k] else rows_in[i].dv_ng_per_ml) or 0.0
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
            du[k] = _FD_STEP
            J[:, k] = (residuals(u_map + du)[0] - r0) / _FD_STEP
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
    pred = np.where(pred <= _ZERO_NG_PER_ML, 0.0, pred)
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
                float(ipred[i] * np.exp(-_Z90 * sd[i])),
                float(ipred[i] * np.exp(_Z90 * sd[i])),
                iwres,
            )
        )
    return replace(fit, rows=tuple(rows))


def _parameters(
    model: ModelSpec, patient: Patient, eta: FloatArray, cov: FloatArray, problem: _Problem
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
            apply(e), unit, typical, e, sd, apply(e - _Z90 * sd), apply(e + _Z90 * sd), scale
        )
    return out
