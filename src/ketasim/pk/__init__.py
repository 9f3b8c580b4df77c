"""The PK engine: linear compartment systems solved exactly."""

from ketasim.pk.events import Bolus, Dose, Infusion, Regimen, Reset, SystemInputs
from ketasim.pk.simulate import SimulationResult, check_validity, simulate
from ketasim.pk.solve import ExactSolver
from ketasim.pk.system import LinearSystem, build_system, individual_parameters

__all__ = [
    "Bolus",
    "Dose",
    "ExactSolver",
    "Infusion",
    "LinearSystem",
    "Regimen",
    "Reset",
    "SimulationResult",
    "SystemInputs",
    "build_system",
    "check_validity",
    "individual_parameters",
    "simulate",
]
