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


def exception_line(exc: BaseException, last: bool = False, limit: int = 300) -> str:
    """Any exception as one line: its first line (a library's summary), or with ``last`` its last meaningful one (a
    job's traceback ends with its reason); the type's name where the message is empty."""
    lines = [x.strip() for x in str(exc).strip().splitlines() if x.strip()]
    if not lines:
        return type(exc).__name__
    return (lines[-1] if last else lines[0])[:limit]


def validation_line(exc, limit: int | None = None, default: str = "", template: str = "{where}: {msg}",
                    rename=None, hint=None) -> str:
    """A pydantic ValidationError as one line: each error as ``template`` (``where``: its dotted location, or
    ``default``; ``msg``: pydantic's message, or ``hint(error)`` where that gives one), unknown keys first (a typo
    also makes the intended field look missing), the first ``limit`` of them and a count of the rest."""
    errors = sorted(exc.errors(), key=lambda e: e["type"] != "extra_forbidden")
    parts = []
    for e in errors[:limit]:
        where = ".".join(str(x) for x in e["loc"]) or default
        if rename is not None:
            where = rename(where)
        msg = (hint(e) if hint is not None else None) or e["msg"].removeprefix("Value error, ")
        parts.append(template.format(where=where, msg=msg) if where else msg)
    more = len(errors) - len(parts)
    return "; ".join(parts) + (f" (+{more} more)" if more > 0 else "")
