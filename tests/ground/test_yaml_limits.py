"""YAML files (mapping, views) cannot exhaust memory: size and alias limits (issue 14)."""
from __future__ import annotations

import os

import pytest

from hitlgov.errors import MappingError
from hitlgov.mapping import load_mapping


def bomb(levels: int) -> str:
    """The "billion laughs": each level lists the previous one nine times (~10x per level)."""
    lines = ['a0: &a0 ["lol"]']
    for i in range(1, levels + 1):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def test_alias_bomb_refused_in_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("HITLGOV_MAX_YAML_ALIASES", "50")
    m = tmp_path / "m.yaml"
    m.write_text(bomb(9))    # 81 aliases in ~500 bytes; expanded: 9**9 = 387M strings
    assert len(m.read_bytes()) < 600
    with pytest.raises(MappingError) as err:
        load_mapping(m)
    assert str(err.value) == f"{m}: mapping file uses 81 YAML aliases, more than the limit of 50 (HITLGOV_MAX_YAML_ALIASES)"


def test_alias_count_and_size_limits(tmp_path, monkeypatch):
    m = tmp_path / "m.yaml"
    m.write_text(bomb(12))   # 108 aliases
    with pytest.raises(MappingError, match=r"uses 108 YAML aliases, more than the limit of 100 \(HITLGOV_MAX_YAML_ALIASES\)"):
        load_mapping(m)
    m.write_text("system: x\nlabels: {model_decision: &l {a: b}, human_decision: *l}\n")
    assert load_mapping(m).labels["human_decision"] == {"a": "b"}   # a few aliases stay fine
    monkeypatch.setenv("HITLGOV_MAX_YAML_BYTES", "100")
    m.write_text("system: " + "x" * 200 + "\n")
    with pytest.raises(MappingError, match=r"mapping file larger than 100 bytes \(HITLGOV_MAX_YAML_BYTES\)"):
        load_mapping(m)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX only")
def test_fifo_mapping_refused(tmp_path):
    fifo = tmp_path / "m.yaml"
    os.mkfifo(fifo)
    with pytest.raises(MappingError, match="not a regular file"):
        load_mapping(fifo)
