"""Synthetic model files shared by tests (closed forms are known for them)."""

from __future__ import annotations

__all__ = ["ONE_COMPARTMENT_LOGNORMAL_CL"]

ONE_COMPARTMENT_LOGNORMAL_CL = """
schema_version = 1
id = "test-onecomp-lognormal-cl"
short_names = ["onecomp-iiv"]
title = "One-compartment model with log-normal clearance (synthetic, for tests)"
drug = "racemic ketamine"
population = "synthetic, for tests"
[citation]
text = "Synthetic model for closed-form tests (no publication)"
verified = "not applicable"
[parameters.V]
value = 20.0
unit = "L"
source = "test value"
[parameters.CL]
value = 0.2
unit = "L/min"
source = "test value"
[iiv.CL]
omega_sq = 0.09
source = "test value"
[[analytes]]
name = "ketamine"
molecular_weight_g_per_mol = 237.73
[[compartments]]
name = "central"
analyte = "ketamine"
volume = "V"
observed = "plasma"
[[flows]]
from = "central"
clearance = "CL"
[[routes]]
name = "iv"
source = "test"
[[routes.inputs]]
compartment = "central"
"""
