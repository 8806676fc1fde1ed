"""Plugin hooks for ingestion, in the style of datasette: built-in readers use these same hooks.

A plugin is any module with functions decorated by ``hookimpl``, registered under the
``hitlgov`` entry-point group. ``hitlgov_readers`` returns :class:`Reader` objects; the
ingestion pipeline asks each reader whether it recognises a file (``--format auto``) or picks
one by name (``--format labelstudio``).
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
    """

    name: str
    detect: Callable[[Path, bytes], bool]
    read: Callable[[Any, Path], Any]
    priority: int = 0
    description: str = ""


class ReaderSpec:
    @hookspec
    def hitlgov_readers(self) -> list[Reader]:  # pragma: no cover - specification only
        """Return the readers this plugin provides."""


def plugin_manager() -> pluggy.PluginManager:
    """Built-ins are registered through the same entry points as third-party plugins."""
    pm = pluggy.PluginManager("hitlgov")
    pm.add_hookspecs(ReaderSpec)
    pm.load_setuptools_entrypoints("hitlgov")
    return pm


def all_readers() -> list[Reader]:
    readers = [r for batch in plugin_manager().hook.hitlgov_readers() for r in batch]
    return sorted(readers, key=lambda r: -r.priority)
