"""Local accounts, for sites with no identity provider: ``hitlgov user add/passwd/disable/enable/list``
and the dashboard's sign-in form.

Why this shape:

* Passwords are hashed with **Argon2id** (``argon2-cffi``, the OWASP-recommended algorithm and
  parameters); the store keeps only the encoded hash (salt and cost parameters included), never
  the password, and no audit event or message ever contains either.
* A disabled account is kept, not deleted: its name stays meaningful in the audit trail, and the
  same name cannot be re-used by someone else. Disabling takes effect on the user's next
  interaction with the dashboard (the session re-reads the account on every page run).
* Every change is an audit event (``user_added``, ``user_password_changed``, ``user_disabled``,
  ``user_enabled``) in the same transaction as the change, with the actor who made it.
* One role per account; the role names are :data:`ROLES` (what each may do is in
  :mod:`hitlgov.dashboard.access`).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import duckdb
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from hitlgov import audit, store
from hitlgov.errors import HitlgovError

ROLES = ("executive", "compliance", "auditor", "data_steward", "admin")
#: continuous-oversight actions and the roles that may perform them, on the command line and in the
#: dashboard alike (``docs/security.md``): the compliance function owns the findings -- it assigns,
#: acknowledges and resolves remediation items and keeps the Art. 73 incident register; auditors
#: and executives read them, data stewards and administrators do neither
ACTION_ROLES: dict[str, frozenset[str]] = {
    "remediate": frozenset({"compliance"}),   # remediation assign / ack / resolve
    "incident": frozenset({"compliance"}),    # incident add / reported
    "register": frozenset({"compliance"}),    # reviewer register load (who may review, their training)
}
ACTION_TITLES = {"remediate": "remediation (assign, acknowledge, resolve)", "incident": "the incident register",
                 "register": "loading the reviewer register"}
MIN_PASSWORD = 12            # NIST SP 800-63B: at least 8; 12 for accounts that read personal data
MAX_PASSWORD = 1024          # bounds the hashing work an attacker can ask for
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
_HASHER = PasswordHasher()   # Argon2id, argon2-cffi's RFC 9106 "low memory" profile
# A hash to verify against when the name is unknown, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = _HASHER.hash("not a password of anyone")


@dataclass(frozen=True)
class User:
    name: str
    role: str
    disabled: bool


def check_name(name: str) -> str:
    """A user name: 1-64 characters, letters, digits and ``. _ @ -``, starting with a letter or digit."""
    if not isinstance(name, str) or not _NAME.match(name):
        shown = repr(name[:40]) if isinstance(name, str) else repr(name)
        raise HitlgovError(f"user name {shown}: use 1-64 letters, digits, '.', '_', '@' or '-', "
                           "starting with a letter or digit")
    return name


def check_role(role: str) -> str:
    """A role name (``data-steward`` is accepted for ``data_steward``)."""
    value = (role or "").strip().lower().replace("-", "_").replace(" ", "_")
    if value not in ROLES:
        raise HitlgovError(f"role {role!r}: expected one of {', '.join(ROLES)}")
    return value


def check_password(password: str) -> str:
    if not isinstance(password, str) or not password:
        raise HitlgovError("empty password: nothing was changed")
    if len(password) < MIN_PASSWORD:
        raise HitlgovError(f"password too short: at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise HitlgovError(f"password too long: at most {MAX_PASSWORD} characters")
    if any(ch in password for ch in "\x00\r\n"):
        raise HitlgovError("password contains a NUL or line break")
    return password


def _row(con: duckdb.DuckDBPyConnection, name: str):
    rows = con.execute("SELECT name, role, password_hash, disabled FROM users WHERE name = ?", [name]).fetchall()
    return rows[0] if rows else None


def _committed(con, name: str) -> dict:
    """The account's row as this change left it, for the event (``hitlgov verify`` names a role
    or a password hash changed behind the CLI's back; the leaf reveals neither)."""
    return {"rows": audit.record_rows(con, [("users", "name = ?", [name])])}


def add_user(db, name: str, role: str, password: str) -> User:
    """Create an account; a one-line error if the name exists (enabled or disabled)."""
    name, role, password = check_name(name), check_role(role), check_password(password)
    digest = _HASHER.hash(password)
    with store.connect(db) as con, store.transaction(con):
        if _row(con, name):
            raise HitlgovError(f"user {name!r} already exists (use `hitlgov user passwd` or `user enable`)")
        con.execute("INSERT INTO users VALUES (?, ?, ?, false, now()::TIMESTAMP, now()::TIMESTAMP)",
                    [name, role, digest])
        audit.append_event(con, kind="user_added", subject=name, detail={"role": role, **_committed(con, name)})
    return User(name, role, False)


def set_password(db, name: str, password: str) -> None:
    name, password = check_name(name), check_password(password)
    digest = _HASHER.hash(password)
    with store.connect(db) as con, store.transaction(con):
        if not _row(con, name):
            raise HitlgovError(f"no user {name!r}")
        con.execute("UPDATE users SET password_hash = ?, updated_at = now()::TIMESTAMP WHERE name = ?", [digest, name])
        audit.append_event(con, kind="user_password_changed", subject=name, detail=_committed(con, name))


def set_disabled(db, name: str, disabled: bool) -> bool:
    """Disable or re-enable an account; returns whether anything changed."""
    name = check_name(name)
    with store.connect(db) as con, store.transaction(con):
        row = _row(con, name)
        if not row:
            raise HitlgovError(f"no user {name!r}")
        if bool(row[3]) == disabled:
            return False
        con.execute("UPDATE users SET disabled = ?, updated_at = now()::TIMESTAMP WHERE name = ?", [disabled, name])
        audit.append_event(con, kind="user_disabled" if disabled else "user_enabled", subject=name,
                           detail={"role": row[1], **_committed(con, name)})
    return True


def list_users(db) -> list[dict]:
    with store.connect(db, read_only=True) as con:
        rows = con.execute("SELECT name, role, disabled, created_at, updated_at FROM users ORDER BY name").fetchall()
    return [{"name": n, "role": r, "disabled": bool(d), "created_at": c, "updated_at": u} for n, r, d, c, u in rows]


def lookup(con: duckdb.DuckDBPyConnection, name: str) -> User | None:
    """The account ``name`` as stored now (for re-checking a signed-in session), or None."""
    if not isinstance(name, str) or not _NAME.match(name):
        return None
    row = _row(con, name)
    return User(row[0], row[1], bool(row[3])) if row else None


def authorise(db, actor: str | None, action: str) -> str | None:
    """The actor the CLI records for ``action`` when the store has local accounts, else None.

    With accounts in the store (a site that named its people), an oversight action on the command
    line must say who does it: ``--actor NAME`` (or ``local:NAME``) naming an enabled account whose
    role may perform ``action`` (:data:`ACTION_ROLES`); it is recorded as ``local:NAME``, as the
    dashboard records that account. A store without accounts is single-user: None, and the caller
    records the OS user or ``--actor`` as before. This is attribution and a guard against honest
    mistakes, not authentication: whoever can run the CLI can write the store file directly --
    which ``hitlgov verify`` then names."""
    if action not in ACTION_ROLES:
        raise ValueError(f"unknown action {action!r}")
    path = store.resolve_db(db)
    if not path.exists():
        return None
    with store.connect(path, read_only=True) as con:
        if not con.execute("SELECT count(*) FROM users").fetchall()[0][0]:
            return None
        need = " or ".join(sorted(ACTION_ROLES[action]))
        what = ACTION_TITLES[action]
        if actor is None or not actor.strip():
            raise HitlgovError(f"{path} has user accounts: pass --actor NAME (an enabled account with role {need}) "
                               f"for {what}")
        name = actor.strip().removeprefix("local:")
        user = lookup(con, name)
    if user is None:
        raise HitlgovError(f"--actor {actor.strip()[:64]!r}: no such account in {path} ({what} needs an account "
                           f"with role {need})")
    if user.disabled:
        raise HitlgovError(f"--actor {name}: the account is disabled")
    if user.role not in ACTION_ROLES[action]:
        raise HitlgovError(f"--actor {name} has role {user.role}; {what} needs role {need}")
    return f"local:{user.name}"


def authenticate(con: duckdb.DuckDBPyConnection, name: str, password: str) -> User | None:
    """The enabled account whose password this is, else None (unknown name, wrong password,
    disabled account, malformed input: all look the same to the caller and take as long)."""
    row = _row(con, name) if isinstance(name, str) and _NAME.match(name) else None
    ok = isinstance(password, str) and 0 < len(password) <= MAX_PASSWORD
    try:
        _HASHER.verify(row[2] if row else _DUMMY_HASH, password if ok else "x")
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return None
    if not row or not ok or row[3]:
        return None
    return User(row[0], row[1], False)
