"""Reading the user's YAML files (mapping, views): one place for their one-line errors."""
from __future__ import annotations

from pathlib import Path

import yaml

from hitlgov.errors import HitlgovError


def read_yaml_mapping(path: str | Path, *, kind: str, error: type[HitlgovError] = HitlgovError) -> dict:
    """The top-level mapping of a YAML file (``{}`` for an empty file).

    A missing file, invalid YAML or a top level that is not a mapping raises ``error`` with a
    message naming the file, e.g. ``"lake.yaml: views file not found"``.
    """
    where = str(path)
    try:
        doc = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise error(f"{where}: {kind} file not found") from None
    except yaml.YAMLError as exc:
        raise error(f"{where}: not valid YAML: {str(exc).splitlines()[0]}") from None
    if not isinstance(doc, dict):
        raise error(f"{where}: expected a YAML mapping at the top level")
    return doc
