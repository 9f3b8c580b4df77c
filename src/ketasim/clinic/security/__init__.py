"""Clinic security: the audit key and tamper evidence, password policy, second factor, the log
of patient-record reads and the limits of the computational tool pages."""
