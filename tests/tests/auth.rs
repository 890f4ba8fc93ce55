//! Auth in the database: argon2id passwords, sessions, refresh-token rotation and reuse,
//! bans, rate limits, hostile input, and the tables out of every API role's reach.

use std::time::Instant;

use bknd_tests::*;
use serde_json::{json, Value};

fn call(db: &TestDb, token: Option<&str>, sql: &str) -> Value {
    db.call_as(token, sql)
}

fn sign_up(db: &TestDb, email: &str, password: &str) -> Value {
    call(db, None, &format!("bknd.sign_up('{email}', '{password}')"))
}

fn sign_in(db: &TestDb, email: &str, password: &str) -> Value {
    call(db, None, &format!("bknd.sign_in_password('{email}', '{password}', '10.0.0.1')"))
}

fn refresh(db: &TestDb, token: &str) -> Value {
    call(db, None, &format!("bknd.refresh_session('{token}')"))
}

fn error_code(v: &Value) -> &str {
    v["error"]["code"].as_str().unwrap_or("")
}

#[test]
fn sign_up_and_in_give_sessions_whose_tokens_carry_the_user() {
    let db = TestDb::new("auth_basic");
    let s = sign_up(&db, "Ann@Example.com", "a long enough password");
    let user_id = s["user"]["id"].as_str().unwrap().to_string();
    assert_eq!(s["user"]["email"], "ann@example.com");
    let s = sign_in(&db, "ann@example.com", "a long enough password");
    let access = s["access_token"].as_str().unwrap();
    // the access token's sub is what bknd.uid() returns
    let mut c = db.connect_as("authenticator");
    let mut tx = c.transaction().unwrap();
    tx.query_one("SELECT bknd.authenticate($1)", &[&access]).unwrap();
    let row = tx
        .query_one("SELECT bknd.uid()::text, current_user::text, bknd.claims() ->> 'aal', bknd.claims() ->> 'session_id' IS NOT NULL", &[])
        .unwrap();
    assert_eq!(row.get::<_, String>(0), user_id);
    assert_eq!(row.get::<_, String>(1), "authenticated");
    assert_eq!(row.get::<_, String>(2), "aal1");
    assert!(row.get::<_, bool>(3));
    tx.rollback().unwrap();
    // argon2id with OWASP parameters; refresh tokens stored only as hashes
    let mut admin = db.admin();
    let hash = scalar_string(&mut admin, "SELECT password_hash FROM bknd.users").unwrap();
    assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{hash}");
    let refresh_token = s["refresh_token"].as_str().unwrap();
    let stored = scalar_i64(
        &mut admin,
        &format!("SELECT count(*) FROM bknd.refresh_tokens WHERE encode(token_hash, 'escape') LIKE '%{refresh_token}%'"),
    );
    assert_eq!(stored, 0);
    // wrong password and unknown email answer alike
    assert_eq!(error_code(&sign_in(&db, "ann@example.com", "wrong password")), "invalid_credentials");
    assert_eq!(error_code(&sign_in(&db, "nobody@example.com", "wrong password")), "invalid_credentials");
}

/// Two sign-ups with one new email at once (from two addresses, so no rate-limit row orders
/// them): one user, and the second gets the answer an existing email gets, not an error.
#[test]
fn two_sign_ups_with_one_email_at_once_make_one_user() {
    let db = TestDb::new("auth_signup_race");
    let up = |ip: &str| call(&db, None, &format!("bknd.sign_up('twice@example.com', 'a long enough password', NULL, '{ip}')"));
    let (a, b) = db.racing("bknd.users", || up("10.0.0.1"), || up("10.0.0.2"));
    let mut codes = [error_code(&a), error_code(&b)];
    codes.sort();
    assert_eq!(codes, ["", "user_already_exists"], "{a} {b}");
    assert_eq!(scalar_i64(&mut db.admin(), "SELECT count(*) FROM bknd.users"), 1);
}

#[test]
fn refresh_rotates_and_reuse_revokes_the_family() {
    let db = TestDb::new("auth_reuse");
    sign_up(&db, "r@example.com", "a long enough password");
    let s = sign_in(&db, "r@example.com", "a long enough password");
    let r1 = s["refresh_token"].as_str().unwrap().to_string();
    let s2 = refresh(&db, &r1);
    let r2 = s2["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(r1, r2);
    // presenting r1 again right away (a race of two tabs): refused, the family survives
    assert_eq!(error_code(&refresh(&db, &r1)), "refresh_token_already_used");
    let s3 = refresh(&db, &r2);
    let r3 = s3["refresh_token"].as_str().unwrap().to_string();
    // later (we move the revocation back in time): reuse revokes the whole session
    db.admin()
        .batch_execute("UPDATE bknd.refresh_tokens SET revoked_at = now() - interval '1 minute' WHERE revoked_at IS NOT NULL")
        .unwrap();
    assert_eq!(error_code(&refresh(&db, &r1)), "refresh_token_already_used");
    assert_eq!(error_code(&refresh(&db, &r3)), "refresh_token_not_found", "the family is gone");
    let mut admin = db.admin();
    // the sign-up's own session remains; the reused family's session is gone
    assert_eq!(scalar_i64(&mut admin, "SELECT count(*) FROM bknd.sessions"), 1);
    assert_eq!(scalar_i64(&mut admin, "SELECT count(*) FROM bknd.audit_log WHERE action = 'token_revoked'"), 1);
    assert_eq!(error_code(&refresh(&db, "not-a-token")), "refresh_token_not_found");
}

#[test]
fn two_concurrent_refreshes_of_one_token_give_one_session() {
    let db = TestDb::new("auth_race");
    sign_up(&db, "race@example.com", "a long enough password");
    let s = sign_in(&db, "race@example.com", "a long enough password");
    let token = s["refresh_token"].as_str().unwrap().to_string();
    let name = db.name.clone();
    let handles: Vec<_> = (0..2)
        .map(|_| {
            let (name, token) = (name.clone(), token.clone());
            std::thread::spawn(move || {
                let mut c = connect("authenticator", &name);
                let mut tx = c.transaction().unwrap();
                tx.query_one("SELECT bknd.authenticate(NULL)", &[]).unwrap();
                let text: String = tx.query_one("SELECT bknd.refresh_session($1)::text", &[&token]).unwrap().get(0);
                std::thread::sleep(std::time::Duration::from_millis(200)); // hold the row lock
                tx.commit().unwrap();
                serde_json::from_str::<Value>(&text).unwrap()
            })
        })
        .collect();
    let results: Vec<Value> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let ok: Vec<&Value> = results.iter().filter(|r| r.get("refresh_token").is_some()).collect();
    assert_eq!(ok.len(), 1, "{results:?}");
    assert!(results.iter().any(|r| error_code(r) == "refresh_token_already_used"), "{results:?}");
    let mut admin = db.admin();
    // sign-up's session and sign-in's: the race added none
    assert_eq!(scalar_i64(&mut admin, "SELECT count(*) FROM bknd.sessions"), 2);
    assert_eq!(scalar_i64(&mut admin, "SELECT count(*) FROM bknd.refresh_tokens WHERE revoked_at IS NULL"), 2);
    // the winner's token works
    assert!(refresh(&db, ok[0]["refresh_token"].as_str().unwrap()).get("access_token").is_some());
}

#[test]
fn banned_users_are_refused_and_their_sessions_end() {
    let db = TestDb::new("auth_ban");
    let s = sign_up(&db, "b@example.com", "a long enough password");
    let id = s["user"]["id"].as_str().unwrap().to_string();
    let service = db.token(json!({"role": "service_role"}));
    let r = call(&db, Some(&service), &format!("bknd.admin_update_user('{id}', '{{\"ban_duration\": \"24h\"}}')"));
    assert!(r["banned_until"].is_string(), "{r}");
    assert_eq!(error_code(&sign_in(&db, "b@example.com", "a long enough password")), "user_banned");
    assert_eq!(error_code(&refresh(&db, s["refresh_token"].as_str().unwrap())), "refresh_token_not_found");
    call(&db, Some(&service), &format!("bknd.admin_update_user('{id}', '{{\"ban_duration\": \"none\"}}')"));
    assert!(sign_in(&db, "b@example.com", "a long enough password").get("access_token").is_some());
}

#[test]
fn sign_in_attempts_are_rate_limited_and_logged() {
    let db = TestDb::new("auth_rate");
    sign_up(&db, "rl@example.com", "a long enough password");
    let codes: Vec<String> = (0..11).map(|_| error_code(&sign_in(&db, "rl@example.com", "wrong password")).to_string()).collect();
    assert!(codes[..10].iter().all(|c| c == "invalid_credentials"), "{codes:?}");
    assert_eq!(codes[10], "over_request_rate_limit");
    // even the right password is refused while limited
    let limited = sign_in(&db, "rl@example.com", "a long enough password");
    assert_eq!(limited["error"]["status"], 429);
    let mut admin = db.admin();
    assert!(scalar_i64(&mut admin, "SELECT count(*) FROM bknd.audit_log WHERE action = 'rate_limited'") >= 1);
    assert_eq!(scalar_i64(&mut admin, "SELECT count(*) FROM bknd.audit_log WHERE action = 'login_failed'"), 10);
}

#[test]
fn an_unknown_email_costs_a_password_check_too() {
    let db = TestDb::new("auth_timing");
    sign_up(&db, "t@example.com", "a long enough password");
    let time = |email: &str| {
        let mut best = f64::MAX;
        for _ in 0..3 {
            let start = Instant::now();
            sign_in(&db, email, "wrong password");
            best = best.min(start.elapsed().as_secs_f64());
        }
        best
    };
    let known = time("t@example.com");
    let unknown = time("nobody-here@example.com");
    assert!(unknown > known * 0.5, "unknown email {unknown:.4}s vs known {known:.4}s: the dummy verification is missing");
}

#[test]
fn hostile_input_is_refused_cleanly_and_creates_nothing() {
    let db = TestDb::new("auth_hostile");
    for email in
        ["x'; DROP TABLE bknd.users; --@a.b", "no-at-sign", "a@b", "a b@example.com", "<a>@example.com", "@example.com", "a@@example.com"]
    {
        let r = call(&db, None, &format!("bknd.sign_up({}, 'a long enough password')", quote(email)));
        assert_eq!(error_code(&r), "validation_failed", "{email}: {r}");
    }
    for password in ["short", &"x".repeat(5000)] {
        let r = call(&db, None, &format!("bknd.sign_up('ok@example.com', {})", quote(password)));
        assert_eq!(error_code(&r), "weak_password");
    }
    let r = call(&db, None, "bknd.sign_up('ok@example.com', 'a long enough password', '[1]')");
    assert_eq!(error_code(&r), "validation_failed");
    assert_eq!(scalar_i64(&mut db.admin(), "SELECT count(*) FROM bknd.users"), 0);
}

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

#[test]
fn auth_tables_are_out_of_reach_of_api_roles() {
    let db = TestDb::new("auth_tables");
    sign_up(&db, "x@example.com", "a long enough password");
    for role in ["anon", "authenticated", "service_role"] {
        let mut c = db.connect_as("authenticator");
        c.batch_execute(&format!("SET ROLE {role}")).unwrap();
        for table in [
            "users",
            "identities",
            "sessions",
            "refresh_tokens",
            "one_time_tokens",
            "mfa_factors",
            "audit_log",
            "rate_limits",
            "auth_settings",
        ] {
            expect_error(&mut c, &format!("SELECT * FROM bknd.{table}"), "42501");
            expect_error(&mut c, &format!("DELETE FROM bknd.{table}"), "42501");
        }
    }
    // the admin functions are service_role's alone
    let user = sign_in(&db, "x@example.com", "a long enough password");
    let mut c = db.connect_as("authenticator");
    let mut tx = c.transaction().unwrap();
    tx.query_one("SELECT bknd.authenticate($1)", &[&user["access_token"].as_str()]).unwrap();
    let err = tx.query_one("SELECT bknd.admin_list_users()", &[]).unwrap_err();
    assert_eq!(sqlstate(&err), "42501");
}

#[test]
fn with_confirmations_on_existing_and_new_emails_answer_alike() {
    let db = TestDb::new("auth_enum");
    db.admin().batch_execute("SELECT bknd.configure_auth('{\"autoconfirm\": false}')").unwrap();
    let first = sign_up(&db, "e@example.com", "a long enough password");
    let again = sign_up(&db, "e@example.com", "another long password");
    let keys = |v: &Value| -> Vec<String> { v.as_object().unwrap().keys().cloned().collect::<Vec<_>>() };
    assert!(first.get("access_token").is_none() && again.get("access_token").is_none());
    let (mut k1, mut k2) = (keys(&first), keys(&again));
    k1.retain(|k| {
        !["identities", "confirmed_at", "email_confirmed_at", "last_sign_in_at", "banned_until", "factors"].contains(&k.as_str())
    });
    k2.retain(|k| {
        !["identities", "confirmed_at", "email_confirmed_at", "last_sign_in_at", "banned_until", "factors"].contains(&k.as_str())
    });
    k1.sort();
    k2.sort();
    assert_eq!(k1, k2);
    assert_eq!(again["email"], "e@example.com");
    // and the unconfirmed user cannot sign in yet
    assert_eq!(error_code(&sign_in(&db, "e@example.com", "a long enough password")), "email_not_confirmed");
}

#[test]
fn only_the_sidecar_role_can_obtain_a_one_time_code() {
    let db = TestDb::new("auth_codes");
    sign_up(&db, "c@example.com", "a long enough password");
    for token in [None, Some(db.token(json!({"role": "service_role"})))] {
        let mut c = db.connect_as("authenticator");
        let mut tx = c.transaction().unwrap();
        tx.query_one("SELECT bknd.authenticate($1)", &[&token]).unwrap();
        let err = tx.query_one("SELECT bknd.request_email_token('c@example.com', 'recovery')", &[]).unwrap_err();
        assert_eq!(sqlstate(&err), "42501", "an API role got a code");
    }
    // authenticator itself (the sidecar, before any role switch) can, and the code works once
    let mut c = db.connect_as("authenticator");
    let text: String = c.query_one("SELECT bknd.request_email_token('c@example.com', 'recovery')::text", &[]).unwrap().get(0);
    let v: Value = serde_json::from_str(&text).unwrap();
    let code = v["code"].as_str().unwrap();
    let ok = call(&db, None, &format!("bknd.verify_email_code('c@example.com', '{code}', 'recovery')"));
    assert!(ok.get("access_token").is_some(), "{ok}");
    let again = call(&db, None, &format!("bknd.verify_email_code('c@example.com', '{code}', 'recovery')"));
    assert_eq!(error_code(&again), "otp_expired");
    // codes are stored only as hashes
    assert_eq!(
        scalar_i64(
            &mut db.admin(),
            &format!("SELECT count(*) FROM bknd.one_time_tokens WHERE position('{code}'::bytea in token_hash) > 0")
        ),
        0
    );
}

#[test]
fn pkce_auth_codes_need_the_matching_verifier_and_work_once() {
    use base64::Engine;
    use sha2::Digest;
    let db = TestDb::new("auth_pkce");
    let verifier = "a-verifier-of-enough-length-0123456789-abcdefghijklmnop";
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier.as_bytes()));
    let mut c = db.connect_as("authenticator");
    let text: String = c
        .query_one("SELECT bknd.request_email_token('p@example.com', 'magiclink', true, NULL, $1, 's256')::text", &[&challenge])
        .unwrap()
        .get(0);
    let v: Value = serde_json::from_str(&text).unwrap();
    let link = v["link_token"].as_str().unwrap();
    let answer = call(&db, None, &format!("bknd.verify_email_link('{link}', 'magiclink')"));
    let code = answer["auth_code"].as_str().expect("an auth code, not a session").to_string();
    assert!(answer.get("access_token").is_none());
    let wrong = call(&db, None, &format!("bknd.exchange_auth_code('{code}', 'not-the-verifier')"));
    assert_eq!(error_code(&wrong), "bad_code_verifier");
    let ok = call(&db, None, &format!("bknd.exchange_auth_code('{code}', '{verifier}')"));
    assert_eq!(ok["user"]["email"], "p@example.com");
    let again = call(&db, None, &format!("bknd.exchange_auth_code('{code}', '{verifier}')"));
    assert_eq!(error_code(&again), "flow_state_not_found");
    // a bad challenge is refused when asked for
    let text: String = c
        .query_one("SELECT bknd.request_email_token('p@example.com', 'magiclink', true, NULL, 'short', 's256')::text", &[])
        .unwrap()
        .get(0);
    assert!(text.contains("validation_failed"), "{text}");
}

#[test]
fn a_sign_in_keeps_its_session_only_when_the_password_matches() {
    let db = TestDb::new("auth_session_kept");
    sign_up(&db, "k@example.com", "a long enough password");
    let mut admin = db.admin();
    let sessions = |admin: &mut Client| scalar_i64(admin, "SELECT count(*) FROM bknd.sessions");
    let before = sessions(&mut admin);
    // a wrong password: the session written before the hash is gone, nothing says login
    assert_eq!(error_code(&sign_in(&db, "k@example.com", "wrong password")), "invalid_credentials");
    assert_eq!(sessions(&mut admin), before);
    assert_eq!(scalar_i64(&mut admin, "SELECT count(*) FROM bknd.refresh_tokens"), before);
    assert_eq!(scalar_i64(&mut admin, "SELECT count(*) FROM bknd.audit_log WHERE action = 'login'"), 0);
    assert_eq!(scalar_i64(&mut admin, "SELECT count(*) FROM bknd.audit_log WHERE action = 'login_failed'"), 1);
    // the right one: one more session, and the answer shows the sign-in's last_sign_in_at
    let s = sign_in(&db, "k@example.com", "a long enough password");
    assert_eq!(sessions(&mut admin), before + 1);
    let stored: String = admin.query_one("SELECT to_jsonb(last_sign_in_at)::text FROM bknd.users", &[]).unwrap().get(0);
    assert_eq!(s["user"]["last_sign_in_at"].to_string(), stored);
    assert_eq!(scalar_i64(&mut admin, "SELECT count(*) FROM bknd.audit_log WHERE action = 'login'"), 1);
    // its id (made in Rust) is a random version-4 UUID, and the access token names it
    let access = s["access_token"].as_str().unwrap();
    let row = admin
        .query_one(
            "SELECT s.id::text, bknd.jwt_verify($1)->>'session_id' FROM bknd.sessions s ORDER BY s.created_at DESC LIMIT 1",
            &[&access],
        )
        .unwrap();
    let (id, claimed): (String, String) = (row.get(0), row.get(1));
    assert_eq!(id, claimed);
    assert!(id.len() == 36 && &id[14..15] == "4" && "89ab".contains(&id[19..20]), "not a v4 UUID: {id}");
    let refresh_token = s["refresh_token"].as_str().unwrap();
    assert!(refresh(&db, refresh_token).get("access_token").is_some());
}

/// A sign-in that succeeds is the one write whose commit does not wait for the disk (what a
/// crash can lose is that sign-in, whole): only on its own, never inside the caller's
/// transaction, and never a failed attempt.
#[test]
fn only_a_successful_sign_in_on_its_own_commits_without_waiting_for_the_disk() {
    let db = TestDb::new("auth_async_commit");
    sign_up(&db, "a@example.com", "a long enough password");
    // the setting in force when the statement's transaction commits, read right after the call
    let at_commit = |c: &mut Client, password: &str| -> String {
        let sql = "SELECT bknd.run_as(NULL, 'POST', '/auth/v1/token', 'anon', 'SELECT bknd.sign_in_password($1, $2, $3)::text', \
                   ARRAY['a@example.com', $1, '10.0.0.1']), current_setting('synchronous_commit')";
        c.query_one(sql, &[&password]).unwrap().get(1)
    };
    // the sidecar's call, one statement in its own transaction
    let mut sidecar = db.connect_as("authenticator");
    assert_eq!(at_commit(&mut sidecar, "a long enough password"), "off");
    assert_eq!(scalar_string(&mut sidecar, "SHOW synchronous_commit").unwrap(), "on", "it ends with the transaction");
    assert_eq!(at_commit(&mut sidecar, "wrong password"), "on");
    // from psql: on its own it commits alike; inside BEGIN ... COMMIT the caller's other writes
    // keep their durability
    let mut admin = db.admin();
    let alone: String = admin
        .query_one(
            "SELECT bknd.sign_in_password('a@example.com', 'a long enough password')::text, current_setting('synchronous_commit')",
            &[],
        )
        .unwrap()
        .get(1);
    assert_eq!(alone, "off");
    let mut tx = admin.transaction().unwrap();
    tx.execute("SELECT bknd.sign_in_password('a@example.com', 'a long enough password')", &[]).unwrap();
    assert_eq!(tx.query_one("SHOW synchronous_commit", &[]).unwrap().get::<_, String>(0), "on");
    tx.commit().unwrap();
    // and what it wrote is there after the commit
    assert_eq!(scalar_i64(&mut admin, "SELECT count(*) FROM bknd.audit_log WHERE action = 'login'"), 3);
}

#[test]
fn an_error_after_the_hash_undoes_the_session_and_the_caller_can_go_on() {
    let db = TestDb::new("auth_subxact_error");
    sign_up(&db, "e@example.com", "a long enough password");
    let mut admin = db.admin();
    // an error raised while the sign-in's subtransaction is open (its UPDATE of the user),
    // caught by the caller's PL/pgSQL block
    admin
        .batch_execute(
            "CREATE FUNCTION public.refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'refused'; END $$;
             CREATE TRIGGER refuse BEFORE UPDATE ON bknd.users FOR EACH ROW EXECUTE FUNCTION public.refuse();
             CREATE TABLE public.went_on (n int);",
        )
        .unwrap();
    let sessions = scalar_i64(&mut admin, "SELECT count(*) FROM bknd.sessions");
    admin
        .batch_execute(
            "DO $$ BEGIN
               BEGIN
                 INSERT INTO public.went_on VALUES (0);
                 PERFORM bknd.sign_in_password('e@example.com', 'a long enough password', '10.0.0.1');
               EXCEPTION WHEN raise_exception THEN INSERT INTO public.went_on VALUES (1);
               END;
               INSERT INTO public.went_on VALUES (2);
             END $$",
        )
        .unwrap();
    // the block's own work is undone with the sign-in's, as PL/pgSQL promises
    let went_on: Vec<i32> = admin.query("SELECT n FROM public.went_on ORDER BY n", &[]).unwrap().iter().map(|r| r.get(0)).collect();
    assert_eq!(went_on, vec![1, 2]);
    assert_eq!(scalar_i64(&mut admin, "SELECT count(*) FROM bknd.sessions"), sessions);
    // and without a handler the error reaches the client, the transaction ends, nothing stays
    let e = admin.batch_execute("SELECT bknd.sign_in_password('e@example.com', 'a long enough password', '10.0.0.1')").unwrap_err();
    assert!(e.to_string().contains("refused") || format!("{e:?}").contains("refused"), "{e:?}");
    assert_eq!(scalar_i64(&mut admin, "SELECT count(*) FROM bknd.sessions"), sessions);
}

#[test]
fn a_limit_reached_during_the_hash_refuses_the_sign_in_and_counts_it_once() {
    let db = TestDb::new("auth_rate_race");
    sign_up(&db, "race@example.com", "a long enough password");
    db.admin().batch_execute(r#"SELECT bknd.configure_auth('{"rate_limits": {"sign_in_email_ip": 3}}')"#).unwrap();
    for _ in 0..2 {
        assert_eq!(error_code(&sign_in(&db, "race@example.com", "wrong password")), "invalid_credentials");
    }
    let mut admin = db.admin();
    let sessions = scalar_i64(&mut admin, "SELECT count(*) FROM bknd.sessions");
    let signed_in_at = scalar_string(&mut admin, "SELECT last_sign_in_at::text FROM bknd.users");
    // another request counts the third attempt while this one hashes: the check before the hash
    // sees 2 of 3, the count after it waits for the other's row lock and then sees 3
    let mut other = db.admin();
    let mut tx = other.transaction().unwrap();
    tx.execute("UPDATE bknd.rate_limits SET hits = 3 WHERE key = 'sign_in:email_ip:10.0.0.1:race@example.com'", &[]).unwrap();
    let answer = std::thread::scope(|s| {
        let signing_in = s.spawn(|| sign_in(&db, "race@example.com", "a long enough password"));
        std::thread::sleep(std::time::Duration::from_millis(500));
        tx.commit().unwrap();
        signing_in.join().unwrap()
    });
    assert_eq!(answer["error"]["status"], 429, "{answer}");
    assert_eq!(scalar_i64(&mut admin, "SELECT count(*) FROM bknd.sessions"), sessions);
    assert_eq!(scalar_string(&mut admin, "SELECT last_sign_in_at::text FROM bknd.users"), signed_in_at);
    assert_eq!(scalar_i64(&mut admin, "SELECT count(*) FROM bknd.audit_log WHERE action = 'login'"), 0);
    assert_eq!(
        scalar_i64(&mut admin, "SELECT hits::bigint FROM bknd.rate_limits WHERE key = 'sign_in:email_ip:10.0.0.1:race@example.com'"),
        4
    );
    assert_eq!(scalar_i64(&mut admin, "SELECT count(*) FROM bknd.audit_log WHERE action = 'rate_limited'"), 1);
}

#[test]
fn rate_limits_can_be_configured_by_name() {
    let db = TestDb::new("auth_rate_cfg");
    sign_up(&db, "cfg@example.com", "a long enough password");
    db.admin().batch_execute(r#"SELECT bknd.configure_auth('{"rate_limits": {"sign_in_email_ip": 2}}')"#).unwrap();
    let codes: Vec<String> = (0..3).map(|_| error_code(&sign_in(&db, "cfg@example.com", "wrong password")).to_string()).collect();
    assert_eq!(codes, vec!["invalid_credentials", "invalid_credentials", "over_request_rate_limit"]);
}

/// As the sidecar (authenticator, no role switch): a function that returns secrets to mail.
fn as_sidecar(db: &TestDb, sql: &str) -> Value {
    let text: String = db.connect_as("authenticator").query_one(&format!("SELECT ({sql})::text"), &[]).unwrap().get(0);
    serde_json::from_str(&text).unwrap()
}

#[test]
fn a_sign_in_code_cannot_be_redeemed_as_a_link_token() {
    let db = TestDb::new("auth_code_as_link");
    sign_up(&db, "cl@example.com", "a long enough password");
    let sent = as_sidecar(&db, "bknd.request_email_token('cl@example.com', 'magiclink')");
    let code = sent["code"].as_str().unwrap();
    // the code with its email, where a link token goes: refused, by both verify routes' function
    for kind in ["magiclink", "email", "signup"] {
        let as_link = call(&db, None, &format!("bknd.verify_email_link('cl@example.com:{code}', '{kind}', '10.0.0.9')"));
        assert_eq!(error_code(&as_link), "otp_expired", "{kind}: {as_link}");
    }
    // and the link token where a code goes
    let link = sent["link_token"].as_str().unwrap();
    let as_code = call(&db, None, &format!("bknd.verify_email_code('cl@example.com', '{link}', 'magiclink')"));
    assert_eq!(error_code(&as_code), "otp_expired");
    // guesses at the code are limited per email, whatever the route: once limited, even the
    // right code is refused
    for _ in 0..10 {
        call(&db, None, "bknd.verify_email_code('cl@example.com', '000000', 'magiclink', '10.0.0.10')");
    }
    let limited = call(&db, None, &format!("bknd.verify_email_code('cl@example.com', '{code}', 'magiclink', '10.0.0.11')"));
    assert_eq!(error_code(&limited), "over_request_rate_limit");
    let via_link = call(&db, None, &format!("bknd.verify_email_link('cl@example.com:{code}', 'magiclink', '10.0.0.12')"));
    assert!(via_link.get("access_token").is_none(), "a code redeemed as a link after the email's limit: {via_link}");
    // each row says what it is
    assert_eq!(scalar_i64(&mut db.admin(), "SELECT count(DISTINCT kind) FROM bknd.one_time_tokens"), 2);
}

/// A confirmed user, signed in: (user id, access token).
fn confirmed_user(db: &TestDb, email: &str) -> (String, String) {
    let service = db.token(json!({"role": "service_role"}));
    let made = call(
        db,
        Some(&service),
        &format!("bknd.admin_create_user('{{\"email\": \"{email}\", \"password\": \"a long enough password\", \"email_confirm\": true}}')"),
    );
    let id = made["id"].as_str().unwrap_or_else(|| panic!("{made}")).to_string();
    let session = sign_in(db, email, "a long enough password");
    (id, session["access_token"].as_str().unwrap_or_else(|| panic!("{session}")).to_string())
}

fn email_of(db: &TestDb, id: &str) -> (String, bool) {
    let row =
        db.admin().query_one("SELECT email, email_confirmed_at IS NOT NULL FROM bknd.users WHERE id = $1::text::uuid", &[&id]).unwrap();
    (row.get(0), row.get(1))
}

#[test]
fn a_user_cannot_confirm_an_email_they_do_not_own() {
    let db = TestDb::new("auth_email_change");
    db.admin().batch_execute(r#"SELECT bknd.configure_auth('{"autoconfirm": false}')"#).unwrap();
    let (id, token) = confirmed_user(&db, "mallory@example.com");
    let changed = call(&db, Some(&token), r#"bknd.update_user('{"email": "x@victim.example", "email_confirm": true}')"#);
    assert_eq!(changed["email"], "mallory@example.com", "{changed}");
    assert_eq!(changed["new_email"], "x@victim.example");
    assert!(changed.to_string().find("code").is_none(), "{changed}");
    assert_eq!(email_of(&db, &id), ("mallory@example.com".to_string(), true));
    // the codes are the sidecar's to make and mail, never an API role's
    let mut c = db.connect_as("authenticator");
    let mut tx = c.transaction().unwrap();
    tx.query_one("SELECT bknd.authenticate($1)", &[&Some(token.as_str())]).unwrap();
    let err = tx.query_one("SELECT bknd.request_email_change_tokens($1)", &[&id]).unwrap_err();
    assert_eq!(sqlstate(&err), "42501");
    drop(tx);
    let sent = as_sidecar(&db, &format!("bknd.request_email_change_tokens('{id}')"));
    let messages = sent["messages"].as_array().unwrap();
    let code_for = |to: &str| messages.iter().find(|m| m["email"] == to).map(|m| m["code"].as_str().unwrap().to_string()).unwrap();
    assert_eq!(messages.len(), 2, "both addresses are asked (secure email change): {sent}");
    assert!(sent["user"]["email_change_sent_at"].is_string());
    // asking again sends nothing more: the change was sent
    assert_eq!(as_sidecar(&db, &format!("bknd.request_email_change_tokens('{id}')"))["send"], false);
    // a code is for the address it went to
    let crossed =
        call(&db, None, &format!("bknd.verify_email_code('mallory@example.com', '{}', 'email_change')", code_for("x@victim.example")));
    assert_eq!(error_code(&crossed), "otp_expired");
    // the new address's code alone does not change it
    let first = call(&db, None, &format!("bknd.verify_email_code('x@victim.example', '{}', 'email_change')", code_for("x@victim.example")));
    assert!(first["msg"].as_str().unwrap_or("").contains("other email"), "{first}");
    assert_eq!(email_of(&db, &id).0, "mallory@example.com");
    // with the current address's too, it does, and the answer is a session for the new email
    let second =
        call(&db, None, &format!("bknd.verify_email_code('mallory@example.com', '{}', 'email_change')", code_for("mallory@example.com")));
    assert_eq!(second["user"]["email"], "x@victim.example", "{second}");
    assert!(second["user"].get("new_email").is_none());
    assert_eq!(email_of(&db, &id), ("x@victim.example".to_string(), true));
    assert!(sign_in(&db, "x@victim.example", "a long enough password").get("access_token").is_some());
}

#[test]
fn an_unconfirmed_address_needs_only_the_new_one_and_admins_still_confirm() {
    let db = TestDb::new("auth_email_change_admin");
    db.admin().batch_execute(r#"SELECT bknd.configure_auth('{"autoconfirm": false}')"#).unwrap();
    let (id, token) = confirmed_user(&db, "u@example.com");
    db.admin().batch_execute(r#"SELECT bknd.configure_auth('{"secure_email_change": false}')"#).unwrap();
    call(&db, Some(&token), r#"bknd.update_user('{"email": "new@example.com"}')"#);
    let sent = as_sidecar(&db, &format!("bknd.request_email_change_tokens('{id}')"));
    let messages = sent["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 1, "{sent}");
    let link = messages[0]["link_token"].as_str().unwrap();
    let done = call(&db, None, &format!("bknd.verify_email_link('{link}', 'email_change')"));
    assert_eq!(done["user"]["email"], "new@example.com", "{done}");
    // an admin sets and confirms an email at once
    let service = db.token(json!({"role": "service_role"}));
    let r = call(
        &db,
        Some(&service),
        &format!("bknd.admin_update_user('{id}', '{{\"email\": \"admin-set@example.com\", \"email_confirm\": true}}')"),
    );
    assert_eq!(r["email"], "admin-set@example.com");
    assert_eq!(email_of(&db, &id), ("admin-set@example.com".to_string(), true));
    // with autoconfirm on, a user's change stays immediate (as in GoTrue)
    db.admin().batch_execute(r#"SELECT bknd.configure_auth('{"autoconfirm": true}')"#).unwrap();
    let session = sign_in(&db, "admin-set@example.com", "a long enough password");
    let r = call(&db, session["access_token"].as_str(), r#"bknd.update_user('{"email": "auto@example.com"}')"#);
    assert_eq!(r["email"], "auto@example.com", "{r}");
}

#[test]
fn failed_sign_ins_from_one_address_do_not_lock_out_another() {
    let db = TestDb::new("auth_lockout");
    sign_up(&db, "lo@example.com", "a long enough password");
    for _ in 0..11 {
        call(&db, None, "bknd.sign_in_password('lo@example.com', 'wrong password', '10.0.0.66')");
    }
    let attacker = call(&db, None, "bknd.sign_in_password('lo@example.com', 'a long enough password', '10.0.0.66')");
    assert_eq!(error_code(&attacker), "over_request_rate_limit");
    let owner = call(&db, None, "bknd.sign_in_password('lo@example.com', 'a long enough password', '10.0.0.7')");
    assert!(owner.get("access_token").is_some(), "the owner is locked out: {owner}");
}

#[test]
fn with_secure_password_change_an_old_session_needs_a_reauthentication_nonce() {
    let db = TestDb::new("auth_reauth");
    let (id, token) = confirmed_user(&db, "re@example.com");
    // off by default (as in GoTrue)
    let r = call(&db, Some(&token), r#"bknd.update_user('{"password": "second long password"}')"#);
    assert_eq!(r["email"], "re@example.com", "{r}");
    db.admin().batch_execute(r#"SELECT bknd.configure_auth('{"secure_password_change": true}')"#).unwrap();
    // a session that signed in just now may
    let r = call(&db, Some(&token), r#"bknd.update_user('{"password": "third long password"}')"#);
    assert_eq!(r["email"], "re@example.com", "{r}");
    db.admin().batch_execute("UPDATE bknd.sessions SET created_at = now() - interval '25 hours'").unwrap();
    let r = call(&db, Some(&token), r#"bknd.update_user('{"password": "fourth long password"}')"#);
    assert_eq!(error_code(&r), "reauthentication_needed", "{r}");
    assert_eq!(r["error"]["status"], 400);
    let sent = as_sidecar(&db, &format!("bknd.request_reauthentication('{id}')"));
    let nonce = sent["code"].as_str().unwrap();
    assert_eq!(sent["email"], "re@example.com");
    let r = call(&db, Some(&token), r#"bknd.update_user('{"password": "fourth long password", "nonce": "000000"}')"#);
    assert_eq!(error_code(&r), "reauthentication_not_valid", "{r}");
    let r = call(&db, Some(&token), &format!("bknd.update_user('{{\"password\": \"fourth long password\", \"nonce\": \"{nonce}\"}}')"));
    assert_eq!(r["email"], "re@example.com", "{r}");
    assert!(sign_in(&db, "re@example.com", "fourth long password").get("access_token").is_some());
    // a nonce works once
    let r = call(&db, Some(&token), &format!("bknd.update_user('{{\"password\": \"fifth long password\", \"nonce\": \"{nonce}\"}}')"));
    assert_eq!(error_code(&r), "reauthentication_not_valid", "{r}");
}

#[test]
fn a_sign_in_limit_set_under_its_old_name_still_applies() {
    let db = TestDb::new("auth_old_limit_name");
    sign_up(&db, "old-name@example.com", "a long enough password");
    db.admin().batch_execute(r#"SELECT bknd.configure_auth('{"rate_limits": {"sign_in_email": 1}}')"#).unwrap();
    assert_eq!(error_code(&sign_in(&db, "old-name@example.com", "wrong password")), "invalid_credentials");
    assert_eq!(error_code(&sign_in(&db, "old-name@example.com", "wrong password")), "over_request_rate_limit");
}
