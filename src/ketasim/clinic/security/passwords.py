"""Password policy: at least 10 characters, and not guessable by zxcvbn (Dropbox's estimator,
which ships its own lists of common passwords, English words, names and keyboard patterns and
runs offline): a zxcvbn score of at least 3 of 4 ("safely unguessable: moderate protection from
an offline slow-hash scenario"), with the user's own name and user name counted as known words.

Source of the scoring: Wheeler D. zxcvbn: low-budget password strength estimation. USENIX
Security 2016 (the Python port ``zxcvbn`` on PyPI).
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["MAX_LENGTH", "MIN_LENGTH", "MIN_SCORE", "password_problem"]

MIN_LENGTH = 10
MAX_LENGTH = 200
MIN_SCORE = 3


def password_problem(password: str, *, user_inputs: Iterable[str] = ()) -> str | None:
    """Why ``password`` is refused (a sentence for the user), or None when it is accepted."""
    if len(password) < MIN_LENGTH:
        return f"at least {MIN_LENGTH} characters"
    if len(password) > MAX_LENGTH:
        return f"at most {MAX_LENGTH} characters"
    from zxcvbn import zxcvbn

    words = [w for w in user_inputs if w]
    result = zxcvbn(password[:100], user_inputs=words)
    score = int(result["score"])
    if score >= MIN_SCORE:
        return None
    feedback = result.get("feedback") or {}
    hint = " ".join(
        x for x in [feedback.get("warning") or "", *(feedback.get("suggestions") or [])] if x
    )
    return f"too easy to guess (strength {score} of 4; accepted from {MIN_SCORE})" + (
        f": {hint}" if hint else ""
    )
