"""Exceptions raised by ketasim.

The tree::

    KetasimError                    base of everything ketasim raises on purpose
    ├── InputError (ValueError)     a user's value is wrong; names field, value and accepted range
    │   ├── UnitError               a unit is malformed or of the wrong dimension
    │   ├── RangeError              a covariate or dose lies outside the accepted range
    │   └── DataFileError           a row/column of a data file (event table) is malformed
    ├── ModelError                  a model file breaks the schema (names file and field)
    └── ModelNotFoundError (LookupError)  no catalogue model matches a name

Every message is one line, ready to be printed by the CLI without a traceback.
"""

from __future__ import annotations

__all__ = [
    "DataFileError",
    "InputError",
    "KetasimError",
    "ModelError",
    "ModelNotFoundError",
    "RangeError",
    "UnitError",
]


class KetasimError(Exception):
    """Base class of every error ketasim raises deliberately."""


class InputError(KetasimError, ValueError):
    """A user-supplied value is invalid.

    Parameters
    ----------
    field:
        The name of the offending field in the domain (``weight_kg``, ``ke0_per_min``) or in
        the file (``AMT``); the command line shows its own flag for a domain field (one table,
        ``ketasim.cli.common.CLI_FLAGS``).
    message:
        What is wrong and what is accepted.
    """

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")


class UnitError(InputError):
    """A unit string is malformed or has the wrong dimension."""


class RangeError(InputError):
    """A value lies outside its accepted range (e.g. a model's validated weights)."""


class DataFileError(InputError):
    """A data file (e.g. a NONMEM-style event table) is malformed at a named row and column."""

    def __init__(self, message: str, *, row: int | None = None, column: str | None = None) -> None:
        where = []
        if row is not None:
            where.append(f"row {row}")
        if column is not None:
            where.append(f"column {column}")
        field = ", ".join(where) if where else "data file"
        self.row = row
        self.column = column
        super().__init__(field, message)


class ModelError(KetasimError):
    """A model file breaks the catalogue schema; the message names the file and the field."""


class ModelNotFoundError(KetasimError, LookupError):
    """No catalogue model matches the requested id or short name.

    ``field`` names what was looked up (``model``, ``pd_model``); the message alone is the
    error's text, so that a caller can place it under its own field (``arms[0].model``).
    """

    def __init__(self, message: str, *, field: str = "model") -> None:
        self.field = field
        self.message = message
        super().__init__(message)
