"""One individual of an event table, simulated exactly, covariates changing or not."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np

from ketasim.catalogue.schema import ModelSpec
from ketasim.findings import Finding
from ketasim.io.nonmem import Individual, individual_inputs, individual_segments
from ketasim.patient import Patient
from ketasim.pk import SimulationResult, SystemInputs, build_system, simulate
from ketasim.pk.piecewise import Segment, solve_piecewise
from ketasim.pk.simulate import check_validity, refuse_extrapolation
from ketasim.pk.time_varying import TimeSegment, solve_time_varying
from ketasim.types import FloatArray

__all__ = ["simulate_individual"]


def simulate_individual(
    model: ModelSpec,
    individual: Individual,
    patient_of: Callable[[Individual], Patient],
    times_min: FloatArray,
    *,
    allow_extrapolation: bool = False,
) -> SimulationResult:
    """Concentrations (ng/mL) of one individual at ``times_min`` (ascending).

    ``patient_of`` makes the patient from an individual's covariates. With covariates that
    change during the table (``Individual.covariate_changes``), each part is solved with its
    own system, the state carried across (:func:`ketasim.pk.piecewise.solve_piecewise`; a model
    with time-varying parameters on the checked ODE path of :mod:`ketasim.pk.time_varying`,
    segment by segment); the result's patient is the first part's.
    """
    compartments = [c.name for c in model.compartments]
    if not individual.covariate_changes:
        patient = patient_of(individual)
        system = build_system(model, patient)
        inputs = individual_inputs(system, individual, compartments=compartments)
        return simulate(
            model,
            patient,
            None,
            times_min=times_min,
            extra_inputs=inputs,
            allow_extrapolation=allow_extrapolation,
            # a time-varying model is solved on its ODE path, which builds its own systems
            system=None if model.time_varying else system,
        )
    segments: list[Segment] = []
    timed: list[TimeSegment] = []
    inputs = SystemInputs()
    findings: list[Finding] = []
    first: Patient | None = None
    names: tuple[str, ...] = ()
    for start, _, part in individual_segments(individual):
        patient = patient_of(part)
        checked = check_validity(model, patient)
        refuse_extrapolation(checked, allow=allow_extrapolation)
        findings += [f for f in checked if f not in findings]
        system = build_system(model, patient)
        inputs = inputs + individual_inputs(system, part, compartments=compartments)
        segments.append(Segment(start, system.K, system.output_matrix() * 1000.0))
        timed.append(TimeSegment(start, patient))
        if first is None:
            first, names = patient, tuple(o.name for o in system.outputs)
    assert first is not None
    times = np.asarray(times_min, dtype=np.float64)
    if model.time_varying:  # K changes with time after the first dose too: the ODE path
        mg_per_l = solve_time_varying(model, first, inputs, times, segments=timed)
        conc = np.asfortranarray(mg_per_l * 1000.0)
    else:
        conc = np.asfortranarray(solve_piecewise(segments, inputs, times))
    typical = simulate(
        model, first, None, times_min=times[:1], extra_inputs=inputs, allow_extrapolation=True
    )
    return replace(
        typical,
        times_min=times,
        concentrations_ng_per_ml={n: conc[:, i] for i, n in enumerate(names)},
        findings=tuple(findings),
    )
