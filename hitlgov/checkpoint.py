"""Signed checkpoints of the audit log's head, kept outside the DuckDB file.

Why: a hash chain proves only that its events agree with each other. Whoever can write the
store can delete the last events or rewrite every event from some point on, consistently, and
the chain still verifies. A transparency log (certificate transparency, Sigstore Rekor) solves
this with *signed tree heads* kept elsewhere; this module does the same for hitlgov's chain.

A checkpoint is a small JSON file::

    {"format": "hitlgov-checkpoint/1", "origin": <hash of event 1>, "tree_size": <events>,
     "head": <hash of the last event>, "time": <UTC, ISO 8601>,
     "key": {"algorithm": "ed25519", "public_key": <base64, raw 32 bytes>, "fingerprint": "SHA256:<hex>"},
     "signature": <base64 Ed25519 signature of the note below>}

The signed note is the text ``hitlgov-checkpoint/1\\n<origin>\\n<tree_size>\\n<head>\\n<time>\\n``.

* **Key**: an Ed25519 private key in a PEM file named by ``$HITLGOV_SIGNING_KEY`` (make one with
  ``hitlgov keygen --out FILE``); it never lives in the store. Without it checkpoints are still
  written, unsigned: truncation is still caught, but anyone who can write the checkpoint
  directory could forge one (``verify`` says so). ``$HITLGOV_PUBLIC_KEY`` (a PEM public key)
  pins the key verifiers trust; otherwise the signing key's own public half is trusted.
* **Where**: ``$HITLGOV_CHECKPOINTS`` (one directory per store), else ``<store>.checkpoints/``
  beside the DuckDB file. One file per checkpoint, never overwritten. Copy them somewhere the
  store's writers cannot write (WORM bucket, another host, an auditor's mailbox): a checkpoint
  an attacker can delete anchors nothing.
* **When**: after every committed transaction that appended events (:func:`hitlgov.store.transaction`).
"""
from __future__ import annotations

import base64
import hashlib
import json
import os
from datetime import datetime, timezone
from pathlib import Path

import duckdb

from hitlgov.errors import HitlgovError

FORMAT = "hitlgov-checkpoint/1"
ENV_KEY = "HITLGOV_SIGNING_KEY"
ENV_PUBLIC = "HITLGOV_PUBLIC_KEY"
ENV_DIR = "HITLGOV_CHECKPOINTS"
MAX_BYTES = 64 * 1024  # a checkpoint is a few hundred bytes; anything larger is not one


# -- keys -----------------------------------------------------------------------------------------

def _serialization():
    from cryptography.hazmat.primitives import serialization

    return serialization


def keygen(out: str | os.PathLike) -> tuple[Path, Path, str]:
    """Write a new Ed25519 private key (PEM, mode 0600) to ``out`` and its public key to
    ``out.pub``; return both paths and the fingerprint. Never overwrites a file."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    ser = _serialization()
    path, pub = Path(out), Path(str(out) + ".pub")
    for p in (path, pub):
        if p.exists():
            raise HitlgovError(f"{p}: already exists; refusing to overwrite a key")
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(ser.Encoding.PEM, ser.PrivateFormat.PKCS8, ser.NoEncryption())
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(pem)
        pub.write_bytes(key.public_key().public_bytes(ser.Encoding.PEM, ser.PublicFormat.SubjectPublicKeyInfo))
    except OSError as exc:
        raise HitlgovError(f"{path}: cannot write the key ({exc.strerror or exc})") from None
    return path.resolve(), pub.resolve(), fingerprint(key.public_key())


def _read_key_file(path: Path, what: str) -> bytes:
    if not path.is_file():
        raise HitlgovError(f"{path}: {what} not found")
    if path.stat().st_size > MAX_BYTES:
        raise HitlgovError(f"{path}: not a PEM {what} (too large)")
    return path.read_bytes()


def load_private_key(path: str | os.PathLike):
    """The Ed25519 private key in a PEM file (one-line errors for anything else)."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    p = Path(path)
    try:
        key = _serialization().load_pem_private_key(_read_key_file(p, "signing key"), password=None)
    except (ValueError, TypeError) as exc:
        raise HitlgovError(f"{p}: not an unencrypted PEM private key ({str(exc).splitlines()[0]})") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise HitlgovError(f"{p}: not an Ed25519 key (make one with `hitlgov keygen --out FILE`)")
    return key


def load_public_key(path: str | os.PathLike):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    p = Path(path)
    try:
        key = _serialization().load_pem_public_key(_read_key_file(p, "public key"))
    except (ValueError, TypeError) as exc:
        raise HitlgovError(f"{p}: not a PEM public key ({str(exc).splitlines()[0]})") from None
    if not isinstance(key, Ed25519PublicKey):
        raise HitlgovError(f"{p}: not an Ed25519 public key")
    return key


def signing_key():
    """The site's signing key from ``$HITLGOV_SIGNING_KEY``, or None when unset."""
    path = os.environ.get(ENV_KEY, "").strip()
    return load_private_key(path) if path else None


def trusted_key():
    """The public key verifiers trust: ``$HITLGOV_PUBLIC_KEY``, else the signing key's; or None."""
    path = os.environ.get(ENV_PUBLIC, "").strip()
    if path:
        return load_public_key(path)
    key = signing_key()
    return key.public_key() if key is not None else None


def raw_public(key) -> bytes:
    ser = _serialization()
    return key.public_bytes(ser.Encoding.Raw, ser.PublicFormat.Raw)


def fingerprint(public_key) -> str:
    """``SHA256:<hex>`` of the raw 32-byte Ed25519 public key (printed in every report)."""
    return "SHA256:" + hashlib.sha256(raw_public(public_key)).hexdigest()


# -- writing ----------------------------------------------------------------------------------------

def directory(con: duckdb.DuckDBPyConnection) -> Path | None:
    """Where this store's checkpoints live (None for an in-memory database)."""
    env = os.environ.get(ENV_DIR, "").strip()
    if env:
        return Path(env)
    row = con.execute("SELECT path FROM duckdb_databases() WHERE database_name = current_database()").fetchall()
    path = row[0][0] if row else None
    return Path(str(path) + ".checkpoints") if path else None


def note(cp: dict) -> bytes:
    """The exact bytes a checkpoint's signature covers."""
    return f"{FORMAT}\n{cp['origin']}\n{int(cp['tree_size'])}\n{cp['head']}\n{cp['time']}\n".encode("utf-8")


def _chain_head(con: duckdb.DuckDBPyConnection) -> tuple[int, str | None, str | None]:
    rows = con.execute("SELECT seq, hash FROM audit_events WHERE seq = 1 OR seq = (SELECT max(seq) FROM audit_events) "
                       "ORDER BY seq").fetchall()
    if not rows:
        return 0, None, None
    return rows[-1][0], rows[0][1], rows[-1][1]


def make(origin: str, tree_size: int, head: str, *, key=None, at: str | None = None) -> dict:
    cp = {"format": FORMAT, "origin": origin, "tree_size": int(tree_size), "head": head,
          "time": at or datetime.now(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z"),
          "key": None, "signature": None}
    if key is not None:
        pub = key.public_key()
        cp["key"] = {"algorithm": "ed25519", "public_key": base64.b64encode(raw_public(pub)).decode("ascii"),
                     "fingerprint": fingerprint(pub)}
        cp["signature"] = base64.b64encode(key.sign(note(cp))).decode("ascii")
    return cp


def write(con: duckdb.DuckDBPyConnection) -> Path | None:
    """Sign (when a key is configured) and write the checkpoint of the committed head."""
    where = directory(con)
    size, origin, head = _chain_head(con)
    if where is None or not size:
        return None
    cp = make(origin, size, head, key=signing_key())
    path = where / f"{size:012d}-{head[:16]}.json"
    try:
        where.mkdir(parents=True, exist_ok=True)
        if path.exists():
            return path
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(json.dumps(cp, indent=1) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
    except OSError as exc:
        raise HitlgovError(f"{path}: the data is stored, but its audit checkpoint could not be written "
                           f"({exc.strerror or exc}): fix {ENV_DIR} or the directory's permissions") from None
    return path


# -- reading and checking ------------------------------------------------------------------------------

def read(path: str | os.PathLike) -> dict:
    """A checkpoint file, shape-checked (one-line errors for anything else)."""
    p = Path(path)
    try:
        if not p.is_file():
            raise HitlgovError(f"{p}: no such checkpoint file")
        if p.stat().st_size > MAX_BYTES:
            raise HitlgovError(f"{p}: not a hitlgov checkpoint (too large)")
        cp = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise HitlgovError(f"{p}: not a hitlgov checkpoint ({exc})") from None
    return parse(cp, str(p))


def parse(cp, where: str) -> dict:
    ok = (isinstance(cp, dict) and cp.get("format") == FORMAT and isinstance(cp.get("tree_size"), int)
          and cp["tree_size"] > 0 and all(isinstance(cp.get(k), str) for k in ("origin", "head", "time")))
    if not ok:
        raise HitlgovError(f"{where}: not a {FORMAT} checkpoint")
    return cp


def signature_problem(cp: dict, trusted) -> str | None:
    """Why the checkpoint's signature cannot be trusted, or None."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    if not cp.get("signature"):
        return "unsigned" if trusted is None else "unsigned, but a signing key is configured: forged or stripped"
    try:
        pub = Ed25519PublicKey.from_public_bytes(base64.b64decode(cp["key"]["public_key"], validate=True))
        pub.verify(base64.b64decode(cp["signature"], validate=True), note(cp))
    except (InvalidSignature, ValueError, TypeError, KeyError):
        return "signature invalid: the checkpoint was edited or forged"
    if trusted is not None and raw_public(pub) != raw_public(trusted):
        return (f"signed by key {fingerprint(pub)}, not the site's key {fingerprint(trusted)}: "
                "a checkpoint from another key")
    return None


def in_directory(where: Path | None) -> list[tuple[str, dict | None, str | None]]:
    """``(file, checkpoint or None, error or None)`` for every file of the directory."""
    if where is None or not where.is_dir():
        return []
    out = []
    for p in sorted(where.glob("*.json")):
        try:
            out.append((str(p), read(p), None))
        except HitlgovError as exc:
            out.append((str(p), None, str(exc)))
    return out


def check(con: duckdb.DuckDBPyConnection, *, since: list | None = None, directory_required: bool = True) -> dict:
    """Does the stored chain still extend every checkpoint (the directory's and ``since``)?

    ``since`` holds checkpoints an auditor kept (dicts as :func:`read` returns, with ``"file"``).
    Returns ``{"problems", "notes", "latest"}``; ``latest`` is the largest valid checkpoint."""
    problems: list[str] = []
    notes: list[str] = []
    try:
        trusted = trusted_key()
    except HitlgovError as exc:
        return {"problems": [f"cannot check checkpoint signatures: {exc}"], "notes": [], "latest": None}
    where = directory(con)
    found = in_directory(where)
    size, origin, head = _chain_head(con)
    if size and not found and not directory_required and since:
        notes.append(f"no checkpoint in {where}: checked against the given checkpoint(s) only")
    elif size and not found:
        problems.append(f"no checkpoint in {where}: the audit chain has no anchor outside the store "
                        "(checkpoints deleted, or the store was copied without them)")
    found += [(c.get("file", "--since"), c, None) for c in (since or [])]
    unsigned, latest, by_size = 0, None, {}
    for file, cp, error in found:
        if error:
            problems.append(f"checkpoint {error}")
            continue
        why = signature_problem(cp, trusted)
        if why == "unsigned":
            unsigned += 1
        elif why:
            problems.append(f"checkpoint {file}: {why}")
            continue
        n = cp["tree_size"]
        if by_size.setdefault(n, cp["head"]) != cp["head"]:
            problems.append(f"checkpoints disagree about event {n}: two different heads were signed (a fork)")
        if origin is not None and cp["origin"] != origin:
            problems.append(f"checkpoint {file}: the chain's first event is no longer the one checkpointed: "
                            "the whole chain was rewritten")
            continue
        if n > size:
            problems.append(f"checkpoint {file} records {n:,} events, the store holds {size:,}: "
                            f"the last {n - size:,} event(s) were deleted (truncation)")
            continue
        at = con.execute("SELECT hash FROM audit_events WHERE seq = ?", [n]).fetchall()
        if not at or at[0][0] != cp["head"]:
            problems.append(f"checkpoint {file}: event {n:,} is no longer the checkpointed head "
                            f"({cp['head'][:12]}…): the chain was rewritten up to there")
            continue
        if latest is None or n > latest["tree_size"]:
            latest = {**cp, "file": file}
    if unsigned:
        notes.append(f"{unsigned} checkpoint(s) are unsigned (no ${ENV_KEY} when they were written): anyone who "
                     "can write the checkpoint directory could forge them")
    if latest is not None and size > latest["tree_size"]:
        notes.append(f"{size - latest['tree_size']:,} event(s) after the latest checkpoint ({latest['tree_size']:,}) "
                     "are not anchored yet")
    return {"problems": problems, "notes": notes, "latest": latest}


def describe(cp: dict | None) -> dict | None:
    """What a report embeds: the checkpoint it was made from (without its file path)."""
    if not cp:
        return None
    return {k: cp.get(k) for k in ("format", "origin", "tree_size", "head", "time", "key", "signature")}
