"""Users (administrators): the local accounts, adding one, disabling or re-enabling one.

The same functions as ``hitlgov user add/disable/enable`` (:mod:`hitlgov.accounts`); every change is
an audit event naming the administrator. Accounts of the identity provider are managed there.
"""
from __future__ import annotations

import streamlit as st
from hitlgov.dashboard import access, ui

from hitlgov import accounts
from hitlgov.errors import HitlgovError

view = ui.page("Users", "Local accounts that can sign in to this dashboard, their roles, and whether they are "
               "enabled. Passwords are stored only as Argon2id hashes.", needs_data=False)

try:
    users = accounts.list_users(view.db)
except HitlgovError as exc:
    st.error(str(exc))
    st.stop()
ui.table(users, column_order=["name", "role", "disabled", "created_at", "updated_at"],
         column_config={"name": "User", "role": "Role", "disabled": st.column_config.CheckboxColumn("Disabled"),
                        "created_at": st.column_config.DatetimeColumn("Created", format="YYYY-MM-DD HH:mm"),
                        "updated_at": st.column_config.DatetimeColumn("Changed", format="YYYY-MM-DD HH:mm")})

ui.section("Add an account")
with st.form("user_add", clear_on_submit=True):
    c1, c2 = st.columns(2)
    name = c1.text_input("User name", key="ua_name", max_chars=64)
    role = c2.selectbox("Role", list(accounts.ROLES), format_func=access.ROLE_TITLES.get, key="ua_role")
    password = st.text_input(f"Initial password (at least {accounts.MIN_PASSWORD} characters)", type="password",
                             key="ua_password", max_chars=accounts.MAX_PASSWORD)
    add = st.form_submit_button("Add account", icon=":material/person_add:")
if add:
    access.require_action("manage_users")
    try:
        accounts.add_user(view.db, name.strip(), role, password)
    except HitlgovError as exc:
        st.error(f"No account was added: {ui.md(exc)}")
    else:
        st.success(f"Account {ui.md(name.strip())} added with role {access.ROLE_TITLES[role]}.")
        st.rerun()

if users:
    ui.section("Disable or re-enable an account")
    c1, c2 = st.columns([3, 1])
    target = c1.selectbox("Account", [u["name"] for u in users], key="ud_name")
    current = next(u for u in users if u["name"] == target)
    label = "Re-enable" if current["disabled"] else "Disable"
    if c2.button(label, key="ud_toggle", icon=":material/person_off:" if not current["disabled"] else None):
        who = access.require_action("manage_users")
        if who.method == "local" and target == who.name and not current["disabled"]:
            st.error("You cannot disable your own account while signed in with it.")
        else:
            try:
                accounts.set_disabled(view.db, target, not current["disabled"])
            except HitlgovError as exc:
                st.error(ui.md(exc))
            else:
                st.rerun()
