"""Reading the user's YAML files (mapping, views): one place for their one-line errors and limits.

``yaml.safe_load`` refuses unsafe tags but happily expands aliases: a 368-byte file of nested
``*ref`` lists grows about tenfold per level (the "billion laughs"). A mapping never needs more
than a few aliases, so the file's size and its number of aliases are checked on the event stream
(which does not expand them) before anything is built (limits in :mod:`hitlgov.limits`).
"""
from __future__ import annotations

from pathlib import Path

import yaml

from hitlgov.errors import HitlgovError
from hitlgov.limits import limit


def read_yaml_mapping(path: str | Path, *, kind: str, error: type[HitlgovError] = HitlgovError) -> dict:
    """The top-level mapping of a YAML file (``{}`` for an empty file).

    A missing file, invalid YAML or a top level that is not a mapping raises ``error`` with a
    message naming the file, e.g. ``"lake.yaml: views file not found"``.
    """
    where = str(path)
    p = Path(path)
    try:
        if p.exists() and not p.is_file():
            raise error(f"{where}: {kind} file is not a regular file")
        cap = limit("HITLGOV_MAX_YAML_BYTES")
        with open(p, "rb") as fh:
            raw = fh.read(cap + 1)
        if len(raw) > cap:
            raise error(f"{where}: {kind} file larger than {cap:,} bytes (HITLGOV_MAX_YAML_BYTES)")
        text = raw.decode("utf-8")
        max_aliases = limit("HITLGOV_MAX_YAML_ALIASES")
        aliases = sum(1 for event in yaml.parse(text, Loader=yaml.SafeLoader) if isinstance(event, yaml.AliasEvent))
        if aliases > max_aliases:
            raise error(f"{where}: {kind} file uses {aliases:,} YAML aliases, more than the limit of "
                        f"{max_aliases:,} (HITLGOV_MAX_YAML_ALIASES)")
        doc = yaml.safe_load(text) or {}
    except FileNotFoundError:
        raise error(f"{where}: {kind} file not found") from None
    except UnicodeDecodeError:
        raise error(f"{where}: {kind} file is not UTF-8 text") from None
    except OSError as exc:
        raise error(f"{where}: {kind} file cannot be read ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        raise error(f"{where}: not valid YAML: {str(exc).splitlines()[0]}") from None
    if not isinstance(doc, dict):
        raise error(f"{where}: expected a YAML mapping at the top level")
    return doc
