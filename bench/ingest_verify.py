"""Ingest one file into a fresh store, then verify it: both timed (issue 16, commitment formats).

    python bench/ingest_verify.py FILE MAPPING.yaml OUT.duckdb

OUT.duckdb (and its checkpoints) is replaced. Prints one JSON line: the hitlgov imported, the
commitment format it writes, ingestion seconds, ``verify_store`` seconds and whether it passed.
Run it with ``PYTHONPATH=<old checkout>`` for the old code, alternating old and new under the bench
lock (``flock /work/wt/bench.lock nice -n 0 ...``); figures: bench/RESULTS.md ("Verification speed").
"""
import json
import shutil
import sys
import time
from pathlib import Path

import hitlgov
from hitlgov import audit, store
from hitlgov.ingest.pipeline import ingest_path
from hitlgov.mapping import load_mapping

path, mapping, out = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
out.unlink(missing_ok=True)
shutil.rmtree(str(out) + ".checkpoints", ignore_errors=True)
t = time.perf_counter()
with store.connect(out) as con:
    r = ingest_path(con, path, mapping=load_mapping(mapping))
ingest = time.perf_counter() - t
t = time.perf_counter()
with store.connect(out, read_only=True) as con:
    v = audit.verify_store(con)
verify = time.perf_counter() - t
print(json.dumps({"hitlgov": hitlgov.__file__, "leaf_format": audit.LEAF_FORMAT, "stored": r.stored,
                  "ingest_seconds": round(ingest, 2), "verify_seconds": round(verify, 2), "ok": v["ok"],
                  "problems": v["problems"][:3]}))
