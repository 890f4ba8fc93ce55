//! Who is calling, and running a closure as the extension's owner.
//!
//! `bknd.authenticate` must stay SECURITY INVOKER (a SECURITY DEFINER function may not switch
//! role), yet it must read the JWT secret that no API role can read. So the Rust code switches
//! the user id to the extension owner around that one read, the way SECURITY DEFINER does
//! internally, and restores it afterwards, also when an error unwinds through.

use pgrx::pg_sys;
use pgrx::prelude::*;

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
    let owner = Spi::get_one::<pg_sys::Oid>("SELECT extowner FROM pg_catalog.pg_extension WHERE extname = 'bknd'");
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

/// Whether the current user has the privileges of `role` (owner checks use this).
pub fn has_privileges_of(role: pg_sys::Oid) -> bool {
    unsafe { pg_sys::has_privs_of_role(current_user(), role) }
}
