"""Calibration data (with sources) and fitting code for ketasim's empirical PD models."""
