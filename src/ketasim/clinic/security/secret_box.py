"""Secrets kept in the database encrypted at rest (the TOTP second-factor secrets).

The encryption key is derived (HKDF-SHA256, its own ``info`` label) from the audit key, which
lives outside the database (``$KETASIM_AUDIT_KEY`` or the 0600 ``audit.key`` file in the data
directory, :mod:`ketasim.clinic.security.keys`): a copy of the database alone does not give the
secrets. Stored form: ``enc1:`` + a Fernet token (AES-128-CBC with HMAC-SHA256, ``cryptography``).
"""

from __future__ import annotations

import base64

from sqlalchemy.orm import Session

__all__ = ["INFO_BOX", "PREFIX", "SecretBox", "SecretBoxError", "box_of"]

#: Session.info key of the app's box (set by :class:`~ketasim.clinic.db.Database`)
INFO_BOX = "ketasim_secret_box"
PREFIX = "enc1:"
_INFO = b"ketasim clinic: secrets at rest v1"


class SecretBoxError(ValueError):
    """A stored secret cannot be opened (another key, edited, or still in clear)."""


class SecretBox:
    """Seals and opens secrets with a key derived from the audit key."""

    def __init__(self, audit_key: bytes) -> None:
        from cryptography.fernet import Fernet
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.kdf.hkdf import HKDF

        raw = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(audit_key)
        self._fernet = Fernet(base64.urlsafe_b64encode(raw))

    @staticmethod
    def is_sealed(stored: str) -> bool:
        """True for a value in the stored (encrypted) form."""
        return stored.startswith(PREFIX)

    def seal(self, secret: str) -> str:
        """The stored form of ``secret``."""
        return PREFIX + self._fernet.encrypt(secret.encode("utf-8")).decode("ascii")

    def open(self, stored: str) -> str:
        """The secret of a stored value."""
        from cryptography.fernet import InvalidToken

        if not self.is_sealed(stored):
            raise SecretBoxError("a secret is stored in clear (run the migrations)")
        try:
            return self._fernet.decrypt(stored[len(PREFIX) :].encode("ascii")).decode("utf-8")
        except (InvalidToken, ValueError):
            raise SecretBoxError(
                "a stored secret does not open with this server's key (another audit key, "
                "or the value was edited)"
            ) from None


def box_of(session: Session) -> SecretBox:
    """The secret box of a session opened by :class:`~ketasim.clinic.db.Database`."""
    box = session.info.get(INFO_BOX)
    if not isinstance(box, SecretBox):
        raise RuntimeError("no secret box on this session (open it with Database.session())")
    return box
