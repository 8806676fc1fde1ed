"""Who may see and do what in the dashboard: the one table of roles -> pages and actions, and
the signed-in identity of the current session.

Why it is enforced here, on the server, and twice:

* ``app.py`` lists only the permitted pages in ``st.navigation``; forbidden pages stay
  registered but hidden, so a typed or shared URL reaches :func:`require_page`, which shows
  "not permitted" and stops before a line of the page runs;
* every page checks again when it starts (:func:`hitlgov.dashboard.ui.page` calls
  :func:`require_page` with the page's own file), and every action (upload and ingestion, report
  generation, export, verification, user management) calls :func:`require_action` right before
  it runs, so a widget that should not have been drawn still cannot act.

Roles (``docs/security.md``): *executive* sees the Overview (ROI and findings), with reviewer ids
pseudonymised; *compliance* every metric page, the findings and reports; *auditor* everything
read-only (audit trail, data, exports, verification) and may generate reports, but not ingest;
*data steward* the Data page with uploads and ingestion; *admin* the user accounts. A person
may hold several roles (an identity provider's claim may list several): permissions add up.
"""
from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from hitlgov.dashboard.literal import md

from hitlgov import accounts, authconfig, store
from hitlgov import actor as hactor
from hitlgov.errors import HitlgovError

ROLES = accounts.ROLES
ROLE_TITLES = {"executive": "Executive", "compliance": "Compliance", "auditor": "Auditor",
               "data_steward": "Data steward", "admin": "Administrator"}

# page (its file in views/, without .py) -> roles that may open it
PAGE_ROLES: dict[str, frozenset[str]] = {
    "overview": frozenset({"executive", "compliance", "auditor"}),
    "oversight": frozenset({"compliance", "auditor"}),
    "reviewers": frozenset({"compliance", "auditor"}),
    "reliance": frozenset({"compliance", "auditor"}),
    "fairness": frozenset({"compliance", "auditor"}),
    "drift": frozenset({"compliance", "auditor"}),
    "monitoring": frozenset({"compliance", "auditor"}),
    "audit_trail": frozenset({"auditor"}),
    "data_page": frozenset({"auditor", "data_steward"}),
    "reports": frozenset({"compliance", "auditor"}),
    "users": frozenset({"admin"}),
}
# action -> roles that may perform it
ACTION_ROLES: dict[str, frozenset[str]] = {
    "ingest": frozenset({"data_steward"}),              # Data page upload
    "report": frozenset({"compliance", "auditor"}),     # generate a PDF (writes report_generated)
    "attest": frozenset({"compliance"}),                # sign a report off (an attestation event)
    "export": frozenset({"auditor", "data_steward"}),   # CSV downloads (audit trail cases, quarantine)
    "verify": frozenset({"auditor"}),                   # re-hash the store against the chain
    "manage_users": frozenset({"admin"}),
    # continuous oversight: one table for the CLI and the dashboard (hitlgov.accounts.ACTION_ROLES)
    "remediate": accounts.ACTION_ROLES["remediate"],    # remediation assign / acknowledge / resolve
    "incident": accounts.ACTION_ROLES["incident"],      # record an incident, mark it reported
}
SESSION_KEY = "hitlgov_identity"      # server-side session state; no widget has this key
MAX_FAILURES, FAILURE_WINDOW, LOCKOUT_SECONDS = 5, 300.0, 60.0


@dataclass(frozen=True)
class Identity:
    name: str                 # as shown in the sidebar
    actor: str                # as recorded in the audit trail (see hitlgov.actor)
    roles: frozenset[str]
    method: str               # "single-user", "local" or "oidc"

    @property
    def pseudonymise_reviewers(self) -> bool:
        """Executives see reviewers only under pseudonyms (personal data beyond their need)."""
        return not (self.roles - {"executive"})


def can_view(identity: Identity, page: str) -> bool:
    return bool(identity.roles & PAGE_ROLES.get(page, frozenset()))


def can(identity: Identity, action: str) -> bool:
    return bool(identity.roles & ACTION_ROLES.get(action, frozenset()))


def permitted_pages(identity: Identity) -> list[str]:
    return [p for p in PAGE_ROLES if can_view(identity, p)]


# -- the current identity -----------------------------------------------------------------------

def current() -> Identity | None:
    """The identity :func:`sign_in` established for this script run (None before sign-in)."""
    return st.session_state.get("_hitlgov_current")


def _not_permitted(what: str) -> None:
    who = current()
    roles = ", ".join(ROLE_TITLES[r] for r in sorted(who.roles)) if who and who.roles else "no role"
    st.error(f"Not permitted: {what} is not available to your role ({roles}).", icon=":material/block:")
    st.stop()


def require_page(page: str) -> Identity:
    """Stop the run with "not permitted" unless the signed-in identity may open ``page``."""
    who = current()
    if who is None or not can_view(who, page):
        _not_permitted(f"the page '{page.replace('_page', '').replace('_', ' ')}'")
    return who


def require_action(action: str) -> Identity:
    """Stop the run with "not permitted" unless the signed-in identity may perform ``action``."""
    who = current()
    if who is None or not can(who, action):
        _not_permitted(f"the action '{action.replace('_', ' ')}'")
    return who


def perform(action: str, fn, *args, **kwargs):
    """``fn(*args, actor=<the signed-in user>, **kwargs)`` -- only once the server has checked that
    the signed-in identity may perform ``action``; otherwise "not permitted" and the run stops
    before ``fn`` is called. The write is then attributed to that user in the audit trail."""
    who = require_action(action)
    return fn(*args, actor=who.actor, **kwargs)


def allowed(action: str) -> bool:
    who = current()
    return who is not None and can(who, action)


# -- configuration ------------------------------------------------------------------------------

@st.cache_resource(show_spinner=False)
def _config(path: str, mtime: float) -> authconfig.AuthConfig:
    return authconfig.load(path)


def configuration() -> authconfig.AuthConfig | None:
    """How this server signs people in; None in the explicit single-user mode. Raises a
    ``HitlgovError`` when nothing is configured (the app was not started by ``hitlgov serve``)."""
    mode = os.environ.get(authconfig.ENV_MODE, "").strip().lower()
    file = os.environ.get(authconfig.ENV_FILE, "").strip()
    if file:
        try:
            mtime = Path(file).stat().st_mtime
        except OSError:
            mtime = 0.0
        return _config(file, mtime)
    if mode == "none":
        return None
    if mode == "local":
        return authconfig.AuthConfig(source="local accounts in the store", local=True)
    raise HitlgovError("sign-in is not configured: start the dashboard with `hitlgov serve` "
                       "(local accounts, --auth FILE, or --no-auth for a single user on this machine)")


# -- failed sign-ins: a per-name lockout shared by every session of this server ----------------

_failures: dict[str, list[float]] = {}
_lock = threading.Lock()


def _locked_out(name: str) -> float:
    """Seconds left of ``name``'s lockout (0: may try)."""
    now = time.monotonic()
    with _lock:
        recent = [t for t in _failures.get(name, []) if now - t < FAILURE_WINDOW]
        _failures[name] = recent
        if len(recent) >= MAX_FAILURES:
            return max(0.0, LOCKOUT_SECONDS - (now - recent[-1]))
    return 0.0


def _failed(name: str) -> None:
    with _lock:
        _failures.setdefault(name, []).append(time.monotonic())


def _record_sign_in(db: str, identity: Identity) -> None:
    """``signed_in`` in the audit trail (best effort: a store being written does not block sign-in)."""
    from hitlgov import audit

    try:
        audit.record_event(db, kind="signed_in", subject=identity.name, actor=identity.actor,
                           detail={"method": identity.method, "roles": sorted(identity.roles)})
    except (HitlgovError, OSError):
        pass
    except Exception:  # noqa: BLE001 - e.g. a read-only store file: sign-in must still work
        pass


# -- sign-in --------------------------------------------------------------------------------------

def _local_identity(db: str, name: str) -> Identity | None:
    """The local account ``name`` as stored now: None once it is disabled or removed."""
    try:
        with store.connect(db, read_only=True) as con:
            user = accounts.lookup(con, name)
    except HitlgovError:
        return None
    if user is None or user.disabled:
        return None
    return Identity(name=user.name, actor=f"local:{user.name}", roles=frozenset({user.role}), method="local")


def _oidc_identity(config: authconfig.AuthConfig) -> Identity | None:
    user = st.user
    if not config.oidc or not getattr(user, "is_logged_in", False):
        return None
    name = str(user.get("email") or user.get("preferred_username") or user.get("sub") or "unknown")
    return Identity(name=name, actor=f"oidc:{name}", roles=frozenset(config.oidc.roles_of(user)), method="oidc")


def sign_in(db: str) -> Identity:
    """The signed-in identity of this session; otherwise draw the sign-in page and stop the run."""
    config = configuration()
    if config is None:
        who = Identity(name=hactor.os_user(), actor=f"single-user:{hactor.os_user()}", roles=frozenset(ROLES),
                       method="single-user")
        st.session_state["_hitlgov_current"] = who
        return who
    who = _oidc_identity(config)
    if who is None and config.local and st.session_state.get(SESSION_KEY):
        who = _local_identity(db, st.session_state[SESSION_KEY])
        if who is None:  # disabled (or removed) since sign-in: the session ends now
            st.session_state.pop(SESSION_KEY, None)
            st.session_state["_hitlgov_notice"] = "Your account is disabled or no longer exists; the session ended."
    if who is not None:
        st.session_state["_hitlgov_current"] = who
        if not who.roles:
            st.error(f"Signed in as {md(who.name)}, but the identity provider grants you no hitlgov role "
                     f"(claim '{config.oidc.role_claim if config.oidc else 'roles'}'). Ask an administrator.")
            st.button("Sign out", on_click=st.logout, key="signout_norole")
            st.stop()
        if st.session_state.get("_hitlgov_recorded") != who.actor:
            st.session_state["_hitlgov_recorded"] = who.actor
            _record_sign_in(db, who)
        return who
    st.session_state.pop("_hitlgov_current", None)
    _sign_in_page(db, config)
    st.stop()
    raise AssertionError("unreachable")  # pragma: no cover


def _sign_in_page(db: str, config: authconfig.AuthConfig) -> None:
    st.title("Sign in")
    st.caption("hitlgov · human oversight of AI. The evidence shown here includes personal data: "
               "sign in with your own account.")
    notice = st.session_state.pop("_hitlgov_notice", None)
    if notice:
        st.warning(notice)
    if config.oidc:
        st.button("Sign in with your organisation's account", type="primary", on_click=st.login,
                  icon=":material/login:", key="signin_oidc")
    if not config.local:
        return
    with st.form("signin_local"):
        name = st.text_input("User name", key="signin_name", max_chars=64)
        password = st.text_input("Password", type="password", key="signin_password", max_chars=accounts.MAX_PASSWORD)
        submitted = st.form_submit_button("Sign in", type="secondary" if config.oidc else "primary")
    if not submitted:
        return
    name = (name or "").strip()
    wait = _locked_out(name)
    if wait:
        st.error(f"Too many failed attempts for this name: try again in {wait:.0f} s.")
        return
    try:
        with store.connect(db, read_only=True) as con:
            user = accounts.authenticate(con, name, password or "")
    except HitlgovError as exc:
        st.error(f"Sign-in is unavailable: {exc}")
        return
    if user is None:
        _failed(name)
        st.error("Unknown user name or wrong password (or the account is disabled).")
        return
    st.session_state[SESSION_KEY] = user.name
    st.rerun()


def sign_out() -> None:
    who = current()
    st.session_state.pop(SESSION_KEY, None)
    st.session_state.pop("_hitlgov_current", None)
    st.session_state.pop("_hitlgov_recorded", None)
    if who is not None and who.method == "oidc":
        st.logout()


def sidebar(identity: Identity) -> None:
    roles = ", ".join(ROLE_TITLES[r] for r in sorted(identity.roles))
    if identity.method == "single-user":
        st.sidebar.caption(f"Single-user mode (no sign-in): {md(identity.name)}")
        return
    st.sidebar.caption(f"Signed in as {md(identity.name)} · {roles}")
    st.sidebar.button("Sign out", on_click=sign_out, key="signout", icon=":material/logout:")
