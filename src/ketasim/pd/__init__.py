"""Pharmacodynamics: effect-site responses, receptor occupancy, response time courses."""
