"""Clinic services: database functions taking the session (and the acting user) explicitly."""
