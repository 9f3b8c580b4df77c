"""Safety checks: contraindications, dose and frequency limits, monitoring, as cited rules."""
