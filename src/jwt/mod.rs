//! JWT in SQL: `bknd.jwt_sign`, `bknd.jwt_verify`, `bknd.authenticate` (and `bknd.run_as`,
//! authenticate and one statement at once).

pub mod cache;
pub mod keys;
mod run_as;
pub mod token;

use std::ffi::CString;
use std::rc::Rc;

use pgrx::pg_sys;
use pgrx::prelude::*;
use pgrx::JsonB;
use serde_json::{Map, Value};

use crate::errors::{self, Code};
use crate::secrets;

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

/// Verify a token (from the cache when this backend has verified it before) or fail with
/// SQLSTATE 28000 (invalid_authorization_specification).
fn verified(token: &str) -> Rc<token::Verified> {
    let now = now();
    let keys = secrets::keys(); // first: loading the keys may empty the cache
    let result = match cache::get(token, now) {
        Some(hit) => hit,
        None => token::verify_payload(token, &keys, now).map(|v| {
            let v = Rc::new(v);
            cache::put(token, v.clone());
            v
        }),
    };
    match result {
        Ok(v) => v,
        Err(e) => errors::raise(Code::ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION, e.to_string()),
    }
}

/// Sign `claims` with the HS256 secret: `iat` set, and `exp` when `expires_in` is given.
pub fn sign_claims(mut claims: Map<String, Value>, expires_in: Option<i64>) -> String {
    let iat = now();
    claims.insert("iat".into(), iat.into());
    if let Some(seconds) = expires_in {
        claims.insert("exp".into(), (iat + seconds).into());
    }
    let keys = secrets::signing_secret();
    token::sign_hs256(&claims, keys.hmac_secret().unwrap_or_default())
}

pub fn unix_now() -> i64 {
    now()
}

/// Sign `claims` with the HS256 secret; `iat` is set, and `exp` when `expires_in` is not NULL.
/// Superusers and service_role only (EXECUTE is granted to nobody else).
#[pg_extern(volatile, parallel_safe)]
fn jwt_sign(claims: JsonB, expires_in: default!(Option<i32>, 3600)) -> String {
    // console viewers and developers act as service_role but may not mint its key
    crate::auth::console::refuse_developers_and_viewers("sign tokens");
    let JsonB(Value::Object(claims)) = claims else {
        errors::invalid("claims must be a JSON object");
    };
    if expires_in.is_some_and(|s| s <= 0) {
        errors::invalid("expires_in must be a positive number of seconds, or NULL for no expiry");
    }
    sign_claims(claims, expires_in.map(i64::from))
}

/// Verify a token (HS256/384/512 with the secret; RS256/384/512 and ES256 with the JWKS) and
/// return its claims as signed, as text. Errors with SQLSTATE 28000 on any defect.
#[pg_extern(stable, strict, parallel_safe)]
fn jwt_verify_text(token: &str) -> String {
    verified(token).payload.clone()
}

/// `bknd.jwt_verify(token text) RETURNS jsonb`: the claims of a verified token. A backend
/// keeps the jsonb it made for each token it has verified, so a repeated token costs a hash
/// look-up and a copy instead of a signature check and a JSON parse (a plain C function: a
/// pgrx `JsonB` would go through serde and text each time).
#[pg_guard]
#[no_mangle]
pub unsafe extern "C-unwind" fn jwt_verify_jsonb(fcinfo: pg_sys::FunctionCallInfo) -> pg_sys::Datum {
    let Some(token) = pgrx::fcinfo::pg_getarg::<&str>(fcinfo, 0) else {
        // declared STRICT: never called with NULL
        errors::invalid("token must not be NULL");
    };
    let verified = verified(token);
    let bytes = verified.jsonb.get_or_init(|| {
        let datum = crate::plans::jsonb_from_text(&verified.payload);
        let value = datum.cast_mut_ptr::<pg_sys::varlena>();
        let length = pgrx::varlena::varsize_any(value);
        std::slice::from_raw_parts(value as *const u8, length).into()
    });
    let copy = pg_sys::palloc(bytes.len()) as *mut u8;
    std::ptr::copy_nonoverlapping(bytes.as_ptr(), copy, bytes.len());
    pg_sys::Datum::from(copy)
}

/// The version-1 calling convention record PostgreSQL looks up for `jwt_verify_jsonb`.
#[no_mangle]
#[doc(hidden)]
pub extern "C" fn pg_finfo_jwt_verify_jsonb() -> &'static pg_sys::Pg_finfo_record {
    static V1: pg_sys::Pg_finfo_record = pg_sys::Pg_finfo_record { api_version: 1 };
    &V1
}

extension_sql!(
    r#"
CREATE FUNCTION bknd.jwt_verify(token text) RETURNS jsonb
LANGUAGE c STABLE STRICT PARALLEL SAFE AS 'MODULE_PATHNAME', 'jwt_verify_jsonb';
COMMENT ON FUNCTION bknd.jwt_verify(text) IS 'Verify a JWT and return its claims (SQLSTATE 28000 when invalid)';
"#,
    name = "jwt_verify",
    requires = [jwt_verify_text],
);

/// Verify `token`, then transaction-locally set `request.jwt.claims` (and `request.method`,
/// `request.path`, `request.headers` when given) and switch to the token's role: its `role`
/// claim, else `authenticated` when it has a `sub`, else `anon_role`. NULL or '' means
/// `anon_role` (default `anon`). Only roles granted to the session user may be assumed, and
/// never a superuser.
#[pg_extern(volatile, parallel_unsafe)]
pub(crate) fn authenticate(
    token: Option<&str>,
    method: default!(Option<&str>, "NULL"),
    path: default!(Option<&str>, "NULL"),
    headers: default!(Option<JsonB>, "NULL"),
    anon_role: default!(Option<&str>, "'anon'"),
) -> JsonB {
    let anon_role = anon_role.unwrap_or("anon");
    if let Some(console) = token.map(str::trim).and_then(|t| t.strip_prefix(crate::auth::console::TOKEN_PREFIX)) {
        return console_session(console, method, path, headers, anon_role);
    }
    let mut claims = match token.map(str::trim) {
        None | Some("") => Map::new(),
        Some(t) => verified(t).claims(),
    };
    let role = match claims.get("role") {
        Some(Value::String(r)) if !r.is_empty() => r.clone(),
        Some(Value::String(_)) | None | Some(Value::Null) => {
            if claims.contains_key("sub") {
                "authenticated".into()
            } else {
                anon_role.into()
            }
        }
        Some(_) => errors::raise(Code::ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION, "JWT role claim must be a string"),
    };
    if crate::auth::console::is_console_role(&role) {
        errors::raise(
            Code::ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION,
            format!("role \"{role}\" is taken only through a console session"),
        );
    }
    check_assumable(&role);
    claims.insert("role".into(), Value::String(role.clone()));
    let claims = Value::Object(claims);

    become_caller(&role, &claims, method, path, headers);
    JsonB(claims)
}

/// Transaction-locally: the claims and the request as policies read them, then the role.
fn become_caller(role: &str, claims: &Value, method: Option<&str>, path: Option<&str>, headers: Option<JsonB>) {
    set_local("request.jwt.claims", &claims.to_string());
    if let Some(m) = method {
        set_local("request.method", m);
    }
    if let Some(p) = path {
        set_local("request.path", p);
    }
    if let Some(JsonB(h)) = headers {
        set_local("request.headers", &h.to_string());
    }
    set_local("role", role);
    crate::identity::remember_authenticated_role();
}

/// `bknd.authenticate` for a console session (`bknd-console:SESSION[|VIEW_AS]`): the member's
/// console role, or the caller they view the data as; read-only for viewers and views.
fn console_session(token: &str, method: Option<&str>, path: Option<&str>, headers: Option<JsonB>, anon_role: &str) -> JsonB {
    let (session, view_as) = match token.split_once('|') {
        Some((s, v)) => (s, Some(v)),
        None => (token, None),
    };
    // through SQL, so the definer function's search_path holds; the plan is kept
    let answer = errors::spi(crate::plans::get_one::<JsonB>(
        "SELECT bknd.console_claims($1, $2, $3)",
        &[session.into(), view_as.into(), anon_role.into()],
    ));
    let Some(JsonB(answer)) = answer else { errors::raise(Code::ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION, "no console session") };
    let role = answer["role"].as_str().unwrap_or_default().to_string();
    check_assumable(&role);
    let mut claims = answer["claims"].clone();
    claims["role"] = Value::String(role.clone());
    become_caller(&role, &claims, method, path, headers);
    if answer["read_only"].as_bool().unwrap_or(true) {
        set_local("transaction_read_only", "on");
    }
    JsonB(claims)
}

/// A role may be assumed if it exists, is not a superuser, and the session user is a member.
pub(crate) fn check_assumable(role: &str) {
    let refuse = |why: String| -> ! { errors::raise(Code::ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION, why) };
    let Ok(name) = CString::new(role) else { refuse("JWT role claim contains a NUL byte".into()) };
    let oid = unsafe { pg_sys::get_role_oid(name.as_ptr(), true) };
    if oid == pg_sys::InvalidOid {
        refuse(format!("role \"{role}\" named in the JWT does not exist"));
    }
    if unsafe { pg_sys::superuser_arg(oid) } {
        refuse(format!("role \"{role}\" named in the JWT is a superuser and cannot be assumed"));
    }
    if !unsafe { pg_sys::is_member_of_role(pg_sys::GetSessionUserId(), oid) } {
        refuse(format!("role \"{role}\" named in the JWT is not granted to the session user"));
    }
}

/// `set_config(name, value, true)` without going through SQL.
pub(crate) fn set_local(name: &str, value: &str) {
    let (Ok(n), Ok(v)) = (CString::new(name), CString::new(value)) else {
        errors::invalid(format!("{name} contains a NUL byte"));
    };
    unsafe {
        pg_sys::set_config_option(
            n.as_ptr(),
            v.as_ptr(),
            pg_sys::GucContext::PGC_USERSET,
            pg_sys::GucSource::PGC_S_SESSION,
            pg_sys::GucAction::GUC_ACTION_LOCAL,
            true,
            PgLogLevel::ERROR as i32,
            false,
        );
    }
}
