//! Roles exist with the right attributes; the JWT secret is unreadable by API roles by any
//! SQL route; it can be replaced by a superuser only, and every backend notices.

use bknd_tests::*;
use serde_json::json;

const API_ROLES: [&str; 3] = ["anon", "authenticated", "authenticator"];

#[test]
fn roles_have_the_contracted_attributes() {
    let db = TestDb::new("roles");
    let mut c = db.admin();
    let row = c
        .query_one(
            "SELECT r.rolcanlogin, r.rolinherit,
                    pg_has_role('authenticator', 'anon', 'MEMBER'),
                    pg_has_role('authenticator', 'authenticated', 'MEMBER'),
                    pg_has_role('authenticator', 'service_role', 'MEMBER'),
                    (SELECT rolbypassrls FROM pg_roles WHERE rolname = 'service_role'),
                    (SELECT rolcanlogin FROM pg_roles WHERE rolname = 'anon'),
                    (SELECT rolcanlogin FROM pg_roles WHERE rolname = 'authenticated'),
                    (SELECT rolcanlogin FROM pg_roles WHERE rolname = 'service_role')
             FROM pg_roles r WHERE r.rolname = 'authenticator'",
            &[],
        )
        .unwrap();
    let flags: Vec<bool> = (0..9).map(|i| row.get(i)).collect();
    assert_eq!(flags, vec![true, false, true, true, true, true, false, false, false]);
    // A second database reuses the roles instead of failing.
    let _second = TestDb::new("roles_again");
}

#[test]
fn the_generated_secret_is_long_and_random() {
    let a = TestDb::new("secret_a");
    let b = TestDb::new("secret_b");
    let read = |db: &TestDb| -> String {
        db.admin().query_one("SELECT value FROM bknd.secrets WHERE name = 'jwt_secret'", &[]).unwrap().get(0)
    };
    let (sa, sb) = (read(&a), read(&b));
    assert!(sa.len() >= 43, "secret too short: {} chars", sa.len()); // 32 bytes in base64
    assert_ne!(sa, sb, "two installs must not share a secret");
}

#[test]
fn api_roles_cannot_read_the_secret_by_any_route() {
    let db = TestDb::new("secret_routes");
    let secret: String =
        db.admin().query_one("SELECT value FROM bknd.secrets WHERE name = 'jwt_secret'", &[]).unwrap().get(0);
    for role in API_ROLES {
        let mut c = db.connect_as("authenticator");
        if role != "authenticator" {
            c.batch_execute(&format!("SET ROLE {role}")).unwrap();
        }
        // the table
        expect_error(&mut c, "SELECT * FROM bknd.secrets", "42501");
        expect_error(&mut c, "COPY bknd.secrets TO STDOUT", "42501");
        // functions: the generator and the signer are not theirs to call
        expect_error(&mut c, "SELECT bknd.generate_secret()", "42501");
        expect_error(&mut c, "SELECT bknd.jwt_sign('{}')", "42501");
        expect_error(&mut c, "SELECT bknd.set_jwt_secret(NULL)", "42501");
        // settings: nothing holds it
        let setting = scalar_string(&mut c, "SELECT current_setting('bknd.jwt_secret', true)");
        assert!(setting.is_none_or(|s| s.is_empty()));
        let in_settings = scalar_i64(&mut c, &format!(
            "SELECT count(*) FROM pg_settings WHERE setting LIKE '%{secret}%'"
        ));
        assert_eq!(in_settings, 0, "{role} sees the secret in pg_settings");
        let in_db_settings = scalar_i64(&mut c, &format!(
            "SELECT count(*) FROM pg_db_role_setting, unnest(setconfig) s WHERE s LIKE '%{secret}%'"
        ));
        assert_eq!(in_db_settings, 0, "{role} sees the secret in pg_db_role_setting");
        // statistics: pg_stats hides columns the role cannot read
        let in_stats = scalar_i64(&mut c, "SELECT count(*) FROM pg_stats WHERE schemaname = 'bknd' AND tablename = 'secrets'");
        assert_eq!(in_stats, 0);
        // views in schema bknd: there are none to leak through
        let views = scalar_i64(&mut c, "SELECT count(*) FROM pg_views WHERE schemaname = 'bknd'");
        assert_eq!(views, 0);
    }
}

#[test]
fn only_the_expected_functions_are_callable_by_api_roles() {
    let db = TestDb::new("callable");
    let mut c = db.admin();
    for (role, expected) in [
        ("anon", vec![
            "auth_public_settings", "authenticate", "claims", "email", "exchange_auth_code", "extension", "filename",
            "foldername", "jwt_verify", "jwt_verify_text", "refresh_session", "role", "sign_in_password", "sign_up",
            "storage_begin_copy", "storage_begin_upload", "storage_list", "storage_move", "storage_object",
            "storage_public_object", "storage_remove", "storage_sign", "storage_upload", "storage_verify", "touch_updated_at", "uid",
            "verify_email_code", "verify_email_link",
        ]),
        ("authenticated", vec![
            "auth_public_settings", "authenticate", "claims", "email", "exchange_auth_code", "extension", "filename",
            "foldername", "get_user", "jwt_verify", "jwt_verify_text", "mfa_challenge", "mfa_enroll", "mfa_unenroll",
            "mfa_verify", "refresh_session", "role", "sign_in_password", "sign_out", "sign_up", "storage_begin_copy",
            "storage_begin_upload", "storage_list", "storage_move", "storage_object", "storage_public_object",
            "storage_remove", "storage_sign", "storage_upload", "storage_verify", "touch_updated_at", "uid", "update_user",
            "verify_email_code", "verify_email_link",
        ]),
    ] {
        let rows = c
            .query(
                "SELECT DISTINCT p.proname::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                 WHERE n.nspname = 'bknd' AND has_function_privilege($1, p.oid, 'EXECUTE') ORDER BY 1",
                &[&role],
            )
            .unwrap();
        let names: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
        assert_eq!(names, expected, "functions {role} may execute");
    }
    // service_role may sign and build the schema, but not read or replace the secret
    for denied in ["generate_secret", "set_jwt_secret", "set_jwks", "configure_auth"] {
        let allowed: bool = c
            .query_one(
                "SELECT bool_or(has_function_privilege('service_role', p.oid, 'EXECUTE'))
                 FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                 WHERE n.nspname = 'bknd' AND p.proname = $1",
                &[&denied],
            )
            .unwrap()
            .get(0);
        assert!(!allowed, "service_role may execute {denied}");
    }
}

#[test]
fn set_jwt_secret_is_superuser_only_and_validated() {
    let db = TestDb::new("set_secret");
    let mut c = db.connect_as("authenticator");
    c.batch_execute("SET ROLE service_role").unwrap();
    expect_error(&mut c, "SELECT bknd.set_jwt_secret('0123456789abcdef0123456789abcdef0123')", "42501");
    let mut admin = db.admin();
    let msg = expect_error(&mut admin, "SELECT bknd.set_jwt_secret('too-short')", "22023");
    assert!(msg.contains("at least 32"), "{msg}");
}

#[test]
fn replacing_the_secret_invalidates_every_backends_cache() {
    let db = TestDb::new("rotate");
    let old_token = db.token(json!({"sub": "00000000-0000-0000-0000-000000000001"}));
    // Another backend verifies (and caches the keys) before the change.
    let mut other = db.connect_as("authenticator");
    other.query_one("SELECT bknd.jwt_verify($1)", &[&old_token]).unwrap();

    let external = "an-existing-identity-providers-secret-0123456789";
    db.admin().execute("SELECT bknd.set_jwt_secret($1)", &[&external]).unwrap();

    let err = other.query_one("SELECT bknd.jwt_verify($1)", &[&old_token]).unwrap_err();
    assert_eq!(sqlstate(&err), "28000");
    let foreign = jwt::hs("HS256", external.as_bytes(), &json!({"sub": "x", "exp": jwt::now() + 60}));
    other.query_one("SELECT bknd.jwt_verify($1)", &[&foreign]).unwrap();
    // and bknd's own signing uses the new secret
    let new_token = db.token(json!({"role": "anon"}));
    other.query_one("SELECT bknd.jwt_verify($1)", &[&new_token]).unwrap();
    // NULL generates a fresh random secret
    db.admin().execute("SELECT bknd.set_jwt_secret()", &[]).unwrap();
    assert!(other.query_one("SELECT bknd.jwt_verify($1)", &[&new_token]).is_err());
}
