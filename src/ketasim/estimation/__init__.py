"""Estimation: Bayesian (MAP) individualisation from measured concentrations."""
