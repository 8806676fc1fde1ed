"""Ingestion time with the previous audit design (``old``: one chained event per review plus
bucketed digests) or the current one (``new``: per-run Merkle commitments), same file, same process setup.

    python bench/audit_compare.py old|new STORE.duckdb FILE.csv MAPPING.yaml OLD_AUDIT.py

OLD_AUDIT.py is ``git show 284b2b4:hitlgov/audit.py``. Figures: bench/RESULTS.md (Ingestion).
"""
import time, sys, os, shutil, importlib.util
from hitlgov import store
from hitlgov.ingest import pipeline
from hitlgov.mapping import load_mapping
mode, db, csv, mapping = sys.argv[1:5]
if mode == "old":
    spec = importlib.util.spec_from_file_location("old_audit", sys.argv[5] if len(sys.argv) > 5 else "/tmp/old_audit.py")
    old = importlib.util.module_from_spec(spec); spec.loader.exec_module(old)
    import hitlgov.audit as new
    class Shim:
        def __getattr__(self, n): return getattr(old, n)
        def commit_run(self, con, run_id, **kw):
            d = old.run_digests(con, run_id); old.record_review_events(con, run_id); return d
    pipeline.audit = Shim()
for p in (db, db + ".checkpoints"):
    if os.path.isdir(p): shutil.rmtree(p)
    elif os.path.exists(p): os.remove(p)
t = time.perf_counter()
with store.connect(db) as con:
    r = pipeline.ingest_path(con, csv, mapping=load_mapping(mapping))
print(mode, "ingest seconds", round(time.perf_counter() - t, 2), r.stored)
