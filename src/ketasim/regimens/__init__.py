"""Regimens: doses, repeats, and their text forms (``"0.5 mg/kg over 40 min"``)."""

from ketasim.pk.events import Dose, Regimen
from ketasim.regimens.parse import ROUTE_ALIASES, parse_regimen, parse_repeat

__all__ = ["ROUTE_ALIASES", "Dose", "Regimen", "parse_regimen", "parse_repeat"]
