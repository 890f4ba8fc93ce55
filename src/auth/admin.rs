//! service_role's user administration: create, list, get, update (incl. bans), delete.
//! EXECUTE is granted to service_role only.

use pgrx::prelude::*;
use serde_json::{json, Value};

use super::outcome::{answer, fail, Outcome};
use super::user::{self, apply_update, find_by_email, normalize_email, Editor};
use super::{audit, password};
use crate::errors;

/// Whether `s` has a UUID's shape (36 hex digits and dashes): worth a `::uuid` cast.
pub(crate) fn uuid_like(s: &str) -> bool {
    s.len() == 36 && s.chars().all(|c| c.is_ascii_hexdigit() || c == '-')
}

fn uuid_arg(id: &str) -> Result<String, Value> {
    if uuid_like(id) {
        Ok(id.to_ascii_lowercase())
    } else {
        Err(fail(404, "user_not_found", "User not found"))
    }
}

pub(super) fn existing(id: &str) -> Result<String, Value> {
    let id = uuid_arg(id)?;
    let found =
        errors::spi(crate::plans::get_one::<bool>("SELECT EXISTS (SELECT 1 FROM bknd.users WHERE id = $1::uuid)", &[id.as_str().into()]))
            .unwrap_or(false);
    if found {
        Ok(id)
    } else {
        Err(fail(404, "user_not_found", "User not found"))
    }
}

/// `ban_duration`: "none" lifts a ban; otherwise an interval such as "24h" or "7 days".
fn apply_ban(id: &str, attrs: &Value) -> Result<(), Value> {
    match attrs.get("ban_duration") {
        None | Some(Value::Null) => Ok(()),
        Some(Value::String(s)) if s == "none" => {
            errors::spi(Spi::run_with_args("UPDATE bknd.users SET banned_until = NULL WHERE id = $1::uuid", &[id.into()]));
            Ok(())
        }
        Some(Value::String(s)) => {
            let interval = s.trim().trim_end_matches('h').parse::<f64>().ok().filter(|_| s.ends_with('h'));
            let seconds = match interval {
                Some(hours) => hours * 3600.0,
                None => errors::spi_or(
                    crate::plans::get_one::<f64>("SELECT extract(epoch FROM $1::interval)::float8", &[s.as_str().into()]),
                    None,
                )
                .ok_or_else(|| fail(400, "validation_failed", "ban_duration must be \"none\" or a duration such as \"24h\""))?,
            };
            errors::spi(Spi::run_with_args(
                "UPDATE bknd.users SET banned_until = now() + make_interval(secs => $2) WHERE id = $1::uuid",
                &[id.into(), seconds.into()],
            ));
            // a banned user's sessions end now
            errors::spi(Spi::run_with_args("DELETE FROM bknd.sessions WHERE user_id = $1::uuid", &[id.into()]));
            Ok(())
        }
        Some(_) => Err(fail(400, "validation_failed", "ban_duration must be a string")),
    }
}

#[pg_extern(volatile, parallel_unsafe, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn admin_create_user(attributes: pgrx::JsonB) -> pgrx::JsonB {
    super::console::refuse_developers_and_viewers("create users");
    answer((|| -> Outcome {
        let a = &attributes.0;
        let email = normalize_email(a.get("email").and_then(Value::as_str).unwrap_or(""))?;
        if find_by_email(&email).is_some() {
            return Err(fail(422, "email_exists", "A user with this email address has already been registered"));
        }
        let hash = match a.get("password").and_then(Value::as_str) {
            Some(p) => {
                if let Some(why) = password::weakness(p) {
                    return Err(fail(422, "weak_password", why));
                }
                Some(password::hash(p))
            }
            None => None,
        };
        let object = |key: &str| match a.get(key) {
            Some(v @ Value::Object(_)) => Ok(v.clone()),
            None | Some(Value::Null) => Ok(json!({})),
            Some(_) => Err(fail(400, "validation_failed", format!("{key} must be a JSON object"))),
        };
        let role = a.get("role").and_then(Value::as_str).unwrap_or("authenticated");
        if !matches!(role, "authenticated" | "anon") && !role_granted_to_authenticator(role) {
            return Err(fail(400, "validation_failed", "role must be one the API may assume"));
        }
        let confirmed = a.get("email_confirm").and_then(Value::as_bool).unwrap_or(false);
        let id = user::create(&email, hash.as_deref(), confirmed, object("user_metadata")?, object("app_metadata")?, role);
        apply_ban(&id, a)?;
        audit::log(Some(&id), "user_created_by_admin", None, json!({}));
        Ok(user::json(&id))
    })())
}

fn role_granted_to_authenticator(role: &str) -> bool {
    // console roles are taken only through a member's session, never as an app user's
    if super::console::is_console_role(role) {
        return false;
    }
    errors::spi_or(
        crate::plans::get_one::<bool>(
            "SELECT pg_has_role('authenticator', r.oid, 'MEMBER') AND NOT r.rolsuper FROM pg_roles r WHERE r.rolname = $1",
            &[role.into()],
        ),
        None,
    )
    .unwrap_or(false)
}

#[pg_extern(stable, parallel_safe, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn admin_list_users(page: default!(i32, 1), per_page: default!(i32, 50)) -> pgrx::JsonB {
    let per_page = per_page.clamp(1, 1000) as i64;
    let offset = (page.max(1) as i64 - 1) * per_page;
    let ids: Vec<String> = errors::spi(Spi::connect(|c| {
        c.select("SELECT id::text FROM bknd.users ORDER BY created_at, id LIMIT $1 OFFSET $2", None, &[per_page.into(), offset.into()])?
            .map(|r| r.get::<String>(1).map(Option::unwrap_or_default))
            .collect::<Result<Vec<_>, _>>()
    }));
    let total = errors::spi(crate::plans::get_one::<i64>("SELECT count(*) FROM bknd.users", &[])).unwrap_or(0);
    let users: Vec<Value> = ids.iter().map(|id| user::json(id)).collect();
    pgrx::JsonB(json!({"users": users, "aud": "authenticated", "total": total}))
}

#[pg_extern(stable, parallel_safe, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn admin_get_user(id: &str) -> pgrx::JsonB {
    answer(existing(id).map(|id| user::json(&id)))
}

#[pg_extern(volatile, parallel_unsafe, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn admin_update_user(id: &str, attributes: pgrx::JsonB) -> pgrx::JsonB {
    super::console::refuse_developers_and_viewers("change users");
    answer((|| -> Outcome {
        let id = existing(id)?;
        apply_update(&id, &attributes.0, Editor::Admin)?;
        if let Some(true) = attributes.0.get("email_confirm").and_then(Value::as_bool) {
            errors::spi(Spi::run_with_args(
                "UPDATE bknd.users SET email_confirmed_at = coalesce(email_confirmed_at, now()) WHERE id = $1::uuid",
                &[id.as_str().into()],
            ));
        }
        apply_ban(&id, &attributes.0)?;
        audit::log(Some(&id), "user_updated_by_admin", None, json!({}));
        Ok(user::json(&id))
    })())
}

#[pg_extern(volatile, parallel_unsafe, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn admin_delete_user(id: &str) -> pgrx::JsonB {
    super::console::refuse_developers_and_viewers("delete users");
    answer((|| -> Outcome {
        let id = existing(id)?;
        let user = user::json(&id);
        errors::spi(Spi::run_with_args("DELETE FROM bknd.users WHERE id = $1::uuid", &[id.as_str().into()]));
        audit::log(Some(&id), "user_deleted", None, json!({}));
        Ok(user)
    })())
}
