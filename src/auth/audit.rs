//! The auth audit log: sign-ups, sign-ins, failures, refresh-token reuse, rate limiting.

use serde_json::Value;

use crate::errors;

pub fn log(user: Option<&str>, action: &str, ip: Option<&str>, detail: Value) {
    errors::spi(crate::plans::run(
        "INSERT INTO bknd.audit_log (user_id, action, ip, detail) VALUES ($1::uuid, $2, $3::inet, $4)",
        &[user.into(), action.into(), ip.into(), pgrx::JsonB(detail).into()],
    ));
}
