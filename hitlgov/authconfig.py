"""The authentication file of ``hitlgov serve --auth FILE`` (TOML or YAML), read and checked once.

Two sign-in methods, either or both (``docs/security.md`` has a full example):

* ``[local]`` ``enabled = true``: local accounts in the store (``hitlgov user add``), Argon2id;
* ``[oidc]``: single sign-on through OpenID Connect with Streamlit's ``st.login`` (Authlib):
  ``server_metadata_url`` (the provider's ``.well-known/openid-configuration``), ``client_id``,
  ``client_secret_file`` (or, discouraged, ``client_secret``), ``redirect_uri``
  (``https://HOST/oauth2callback``), optional ``cookie_secret_file``, ``role_claim`` (default
  ``roles``) and the table ``[oidc.roles]`` mapping claim values to hitlgov roles.

Why a file of our own rather than Streamlit's ``secrets.toml``: the role mapping and the local
accounts switch are ours, secrets are referenced by *path* (so the file can be shown, versioned
and reviewed without leaking them), and every mistake is one line naming the file and the key,
at start-up, instead of a failing sign-in later. ``serve`` writes the ``[auth]`` section that
Streamlit needs into a private (0600) file of its own; the secrets never appear on a command line.
"""
from __future__ import annotations

import os
import stat
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

from hitlgov.errors import HitlgovError

ENV_FILE = "HITLGOV_AUTH_FILE"   # how `serve` tells the app which file it was started with
ENV_MODE = "HITLGOV_AUTH"        # "none": the explicit single-user mode (serve --no-auth)
MAX_BYTES = 1_000_000
_TOP = {"local", "oidc"}
_OIDC = {"server_metadata_url", "client_id", "client_secret", "client_secret_file", "redirect_uri",
         "cookie_secret_file", "role_claim", "roles"}


@dataclass(frozen=True)
class Oidc:
    server_metadata_url: str
    client_id: str
    client_secret: str = field(repr=False)
    redirect_uri: str
    cookie_secret: str | None = field(default=None, repr=False)
    role_claim: str = "roles"
    roles: dict[str, str] = field(default_factory=dict)  # claim value -> hitlgov role

    def roles_of(self, claims) -> set[str]:
        """The hitlgov roles the ID-token claims grant: the role claim may be a string or a list."""
        value = claims.get(self.role_claim) if hasattr(claims, "get") else None
        values = [value] if isinstance(value, str) else value if isinstance(value, (list, tuple)) else []
        return {self.roles[v] for v in values if isinstance(v, str) and v in self.roles}


@dataclass(frozen=True)
class AuthConfig:
    source: str
    local: bool = False
    oidc: Oidc | None = None


def _read(path: Path) -> dict:
    where = str(path)
    try:
        if not path.is_file():
            raise HitlgovError(f"{where}: authentication file not found (or not a regular file)")
        if path.stat().st_size > MAX_BYTES:
            raise HitlgovError(f"{where}: authentication file larger than {MAX_BYTES:,} bytes")
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise HitlgovError(f"{where}: authentication file is not UTF-8 text") from None
    except OSError as exc:
        raise HitlgovError(f"{where}: cannot read the authentication file ({exc.strerror})") from None
    if path.suffix.lower() in (".yaml", ".yml"):
        import yaml

        try:
            doc = yaml.safe_load(text) or {}
        except yaml.YAMLError as exc:
            raise HitlgovError(f"{where}: not valid YAML: {str(exc).splitlines()[0]}") from None
    else:
        try:
            doc = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise HitlgovError(f"{where}: not valid TOML: {exc}") from None
    if not isinstance(doc, dict):
        raise HitlgovError(f"{where}: expected a table/mapping at the top level")
    return doc


def _secret_file(where: str, key: str, value, base: Path) -> str:
    if not isinstance(value, str) or not value.strip():
        raise HitlgovError(f"{where}: oidc.{key}: expected the path of a file")
    path = Path(value).expanduser()
    path = path if path.is_absolute() else base / path
    try:
        mode = path.stat().st_mode
        if not stat.S_ISREG(mode):
            raise HitlgovError(f"{where}: oidc.{key}: {path} is not a regular file")
        if mode & stat.S_IROTH:
            raise HitlgovError(f"{where}: oidc.{key}: {path} is readable by every user of the machine "
                               f"(chmod 600 {path})")
        secret = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        raise HitlgovError(f"{where}: oidc.{key}: {path} not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise HitlgovError(f"{where}: oidc.{key}: cannot read {path} ({exc})") from None
    if not secret:
        raise HitlgovError(f"{where}: oidc.{key}: {path} is empty")
    return secret


def _url(where: str, key: str, value, *, allow_http_loopback: bool = True) -> str:
    if not isinstance(value, str) or not value.strip():
        raise HitlgovError(f"{where}: oidc.{key}: expected a URL")
    url = urlparse(value.strip())
    loopback = url.hostname in ("localhost", "127.0.0.1", "::1")
    if url.scheme != "https" and not (url.scheme == "http" and loopback and allow_http_loopback):
        raise HitlgovError(f"{where}: oidc.{key} {value!r}: must be https:// (http:// only for localhost)")
    return value.strip()


def load(path: str | os.PathLike) -> AuthConfig:
    """Read and check the file; a one-line error naming the file and key for every mistake."""
    from hitlgov.accounts import check_role

    path = Path(path).expanduser().resolve()
    where = str(path)
    doc = _read(path)
    unknown = set(doc) - _TOP
    if unknown:
        raise HitlgovError(f"{where}: unknown section(s) {', '.join(sorted(map(str, unknown)))} "
                           f"(expected {', '.join(sorted(_TOP))})")
    local = doc.get("local", {})
    if not isinstance(local, dict) or set(local) - {"enabled"}:
        raise HitlgovError(f"{where}: [local] takes one key, enabled = true/false")
    enabled = local.get("enabled", bool(local) or "local" in doc)
    if not isinstance(enabled, bool):
        raise HitlgovError(f"{where}: local.enabled: expected true or false")
    oidc = None
    if "oidc" in doc:
        o = doc["oidc"]
        if not isinstance(o, dict):
            raise HitlgovError(f"{where}: [oidc] must be a table")
        extra = set(o) - _OIDC
        if extra:
            raise HitlgovError(f"{where}: oidc: unknown key(s) {', '.join(sorted(map(str, extra)))}")
        for key in ("server_metadata_url", "client_id", "redirect_uri"):
            if key not in o:
                raise HitlgovError(f"{where}: oidc.{key} is required")
        if ("client_secret" in o) == ("client_secret_file" in o):
            raise HitlgovError(f"{where}: oidc: give exactly one of client_secret_file (recommended) or client_secret")
        secret = (_secret_file(where, "client_secret_file", o["client_secret_file"], path.parent)
                  if "client_secret_file" in o else str(o["client_secret"]))
        cookie = (_secret_file(where, "cookie_secret_file", o["cookie_secret_file"], path.parent)
                  if "cookie_secret_file" in o else None)
        claim = o.get("role_claim", "roles")
        if not isinstance(claim, str) or not claim.strip():
            raise HitlgovError(f"{where}: oidc.role_claim: expected a claim name")
        roles = o.get("roles", {})
        if not isinstance(roles, dict) or not roles:
            raise HitlgovError(f"{where}: oidc.roles: map at least one claim value to a role, "
                               "e.g. \"hitlgov-auditors\" = \"auditor\"")
        mapped = {}
        for value, role in roles.items():
            try:
                mapped[str(value)] = check_role(str(role))
            except HitlgovError as exc:
                raise HitlgovError(f"{where}: oidc.roles.{value}: {exc}") from None
        if not isinstance(o["client_id"], str) or not o["client_id"].strip():
            raise HitlgovError(f"{where}: oidc.client_id: expected the client id the provider issued")
        redirect = _url(where, "redirect_uri", o["redirect_uri"])
        if not urlparse(redirect).path.endswith("/oauth2callback"):
            raise HitlgovError(f"{where}: oidc.redirect_uri must end in /oauth2callback (Streamlit's callback)")
        oidc = Oidc(server_metadata_url=_url(where, "server_metadata_url", o["server_metadata_url"]),
                    client_id=o["client_id"].strip(), client_secret=secret, redirect_uri=redirect,
                    cookie_secret=cookie, role_claim=claim.strip(), roles=mapped)
    if not enabled and oidc is None:
        raise HitlgovError(f"{where}: no sign-in method: add [oidc] or [local] enabled = true")
    return AuthConfig(source=where, local=enabled, oidc=oidc)


def streamlit_secrets(config: AuthConfig, cookie_secret: str) -> str:
    """The ``[auth]`` section of Streamlit's secrets.toml for ``st.login`` (TOML text)."""
    import json

    o = config.oidc
    assert o is not None
    q = json.dumps  # a JSON string literal is a valid TOML basic string
    return (f"[auth]\nredirect_uri = {q(o.redirect_uri)}\ncookie_secret = {q(o.cookie_secret or cookie_secret)}\n"
            f"client_id = {q(o.client_id)}\nclient_secret = {q(o.client_secret)}\n"
            f"server_metadata_url = {q(o.server_metadata_url)}\n")
