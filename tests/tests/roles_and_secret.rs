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
    let a = TestDb::installed("secret_a");
    let b = TestDb::installed("secret_b");
    let read =
        |db: &TestDb| -> String { db.admin().query_one("SELECT value FROM bknd.secrets WHERE name = 'jwt_secret'", &[]).unwrap().get(0) };
    let (sa, sb) = (read(&a), read(&b));
    assert!(sa.len() >= 43, "secret too short: {} chars", sa.len()); // 32 bytes in base64
    assert_ne!(sa, sb, "two installs must not share a secret");
}

#[test]
fn api_roles_cannot_read_the_secret_by_any_route() {
    let db = TestDb::new("secret_routes");
    let secret: String = db.admin().query_one("SELECT value FROM bknd.secrets WHERE name = 'jwt_secret'", &[]).unwrap().get(0);
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
        let in_settings = scalar_i64(&mut c, &format!("SELECT count(*) FROM pg_settings WHERE setting LIKE '%{secret}%'"));
        assert_eq!(in_settings, 0, "{role} sees the secret in pg_settings");
        let in_db_settings =
            scalar_i64(&mut c, &format!("SELECT count(*) FROM pg_db_role_setting, unnest(setconfig) s WHERE s LIKE '%{secret}%'"));
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
        (
            "anon",
            vec![
                // what an agent is told (get_context, get_advisors, generated types), as the caller
                "advisors",
                "agent_context",
                "api_schema",
                "auth_public_settings",
                "authenticate",
                "claims",
                "email",
                "exchange_auth_code",
                "extension",
                "filename",
                "foldername",
                "get_bucket",
                "jwt_verify",
                "jwt_verify_text",
                "list_buckets",
                "realtime_authorize",
                "realtime_log_change",
                "realtime_probe",
                "realtime_replay",
                "realtime_send",
                "realtime_send_bytes",
                "realtime_send_from",
                "realtime_topic",
                "realtime_visibility_sql",
                "realtime_visible",
                "refresh_session",
                "role",
                "sign_in_password",
                "sign_up",
                "storage_begin_copy",
                "storage_begin_move",
                "storage_begin_upload",
                "storage_list",
                "storage_move",
                "storage_object",
                "storage_public_object",
                "storage_remove",
                "storage_sign",
                "storage_upload",
                "storage_verify",
                "touch_updated_at",
                "uid",
                "verify_email_code",
                "verify_email_link",
                "webhook_log_change",
            ],
        ),
        (
            "authenticated",
            vec![
                "advisors",
                "agent_context",
                "api_schema",
                "auth_public_settings",
                "authenticate",
                "claims",
                "email",
                "exchange_auth_code",
                "extension",
                "filename",
                "foldername",
                "get_bucket",
                "get_user",
                "jwt_verify",
                "jwt_verify_text",
                "list_buckets",
                "mfa_challenge",
                "mfa_enroll",
                "mfa_enroll_totp",
                "mfa_unenroll",
                "mfa_verify",
                "realtime_authorize",
                "realtime_log_change",
                "realtime_probe",
                "realtime_replay",
                "realtime_send",
                "realtime_send_bytes",
                "realtime_send_from",
                "realtime_topic",
                "realtime_visibility_sql",
                "realtime_visible",
                "refresh_session",
                "role",
                "sign_in_password",
                "sign_out",
                "sign_up",
                "storage_begin_copy",
                "storage_begin_move",
                "storage_begin_upload",
                "storage_list",
                "storage_move",
                "storage_object",
                "storage_public_object",
                "storage_remove",
                "storage_sign",
                "storage_upload",
                "storage_verify",
                "touch_updated_at",
                "uid",
                "update_user",
                "verify_email_code",
                "verify_email_link",
                "webhook_log_change",
            ],
        ),
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

/// bknd.run_as, the sidecar's one-statement auth call: authenticator's alone; the statement
/// runs as the role the token gives, with that role's rights and claims; a refused token is
/// 28000 and runs nothing; the role switch ends with the call's transaction.
#[test]
fn run_as_runs_one_statement_as_the_tokens_role_for_authenticator_only() {
    let db = TestDb::new("run_as");
    let mut admin = db.admin();
    for role in ["anon", "authenticated", "service_role"] {
        let may: bool = admin
            .query_one("SELECT has_function_privilege($1, 'bknd.run_as(text, text, text, text, text, text[])', 'EXECUTE')", &[&role])
            .unwrap()
            .get(0);
        assert!(!may, "{role} may execute run_as");
    }
    let mut c = db.connect_as("authenticator");
    let run = "SELECT bknd.run_as($1, 'POST', '/auth/v1/x', 'anon', $2, $3)";
    let no_args: Vec<Option<String>> = vec![];

    // no token: anon, with the request's path, and the arguments as text (NULL kept)
    let statement = "SELECT current_user || ' ' || current_setting('request.path') || ' ' || $1 || coalesce($2, '-')";
    let row = c.query_one(run, &[&None::<String>, &statement, &vec![Some("a".to_string()), None]]).unwrap();
    assert_eq!(row.get::<_, Option<String>>(0).as_deref(), Some("anon /auth/v1/x a-"));

    // a user's token: authenticated, and bknd.uid() is its sub
    let sub = "6f1c1c4e-4a57-4c1b-9d4b-7b4b1f0a0001";
    let token: String =
        admin.query_one("SELECT bknd.jwt_sign(jsonb_build_object('sub', $1::text, 'role', 'authenticated'), 60)", &[&sub]).unwrap().get(0);
    let row = c.query_one(run, &[&Some(token.clone()), &"SELECT current_user || ' ' || bknd.uid()::text", &no_args]).unwrap();
    assert_eq!(row.get::<_, Option<String>>(0), Some(format!("authenticated {sub}")));

    // the role's rights: anon may not list users
    let err = c.query_one(run, &[&None::<String>, &"SELECT bknd.admin_list_users(10, 0)::text", &no_args]).unwrap_err();
    assert_eq!(err.code().map(|c| c.code()), Some("42501"), "{err}");

    // a refused token: 28000, and the statement did not run
    let sign_up = "SELECT bknd.sign_up('run_as@example.com', 'a long password 1')::text";
    let err = c.query_one(run, &[&Some(format!("{token}x")), &sign_up, &no_args]).unwrap_err();
    assert_eq!(err.code().map(|c| c.code()), Some("28000"), "{err}");
    let users: i64 = admin.query_one("SELECT count(*) FROM bknd.users WHERE email = 'run_as@example.com'", &[]).unwrap().get(0);
    assert_eq!(users, 0);

    // the call's transaction ended, and with it the role switch and the claims
    let row = c.query_one("SELECT current_user::text, coalesce(current_setting('request.jwt.claims', true), '')", &[]).unwrap();
    assert_eq!((row.get::<_, String>(0).as_str(), row.get::<_, String>(1).as_str()), ("authenticator", ""));
}

/// bknd.run_as_row, the sidecar's one-statement REST call: authenticator's alone; parameters
/// typed from their use; the whole first row as name, value pairs; READ ONLY when asked; an
/// error the statement raises keeps its own SQLSTATE (even one pgrx has no name for) and says
/// it is the statement's, while a refused token says nothing of the kind.
#[test]
fn run_as_row_answers_a_row_and_keeps_the_statements_errors() {
    let db = TestDb::new("run_as_row");
    let mut admin = db.admin();
    let signature = "bknd.run_as_row(text, text, text, jsonb, text, boolean, text, text[])";
    for role in ["anon", "authenticated", "service_role"] {
        let may: bool = admin.query_one("SELECT has_function_privilege($1, $2, 'EXECUTE')", &[&role, &signature]).unwrap().get(0);
        assert!(!may, "{role} may execute run_as_row");
    }
    admin
        .batch_execute(
            "SELECT bknd.create_table('things', '{\"name\": {\"type\": \"text\"}}', '{\"id\": \"bigint\"}');
             SELECT bknd.allow('things', 'select,insert', 'anon');
             INSERT INTO things (name) VALUES ('one'), ('two');
             CREATE FUNCTION public.not_ready() RETURNS int LANGUAGE plpgsql AS $$
               BEGIN RAISE NOTICE 'about to fail'; RAISE 'come back later' USING ERRCODE = 'PT503', DETAIL = 'd', HINT = 'h'; END $$;
             CREATE FUNCTION public.refuses() RETURNS int LANGUAGE plpgsql AS $$ BEGIN RAISE 'not you' USING ERRCODE = '28000'; END $$;
             GRANT EXECUTE ON FUNCTION public.not_ready(), public.refuses() TO anon;",
        )
        .unwrap();
    let mut c = db.connect_as("authenticator");
    let run = "SELECT bknd.run_as_row($1, 'GET', '/things', '{\"x-h\": \"v\"}'::jsonb, 'anon', $2, $3, $4)";
    let none: Option<String> = None;
    let text_args = |v: &[&str]| v.iter().map(|s| Some(s.to_string())).collect::<Vec<Option<String>>>();

    // "id" = $1 makes $1 a bigint, as over the wire; NULL values stay NULL
    let row: Option<Vec<Option<String>>> = c
        .query_one(
            run,
            &[&none, &true, &"SELECT count(*) AS n, max(name) AS top, NULL::text AS nothing, current_user::text AS who, current_setting('request.headers') AS h FROM things WHERE id = $1", &text_args(&["2"])],
        )
        .unwrap()
        .get(0);
    let flat: Vec<Option<&str>> = row.as_ref().unwrap().iter().map(|v| v.as_deref()).collect();
    assert_eq!(
        flat,
        [
            Some("n"),
            Some("1"),
            Some("top"),
            Some("two"),
            Some("nothing"),
            None,
            Some("who"),
            Some("anon"),
            Some("h"),
            Some(r#"{"x-h":"v"}"#)
        ]
    );
    // no row: NULL
    let row: Option<Vec<Option<String>>> =
        c.query_one(run, &[&none, &true, &"SELECT id FROM things WHERE id = $1", &text_args(&["99"])]).unwrap().get(0);
    assert!(row.is_none());
    // a read is read-only; a write is not
    let insert = "INSERT INTO things (name) VALUES ($1) RETURNING name";
    let err = c.query_one(run, &[&none, &true, &insert, &text_args(&["three"])]).unwrap_err();
    assert_eq!(err.code().map(|c| c.code()), Some("25006"), "{err}");
    c.query_one(run, &[&none, &false, &insert, &text_args(&["three"])]).unwrap();
    // a bad value for the inferred type is the type's own error
    let err = c.query_one(run, &[&none, &true, &"SELECT id FROM things WHERE id = $1", &text_args(&["abc"])]).unwrap_err();
    assert_eq!(err.code().map(|c| c.code()), Some("22P02"), "{err}");

    // the statement's own code (pgrx names no PT503), its words, and the context line
    let err = c.query_one(run, &[&none, &true, &"SELECT public.not_ready()", &text_args(&[])]).unwrap_err();
    let db_err = err.as_db_error().unwrap();
    assert_eq!(
        (db_err.code().code(), db_err.message(), db_err.detail(), db_err.hint()),
        ("PT503", "come back later", Some("d"), Some("h"))
    );
    assert!(db_err.where_().unwrap_or("").contains("bknd.run_as_row: the statement"), "{db_err:?}");
    // 28000 from the statement is marked as the statement's; a refused token is not
    let err = c.query_one(run, &[&none, &true, &"SELECT public.refuses()", &text_args(&[])]).unwrap_err();
    assert!(err.as_db_error().unwrap().where_().unwrap_or("").contains("bknd.run_as_row: the statement"), "{err:?}");
    let err = c.query_one(run, &[&Some("not.a.token".to_string()), &true, &"SELECT 1", &text_args(&[])]).unwrap_err();
    let db_err = err.as_db_error().unwrap();
    assert_eq!(db_err.code().code(), "28000");
    assert!(!db_err.where_().unwrap_or("").contains("bknd.run_as_row"), "{db_err:?}");
    // and an error outside it, afterwards on the same connection, is left alone
    let err = c.query_one("SELECT 1/0", &[]).unwrap_err();
    assert_eq!(err.code().map(|c| c.code()), Some("22012"));
    assert!(err.as_db_error().unwrap().where_().is_none(), "{err:?}");
}
