"""Optional second factor: time-based one-time passwords (RFC 6238, 30 s steps, 6 digits, via
pyotp), offered to prescribers and admins. A code is accepted for the current step and one step
either side (clock drift) and only once (replays refused in this server process)."""

from __future__ import annotations

import threading
import time

__all__ = ["TOTP_ROLES", "TotpReplay", "new_secret", "provisioning_uri"]

TOTP_ROLES = ("admin", "prescriber")
_ISSUER = "ketasim clinic"


def new_secret() -> str:
    """A fresh base32 secret (160 bits)."""
    import pyotp

    return pyotp.random_base32(32)


def provisioning_uri(secret: str, username: str) -> str:
    """The ``otpauth://`` URI an authenticator app enrols from."""
    import pyotp

    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=_ISSUER)


class TotpReplay:
    """Checks codes and remembers the steps used, so each code works once."""

    def __init__(self) -> None:
        self._used: dict[tuple[int, int], float] = {}
        self._lock = threading.Lock()

    def verify(self, user_id: int, secret: str, code: str) -> bool:
        """True for a valid, not yet used code of ``secret``."""
        import pyotp

        code = code.strip().replace(" ", "")
        if not (code.isdigit() and len(code) == 6):
            return False
        totp = pyotp.TOTP(secret)
        now = time.time()
        for offset in (0, -1, 1):
            at = now + offset * totp.interval
            if totp.verify(code, for_time=at):
                step = int(at // totp.interval)
                with self._lock:
                    for k, t in list(self._used.items()):
                        if t < now - 5 * totp.interval:
                            del self._used[k]
                    if (user_id, step) in self._used:
                        return False
                    self._used[(user_id, step)] = now
                return True
        return False
