//! OAuth / OIDC sign-in in the database: who may configure providers and drive a sign-in, the
//! state's one use and ten minutes, linking by verified email (and what that must not allow),
//! bans, disabled sign-ups and the app's PKCE. The HTTP side with a real provider is in
//! e2e_clients.rs (supabase_js_sign_in_with_oauth_and_oidc).

use bknd_tests::*;
use serde_json::{json, Value};

fn error_code(v: &Value) -> &str {
    v["error"]["code"].as_str().unwrap_or("")
}

fn provider(db: &TestDb) {
    db.admin()
        .batch_execute("SELECT bknd.configure_oauth_provider('acme', 'client', 'very secret', issuer => 'https://id.acme.example')")
        .unwrap();
}

/// As the sidecar does it: begin (optionally with the app's PKCE challenge), take the state,
/// complete with what the provider said.
fn sign_in(db: &TestDb, identity: Value, challenge: Option<&str>) -> Value {
    let mut c = db.connect_as("authenticator");
    let begun = json(
        &mut c,
        &format!(
            "bknd.oauth_begin('acme', 'http://app.test/', {}, 's256', '10.1.1.1')",
            challenge.map(|c| format!("'{c}'")).unwrap_or("NULL".into())
        ),
    );
    let state = begun["state"].as_str().unwrap_or_else(|| panic!("no state: {begun}")).to_string();
    let taken = json(&mut c, &format!("bknd.oauth_take_state('{state}')"));
    assert_eq!(taken["client_secret"], "very secret");
    let text: String =
        c.query_one("SELECT bknd.oauth_complete($1, $2::text::jsonb, '10.1.1.1')::text", &[&state, &identity.to_string()]).unwrap().get(0);
    serde_json::from_str(&text).unwrap()
}

#[test]
fn only_superusers_configure_providers_and_only_the_sidecar_drives_sign_ins() {
    let db = TestDb::new("oauth_priv");
    provider(&db);
    for role in ["anon", "authenticated", "service_role"] {
        let mut c = db.connect_as("authenticator");
        c.batch_execute(&format!("SET ROLE {role}")).unwrap();
        for sql in [
            "SELECT bknd.configure_oauth_provider('evil', 'c', 's', issuer => 'https://evil.example')",
            "SELECT bknd.remove_oauth_provider('acme')",
            "SELECT bknd.oauth_begin('acme')",
            "SELECT bknd.oauth_take_state('x')",
            "SELECT bknd.oauth_complete('x', '{}')",
            "SELECT * FROM bknd.oauth_providers",
            "SELECT * FROM bknd.oauth_states",
        ] {
            expect_error(&mut c, sql, "42501");
        }
    }
    // the secret is stored, never shown by what the public can read
    let settings = db.call_as(None, "bknd.auth_public_settings()");
    assert_eq!(settings["external"]["acme"], json!(true));
    assert!(!settings.to_string().contains("very secret"));
}

#[test]
fn provider_settings_are_validated() {
    let db = TestDb::new("oauth_config");
    let mut c = db.admin();
    for sql in [
        "SELECT bknd.configure_oauth_provider('x', 'c', 's', kind => 'saml', issuer => 'https://x.example')",
        "SELECT bknd.configure_oauth_provider('x', 'c', 's', issuer => 'http://id.example')",
        "SELECT bknd.configure_oauth_provider('x', 'c', 's', issuer => 'http://127.0.0.1.evil.example')",
        "SELECT bknd.configure_oauth_provider('x', 'c', 's')",
        "SELECT bknd.configure_oauth_provider('x', ' ', 's', issuer => 'https://x.example')",
    ] {
        expect_error(&mut c, sql, "22023");
    }
    expect_error(&mut c, "SELECT bknd.configure_oauth_provider('Bad Name', 'c', 's', issuer => 'https://x.example')", "23514");
    // defaults: google is OIDC at Google's issuer, github is GitHub
    let google = json(&mut c, "bknd.configure_oauth_provider('google', 'c', 's')");
    assert_eq!((google["kind"].as_str(), google["issuer"].as_str()), (Some("oidc"), Some("https://accounts.google.com")));
    assert!(google.get("client_secret").is_none());
    let github = json(&mut c, "bknd.configure_oauth_provider('github', 'c', 's')");
    assert_eq!(github["kind"], "github");
    assert_eq!(github["scopes"], "read:user user:email");
    assert!(scalar_string(&mut c, "SELECT bknd.remove_oauth_provider('github')::text").unwrap() == "true");
    let begun = json(&mut db.connect_as("authenticator"), "bknd.oauth_begin('github')");
    assert_eq!(error_code(&begun), "validation_failed");
}

#[test]
fn a_state_works_once_within_ten_minutes() {
    let db = TestDb::new("oauth_state");
    provider(&db);
    let mut c = db.connect_as("authenticator");
    let state = |c: &mut Client| json(c, "bknd.oauth_begin('acme')")["state"].as_str().unwrap().to_string();

    let s1 = state(&mut c);
    // completing before the state was taken (no code exchanged) is refused
    let early = json(&mut c, &format!("bknd.oauth_complete('{s1}', '{{\"provider_id\": \"1\"}}')"));
    assert_eq!(error_code(&early), "flow_state_not_found");
    assert!(json(&mut c, &format!("bknd.oauth_take_state('{s1}')")).get("client_id").is_some());
    assert_eq!(error_code(&json(&mut c, &format!("bknd.oauth_take_state('{s1}')"))), "flow_state_not_found");
    let done = json(&mut c, &format!("bknd.oauth_complete('{s1}', '{{\"provider_id\": \"1\"}}')"));
    assert!(done.get("access_token").is_some(), "{done}");
    let twice = json(&mut c, &format!("bknd.oauth_complete('{s1}', '{{\"provider_id\": \"1\"}}')"));
    assert_eq!(error_code(&twice), "flow_state_not_found");

    let s2 = state(&mut c);
    db.admin().batch_execute("UPDATE bknd.oauth_states SET created_at = now() - interval '11 minutes' WHERE taken_at IS NULL").unwrap();
    assert_eq!(error_code(&json(&mut c, &format!("bknd.oauth_take_state('{s2}')"))), "flow_state_not_found");
    assert_eq!(error_code(&json(&mut c, "bknd.oauth_take_state('made-up')")), "flow_state_not_found");
    // states are stored only as hashes
    assert_eq!(
        scalar_i64(&mut db.admin(), &format!("SELECT count(*) FROM bknd.oauth_states WHERE position('{s2}'::bytea in state_hash) > 0")),
        0
    );
}

#[test]
fn linking_by_email_needs_the_providers_word_and_drops_an_unproven_password() {
    let db = TestDb::new("oauth_link");
    provider(&db);
    // someone signs up with the victim's address and a password of theirs, never confirming it
    db.admin().batch_execute("SELECT bknd.configure_auth('{\"autoconfirm\": false}')").unwrap();
    db.call_as(None, "bknd.sign_up('victim@example.com', 'the squatter password')");
    let squatter = scalar_string(&mut db.admin(), "SELECT id::text FROM bknd.users WHERE email = 'victim@example.com'").unwrap();

    // an unverified provider email does not join the account
    let refused = sign_in(&db, json!({"provider_id": "p-1", "email": "victim@example.com", "email_verified": false}), None);
    assert_eq!(error_code(&refused), "email_exists");

    // the provider verified it: same account, confirmed, and the squatter's password is gone
    let session = sign_in(&db, json!({"provider_id": "p-2", "email": "Victim@Example.com", "email_verified": true, "name": "V"}), None);
    assert_eq!(session["user"]["id"], json!(squatter));
    assert!(session["user"]["email_confirmed_at"].is_string());
    let pw = db.call_as(None, "bknd.sign_in_password('victim@example.com', 'the squatter password')");
    assert_eq!(error_code(&pw), "invalid_credentials");

    // a new identity without any email makes a new user
    let anonymous = sign_in(&db, json!({"provider_id": "p-3"}), None);
    assert_ne!(anonymous["user"]["id"], json!(squatter));
    assert!(anonymous["user"]["email"].is_null());
    // a hostile identity is refused cleanly
    let bad = sign_in(&db, json!({"provider_id": ""}), None);
    assert_eq!(error_code(&bad), "bad_oauth_callback");
    let bad = sign_in(&db, json!(["not", "an", "object"]), None);
    assert_eq!(error_code(&bad), "bad_oauth_callback");
}

#[test]
fn bans_disabled_signups_and_the_apps_pkce() {
    use base64::Engine;
    use sha2::Digest;
    let db = TestDb::new("oauth_rules");
    provider(&db);
    let first = sign_in(&db, json!({"provider_id": "b-1", "email": "b@example.com", "email_verified": true}), None);
    let id = first["user"]["id"].as_str().unwrap().to_string();
    assert_eq!(first["user"]["app_metadata"]["provider"], "acme");

    db.admin().batch_execute(&format!("UPDATE bknd.users SET banned_until = now() + interval '1 day' WHERE id = '{id}'")).unwrap();
    assert_eq!(error_code(&sign_in(&db, json!({"provider_id": "b-1"}), None)), "user_banned");

    db.admin().batch_execute("SELECT bknd.configure_auth('{\"disable_signup\": true}')").unwrap();
    assert_eq!(
        error_code(&sign_in(&db, json!({"provider_id": "new-1", "email": "n@example.com", "email_verified": true}), None)),
        "signup_disabled"
    );
    assert_eq!(scalar_i64(&mut db.admin(), "SELECT count(*) FROM bknd.users WHERE email = 'n@example.com'"), 0);
    db.admin().batch_execute(&format!("UPDATE bknd.users SET banned_until = NULL WHERE id = '{id}'")).unwrap();

    // the app's PKCE: an auth code instead of a session, redeemed with the app's verifier
    let verifier = "the-apps-own-verifier-0123456789-abcdefghijklmnopq";
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier.as_bytes()));
    let answer = sign_in(&db, json!({"provider_id": "b-1"}), Some(&challenge));
    let code = answer["auth_code"].as_str().unwrap_or_else(|| panic!("{answer}"));
    assert!(answer.get("access_token").is_none());
    let session = db.call_as(None, &format!("bknd.exchange_auth_code('{code}', '{verifier}')"));
    assert_eq!(session["user"]["id"], json!(id));
    let payload = session["access_token"].as_str().unwrap().split('.').nth(1).unwrap().to_string();
    let claims: Value = serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
    assert_eq!(claims["amr"][0]["method"], "oauth");
}

#[test]
fn a_new_identitys_first_sign_in_in_two_tabs_at_once_makes_one_user() {
    let db = TestDb::new("oauth_race");
    provider(&db);
    let identity = json!({"provider_id": "r-1", "email": "race@example.com", "email_verified": true});
    let (a, b) = db.racing("bknd.users", || sign_in(&db, identity.clone(), None), || sign_in(&db, identity.clone(), None));
    assert!(a["access_token"].is_string() && b["access_token"].is_string(), "{a} {b}");
    assert_eq!(a["user"]["id"], b["user"]["id"]);
    let mut admin = db.admin();
    assert_eq!(scalar_i64(&mut admin, "SELECT count(*) FROM bknd.users"), 1);
    assert_eq!(scalar_i64(&mut admin, "SELECT count(*) FROM bknd.identities WHERE provider = 'acme'"), 1);
}
