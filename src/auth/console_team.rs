//! The console's team, managed from the console by its owners: invite a member with a role
//! (a one-time link to set the password), change a member's role, remove a member. The last
//! owner can be neither removed nor demoted. The checks are on the role the session took
//! (`bknd.authenticate`), so SQL that switches roles cannot pass them; superusers (psql, the
//! `bknd members add` CLI) may too.

use pgrx::prelude::*;
use serde_json::{json, Value};

use super::console::{checked_email, member_json, new_link, MEMBER, ROLES};
use crate::errors::{self, Code};

fn refuse_all_but_owners(what: &str) {
    crate::identity::require_console_role(what, &["owner"]);
}

fn checked_role(role: &str) {
    if !ROLES.contains(&role) {
        errors::raise_hint(
            Code::ERRCODE_INVALID_PARAMETER_VALUE,
            format!("unknown console role {role:?}"),
            "owner, admin, developer or viewer",
        );
    }
}

/// Every member: `[{id, email, role, has_password, totp, created_at, last_sign_in_at}]`, by email.
#[pg_extern(stable, parallel_safe, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn console_team() -> pgrx::JsonB {
    let sql = format!("SELECT coalesce(jsonb_agg({MEMBER} ORDER BY lower(m.email)), '[]') FROM bknd.console_members m");
    pgrx::JsonB(member_json(&sql, &[]).unwrap_or(json!([])))
}

/// Invite a new member: `{member, set_password_token}` (a link valid 24 hours). An email that
/// is a member already is refused (change its role instead). Owners only.
#[pg_extern(volatile, parallel_unsafe, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn console_invite_member(email: &str, role: &str) -> pgrx::JsonB {
    refuse_all_but_owners("invite members");
    checked_role(role);
    let email = checked_email(email);
    let member = member_json(
        &format!(
            "WITH m AS (INSERT INTO bknd.console_members (email, role) VALUES ($1, $2) \
               ON CONFLICT (lower(email)) DO NOTHING RETURNING *) SELECT {MEMBER} FROM m"
        ),
        &[email.as_str().into(), role.into()],
    )
    .unwrap_or_else(|| errors::raise(Code::ERRCODE_UNIQUE_VIOLATION, format!("{email} is a member already: change the role instead")));
    let token = new_link(member["id"].as_str().unwrap_or_default());
    pgrx::JsonB(json!({"member": member, "set_password_token": token}))
}

/// The member `id` has, or 404-like P0002 when there is none; locks the owners' rows so two
/// changes cannot each leave the other as the last owner and then both go.
fn lock_member(id: &str) -> Value {
    errors::spi(Spi::run("SELECT 1 FROM bknd.console_members WHERE role = 'owner' FOR UPDATE"));
    let found = super::admin::uuid_like(id)
        .then(|| member_json(&format!("SELECT {MEMBER} FROM bknd.console_members m WHERE m.id = $1::uuid"), &[id.into()]))
        .flatten();
    found.unwrap_or_else(|| errors::raise(Code::ERRCODE_NO_DATA_FOUND, "no such member"))
}

fn refuse_last_owner(member: &Value, what: &str) {
    if member["role"] != "owner" {
        return;
    }
    let owners =
        errors::spi(crate::plans::get_one::<i64>("SELECT count(*) FROM bknd.console_members WHERE role = 'owner'", &[])).unwrap_or(0);
    if owners <= 1 {
        errors::raise_hint(Code::ERRCODE_RESTRICT_VIOLATION, format!("cannot {what} the last owner"), "make another member an owner first");
    }
}

/// Change a member's role. Owners only; never the last owner's.
#[pg_extern(volatile, parallel_unsafe, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn console_set_member_role(id: &str, role: &str) -> pgrx::JsonB {
    refuse_all_but_owners("change members' roles");
    checked_role(role);
    let member = lock_member(id);
    if role != "owner" {
        refuse_last_owner(&member, "demote");
    }
    let member = member_json(
        &format!("WITH m AS (UPDATE bknd.console_members SET role = $2, updated_at = now() WHERE id = $1::uuid RETURNING *) SELECT {MEMBER} FROM m"),
        &[id.into(), role.into()],
    );
    pgrx::JsonB(member.unwrap_or(Value::Null))
}

/// Remove a member (their sessions, links and snippets go with them; their audit entries stay).
/// Owners only; never the last owner.
#[pg_extern(volatile, parallel_unsafe, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn console_remove_member(id: &str) -> pgrx::JsonB {
    refuse_all_but_owners("remove members");
    let member = lock_member(id);
    refuse_last_owner(&member, "remove");
    errors::spi(Spi::run_with_args("DELETE FROM bknd.console_members WHERE id = $1::uuid", &[id.into()]));
    pgrx::JsonB(member)
}
