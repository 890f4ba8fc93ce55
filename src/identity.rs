//! Who is calling, and running a closure as the extension's owner.
//!
//! `bknd.authenticate` must stay SECURITY INVOKER (a SECURITY DEFINER function may not switch
//! role), yet it must read the JWT secret that no API role can read. So the Rust code switches
//! the user id to the extension owner around that one read, the way SECURITY DEFINER does
//! internally, and restores it afterwards, also when an error unwinds through.

use pgrx::pg_sys;

use crate::errors::{self, Code};

struct RestoreUser {
    user: pg_sys::Oid,
    context: i32,
}

impl Drop for RestoreUser {
    fn drop(&mut self) {
        unsafe { pg_sys::SetUserIdAndSecContext(self.user, self.context) };
    }
}

/// Run `f` with the privileges of the role that owns the extension.
pub fn as_extension_owner<R>(f: impl FnOnce() -> R) -> R {
    let owner = extension_owner();
    let mut user = pg_sys::InvalidOid;
    let mut context: i32 = 0;
    unsafe {
        pg_sys::GetUserIdAndSecContext(&mut user, &mut context);
        pg_sys::SetUserIdAndSecContext(owner, context | pg_sys::SECURITY_LOCAL_USERID_CHANGE as i32);
    }
    let _restore = RestoreUser { user, context };
    f()
}

/// Run `f` as the current user, in the security context of a SECURITY DEFINER function: the
/// role may not change (`SET ROLE`, `set_config('role', ...)`) until `f` returns.
pub fn with_role_changes_refused<R>(f: impl FnOnce() -> R) -> R {
    let mut user = pg_sys::InvalidOid;
    let mut context: i32 = 0;
    unsafe {
        pg_sys::GetUserIdAndSecContext(&mut user, &mut context);
        pg_sys::SetUserIdAndSecContext(user, context | pg_sys::SECURITY_LOCAL_USERID_CHANGE as i32);
    }
    let _restore = RestoreUser { user, context };
    f()
}

/// The owner of extension `bknd` (whoever ran CREATE EXTENSION, a superuser).
pub fn extension_owner() -> pg_sys::Oid {
    let owner = crate::plans::get_one::<pg_sys::Oid>("SELECT extowner FROM pg_catalog.pg_extension WHERE extname = 'bknd'", &[]);
    match errors::spi_or(owner, None) {
        Some(oid) => oid,
        None => errors::raise(Code::ERRCODE_UNDEFINED_OBJECT, "extension bknd is not installed"),
    }
}

/// The current (effective) user.
pub fn current_user() -> pg_sys::Oid {
    unsafe { pg_sys::GetUserId() }
}

pub fn is_superuser() -> bool {
    unsafe { pg_sys::superuser() }
}

/// Fail with 42501 unless the caller is a superuser.
pub fn require_superuser(what: &str) {
    if !is_superuser() {
        errors::raise(Code::ERRCODE_INSUFFICIENT_PRIVILEGE, format!("permission denied: only a superuser may {what}"));
    }
}

/// Fail with 42501 unless the role acting (the session's, as `bknd.authenticate` took it;
/// SECURITY DEFINER does not hide it) is one of `console_roles` (`owner`, `admin`, ...) or a
/// superuser: what the console's owners or admins manage, which psql's superusers may too.
pub fn require_console_role(what: &str, console_roles: &[&str]) {
    let role = acting_role(what);
    if role.strip_prefix("bknd_console_").is_some_and(|r| console_roles.contains(&r)) {
        return;
    }
    let superuser =
        errors::spi(crate::plans::get_one::<bool>("SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = $1", &[role.as_str().into()]))
            .unwrap_or(false);
    if !superuser {
        let who = console_roles.join(" or ");
        errors::raise(Code::ERRCODE_INSUFFICIENT_PRIVILEGE, format!("permission denied: only a superuser or a console {who} may {what}"));
    }
}

/// Whether the current user has the privileges of `role` (owner checks use this).
pub fn has_privileges_of(role: pg_sys::Oid) -> bool {
    unsafe { pg_sys::has_privs_of_role(current_user(), role) }
}

thread_local! {
    /// The role `bknd.authenticate` took in this transaction (cleared when it ends).
    static AUTHENTICATED_AS: std::cell::Cell<Option<pg_sys::Oid>> = const { std::cell::Cell::new(None) };
}

/// Remember the role `bknd.authenticate` just took (the outer user), until the transaction ends.
pub fn remember_authenticated_role() {
    let outer = unsafe { pg_sys::GetOuterUserId() };
    if AUTHENTICATED_AS.with(|a| a.replace(Some(outer))).is_none() {
        let clear = || AUTHENTICATED_AS.with(|a| a.set(None));
        pgrx::register_xact_callback(pgrx::PgXactCallbackEvent::Commit, clear);
        pgrx::register_xact_callback(pgrx::PgXactCallbackEvent::Abort, clear);
    }
}

/// The role the caller acts as: the outer user, which SECURITY DEFINER functions do not hide.
/// Refused (42501) when it is not the role `bknd.authenticate` took in this transaction: SQL the
/// caller wrote switched it (`set_config('role', ...)` in a function called over REST, which
/// PostgreSQL allows because the session's login role is a member of every API role), and a
/// function that acts for the authenticated caller must not act for that one.
pub fn acting_role(what: &str) -> String {
    refuse_switched_role(what);
    let outer = unsafe { pg_sys::GetOuterUserId() };
    errors::spi(crate::plans::get_one::<String>("SELECT rolname::text FROM pg_catalog.pg_roles WHERE oid = $1", &[outer.into()]))
        .unwrap_or_default()
}

/// Refuse (42501) when the role is not the one `bknd.authenticate` took in this transaction:
/// also for the functions only the sidecar's login role may call, which SQL running as an API
/// role could otherwise reach with `RESET ROLE` (the login role is the session's).
pub fn refuse_switched_role(what: &str) {
    let outer = unsafe { pg_sys::GetOuterUserId() };
    if AUTHENTICATED_AS.with(|a| a.get()).is_some_and(|taken| taken != outer) {
        errors::raise(
            Code::ERRCODE_INSUFFICIENT_PRIVILEGE,
            format!("permission denied to {what}: the role changed after bknd.authenticate"),
        );
    }
}
