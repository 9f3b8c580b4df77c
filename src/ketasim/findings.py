"""Findings: the results of checks, as data. Callers decide how to show them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["Finding", "Severity"]

Severity = Literal["stop", "warn", "info"]


@dataclass(frozen=True, slots=True)
class Finding:
    """One result of a check.

    ``severity``: ``stop`` (must not proceed), ``warn`` (proceed with care), ``info``.
    ``source`` names the rule's origin (model file, label, guideline); ``field`` the domain
    field it concerns (``weight_kg``), when there is one.
    """

    rule_id: str
    severity: Severity
    message: str
    source: str
    field: str | None = None
