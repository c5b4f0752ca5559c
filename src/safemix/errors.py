"""Errors that safemix reports to the user as one line and a non-zero exit."""

from __future__ import annotations


class SafemixError(Exception):
    """A user-facing error: the CLI prints ``error: <message>`` and exits with code 2."""


class DataError(SafemixError):
    """Malformed or missing input data. The message names the file and, where known, the record."""

    def __init__(self, path: object, message: str, record: int | None = None):
        where = f"{path}" if record is None else f"{path}: record {record}"
        super().__init__(f"{where}: {message}")
        self.path = path
        self.record = record


class MissingExtraError(SafemixError):
    """An optional dependency is not installed."""

    def __init__(self, module: str, extra: str):
        super().__init__(f"'{module}' is not installed; install it with: pip install 'safemix[{extra}]'")
