"""Loading the plugins: every ``hitlgov`` entry point, built-ins included (the hooks themselves
are specified in :mod:`hitlgov.hookspecs`). The ingestion pipeline asks each reader whether it
recognises a file (``--format auto``) or picks one by name (``--format labelstudio``).
"""
from __future__ import annotations

import pluggy

from hitlgov.hookspecs import Reader, ReaderSpec, hookimpl, hookspec  # noqa: F401 (re-exported for plugins)


def plugin_manager() -> pluggy.PluginManager:
    """Built-ins are registered through the same entry points as third-party plugins."""
    pm = pluggy.PluginManager("hitlgov")
    pm.add_hookspecs(ReaderSpec)
    pm.load_setuptools_entrypoints("hitlgov")
    return pm


def all_readers() -> list[Reader]:
    readers = [r for batch in plugin_manager().hook.hitlgov_readers() for r in batch]
    return sorted(readers, key=lambda r: -r.priority)
