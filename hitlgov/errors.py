"""Errors the CLI turns into one-line messages (never a stack trace)."""


class HitlgovError(Exception):
    """Base class: the message is shown to the user as is, on one line."""


class IngestError(HitlgovError):
    """A file cannot be read at all (missing, empty, wrong format, malformed export).

    The message must name the file and the problem, e.g. ``"x.json: not a Label Studio
    export: expected a list of tasks"``. Raising it rolls back the file's transaction.
    """


class StoreLockedError(HitlgovError):
    """The DuckDB file is held by another process (DuckDB allows one writer process)."""


class MappingError(HitlgovError):
    """The mapping file is invalid."""
