"""Single sign-on end to end: a local OpenID provider (``oidc-provider-mock``, started by the test),
``hitlgov serve --auth FILE`` and a real headless Chromium.

The browser signs in through the provider's authorisation form, comes back through Streamlit's
``/oauth2callback`` (Authlib), and the app maps the ID token's role claim to hitlgov roles: the
auditor sees the auditor's pages and is refused the Users page by URL, a user whose claim maps
to no role sees nothing, and the audit trail records ``signed_in`` with the provider's identity.
"""
from __future__ import annotations

import sys
from pathlib import Path

import duckdb
import pytest

import browser_helpers as bh
import dashboard_helpers as helpers

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("dashboard-browser")]

HITLGOV = Path(sys.executable).with_name("hitlgov")


@pytest.fixture(scope="module")
def provider():
    import oidc_provider_mock as oidc  # the test extra: a missing install fails, never skips
    users = [oidc.User(sub="alice", claims={"email": "alice@example.com", "groups": ["hg-auditors", "staff"]}),
             oidc.User(sub="mallory", claims={"email": "mallory@example.com", "groups": ["staff"]})]
    with oidc.run_server_in_thread(user_claims=users) as server:
        yield f"http://localhost:{server.server_port}"


@pytest.fixture(scope="module")
def served(provider, tmp_path_factory):
    base = tmp_path_factory.mktemp("oidc")
    db = helpers.empty_store(base)
    secret = base / "client-secret"
    secret.write_text("any-secret-the-mock-accepts\n")
    secret.chmod(0o600)
    port = bh.free_port()
    auth = base / "auth.toml"
    auth.write_text(f"""[oidc]
server_metadata_url = "{provider}/.well-known/openid-configuration"
client_id = "hitlgov-test"
client_secret_file = "{secret}"
redirect_uri = "http://localhost:{port}/oauth2callback"
role_claim = "groups"

[oidc.roles]
"hg-auditors" = "auditor"
""")
    cmd = [str(HITLGOV) if HITLGOV.exists() else "hitlgov", "serve", "--auth", str(auth), "--db", str(db),
           "--port", str(port)]
    with bh.served(cmd, port, base / "serve.log"):
        yield f"http://localhost:{port}", db


@pytest.fixture(scope="module")
def browser():
    with bh.chromium() as b:
        yield b


def sign_in(browser, url: str, sub: str):
    context = browser.new_context()
    page = context.new_page()
    page.goto(url, wait_until="domcontentloaded")
    page.wait_for_selector("h1:has-text('Sign in')", timeout=60_000)
    page.get_by_role("button", name="Sign in with your organisation's account").click()
    page.wait_for_selector("text=Authorize Client", timeout=60_000)      # the provider's own page
    page.locator(f"button[name=sub][value={sub}]").click()
    return context, page


def test_oidc_sign_in_maps_the_role_claim(served, browser):
    url, db = served
    context, page = sign_in(browser, url, "alice")
    try:
        page.wait_for_selector("text=Signed in as alice@example.com", timeout=60_000)
        page.wait_for_selector("h1:has-text('Overview')", timeout=60_000)
        bh.settle(page)
        nav = page.locator("[data-testid=stSidebarNav]").inner_text()
        for title in ("Overview", "Audit trail", "Data", "Reports"):
            assert title in nav
        assert "Users" not in nav                        # an auditor is not an administrator
        page.goto(f"{url}/users", wait_until="domcontentloaded")   # ... not even by URL
        page.wait_for_selector("text=Not permitted", timeout=60_000)
        assert page.locator("h1:has-text('Users')").count() == 0
    finally:
        context.close()
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute("SELECT actor, CAST(detail AS VARCHAR) FROM audit_events WHERE kind = 'signed_in'").fetchall()
    assert any(actor == "oidc:alice@example.com" and '"auditor"' in detail for actor, detail in rows), rows


def test_oidc_user_without_a_mapped_role_sees_nothing(served, browser):
    url, _db = served
    context, page = sign_in(browser, url, "mallory")
    try:
        page.wait_for_selector("text=grants you no hitlgov role", timeout=60_000)
        bh.settle(page)
        assert page.locator("h1").count() == 0 and page.locator("[data-testid=stMetric]").count() == 0
    finally:
        context.close()
