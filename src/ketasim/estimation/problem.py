"""One individual's prediction problem: standardised random effects -> concentrations.

The fit works on standardised ``u`` (``eta = L u``, ``L L' = Omega``); :class:`FitProblem`
maps ``u`` to the individual's systems (one per :class:`FitPart`: covariates and occasion) and
to plasma concentrations, with a forward-difference Jacobian of log concentration.

A model whose parameters change with the time after the first dose (``TAFD_MIN``, e.g. Flint
2017's S-norketamine clearance) is predicted on the checked ODE path of
:mod:`ketasim.pk.time_varying` (each part a :class:`~ketasim.pk.time_varying.TimeSegment`), so a
fit follows ``K(t)`` instead of the system at the first dose.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ketasim.catalogue.schema import ModelSpec
from ketasim.estimation.predict import predict_piecewise, predict_states
from ketasim.patient import Patient
from ketasim.pk.events import SystemInputs
from ketasim.pk.piecewise import Segment
from ketasim.pk.system import LinearSystem, build_system
from ketasim.pk.variability import omega_matrix
from ketasim.types import FloatArray

__all__ = ["FD_STEP", "ZERO_NG_PER_ML", "FitPart", "FitProblem", "InputsLike"]

InputsLike = SystemInputs | Callable[[LinearSystem], SystemInputs]
FD_STEP = 1e-5
ZERO_NG_PER_ML = 1e-9  # below this a prediction is round-off around zero


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


class FitProblem:
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
        if self.model.time_varying:
            return self._conc_time_varying(u, times, analytes)
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

    def _conc_time_varying(
        self, u: FloatArray, times: FloatArray, analytes: Sequence[str]
    ) -> FloatArray:
        from ketasim.pk.time_varying import FIT_RTOL, TimeSegment, solve_time_varying

        all_inputs = SystemInputs()
        segments = []
        names: list[str] = []
        for part in self.parts:
            sys_ = self._part_system(part, u)  # maps the part's doses to states (any TAFD)
            got = part.inputs(sys_) if callable(part.inputs) else part.inputs
            all_inputs = all_inputs + got
            segments.append(
                TimeSegment(part.start_min, part.patient, self.kappas(u, part.occasion))
            )
            names = [o.name for o in sys_.outputs]
        t = np.asarray(times, dtype=np.float64)
        order = np.argsort(t, kind="stable")
        out = np.empty((t.size, len(names)))
        out[order] = 1000.0 * solve_time_varying(
            self.model,
            self.parts[0].patient,
            all_inputs,
            t[order],
            etas=self.etas(u),
            segments=segments,
            rtol=FIT_RTOL,
        )
        col = np.array([names.index(f"{a}_plasma") for a in analytes])
        return np.asarray(out[np.arange(t.size), col], dtype=np.float64)

    def log_conc_jacobian(
        self, u: FloatArray, times: FloatArray, analytes: Sequence[str]
    ) -> tuple[FloatArray, FloatArray]:
        """Concentrations at ``u`` and d log(conc) / du by forward differences."""
        f0 = self.conc(u, times, analytes)
        zero = f0 <= ZERO_NG_PER_ML  # no drug yet (round-off): no band
        f0 = np.where(zero, 0.0, f0)
        J = np.zeros((f0.size, u.size))
        logf0 = np.log(np.maximum(f0, ZERO_NG_PER_ML))
        for k in range(u.size):
            du = np.zeros(u.size)
            du[k] = FD_STEP
            f1 = np.maximum(self.conc(u + du, times, analytes), ZERO_NG_PER_ML)
            J[:, k] = np.where(zero, 0.0, (np.log(f1) - logf0) / FD_STEP)
        return f0, J
