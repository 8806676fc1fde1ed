"""Every extension point of hitlgov, in one place (as datasette's ``hookspecs.py``).

A plugin is any module with functions decorated by ``hookimpl`` (``from hitlgov import
hookimpl``), registered under the ``hitlgov`` entry-point group of its distribution. The
built-in readers and the tool adapters register through exactly these hooks and entry points,
so a third-party plugin has the same powers as a built-in.

Hooks:

``hitlgov_readers()``
    Return a list of :class:`Reader` objects: input formats the ingestion pipeline can read
    (``--format NAME``, or chosen by ``detect`` under ``--format auto``).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import pluggy

hookspec = pluggy.HookspecMarker("hitlgov")
hookimpl = pluggy.HookimplMarker("hitlgov")


@dataclass(frozen=True)
class Reader:
    """One input format.

    name:    the ``--format`` value (``csv``, ``labelstudio``...).
    detect:  ``detect(path, head) -> bool``; ``head`` is up to 64 KiB of the file's
             (decompressed) bytes, or b"" for a directory. Must be cheap and never raise.
    read:    ``read(con, path) -> duckdb relation | pandas.DataFrame | pyarrow.Table`` with the
             source's columns and a 1-based ``_row`` column (record number in the source, for
             quarantine messages). Column values may be any type; validation casts them.
             Raise :class:`hitlgov.errors.IngestError` naming the file when it can't be read.
    priority: higher is asked first by auto-detection (specific tool formats before generic
             JSON Lines).
    annotation_source: the format is a labelling / review tool's export, where a task may have
             no model prediction at all: its cases are stored without a model decision instead of
             being quarantined (``hitlgov.schema.required_fields``).

    ``read`` may take keyword options (``question=``, ``model_decision=``...): ``--question``
    and ``--adapter-option KEY=VALUE`` pass them, and a name ``read`` does not take is refused.
    A DataFrame may carry one-line notices for the user in ``df.attrs["hitlgov_notices"]``
    (which question was used, how many cases have no model decision...).
    """

    name: str
    detect: Callable[[Path, bytes], bool]
    read: Callable[[Any, Path], Any]
    priority: int = 0
    description: str = ""
    annotation_source: bool = False


class ReaderSpec:
    @hookspec
    def hitlgov_readers(self) -> list[Reader]:  # pragma: no cover - specification only
        """Return the readers this plugin provides."""
