"""Pages that open the computational side to people who do not use Python: the simulator
(model, patient, regimen -> concentrations), the plan (protocol + patient -> findings, doses,
predicted curves) and TCI. They call the same functions as ``ketasim simulate``, ``ketasim plan``
and ``ketasim tci``; nothing is written to the records (GET forms, no CSRF needed).

Inputs are bounded (:mod:`ketasim.clinic.web.tool_limits`): catalogue models by id only, capped
doses, output times, patients and arms, each refusal a 422 naming the field and the limit. The
virtual trial runs as a background job (:mod:`ketasim.clinic.jobs`) with a progress page."""

from __future__ import annotations

from ketasim.clinic.web.tools import plan, simulate, tci, tci_manual, trial
from ketasim.clinic.web.tools.common import router
from ketasim.clinic.web.tools.trial import DEFAULT_TRIAL, run_trial_job

__all__ = [
    "DEFAULT_TRIAL",
    "plan",
    "router",
    "run_trial_job",
    "simulate",
    "tci",
    "tci_manual",
    "trial",
]
