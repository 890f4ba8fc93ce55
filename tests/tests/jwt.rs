//! bknd.jwt_sign / jwt_verify / authenticate and the claim helpers.

use bknd_tests::jwt::{self, EcKey, RsaKey};
use bknd_tests::*;
use serde_json::{json, Value};

fn secret(db: &TestDb) -> String {
    db.admin().query_one("SELECT value FROM bknd.secrets WHERE name = 'jwt_secret'", &[]).unwrap().get(0)
}

fn verify(c: &mut Client, token: &str) -> Result<Value, postgres::Error> {
    c.query_one("SELECT bknd.jwt_verify($1)::text", &[&token]).map(|r| serde_json::from_str(&r.get::<_, String>(0)).unwrap())
}

fn rejected(c: &mut Client, token: &str, needle: &str) {
    let err = verify(c, token).expect_err("token must be rejected");
    assert_eq!(sqlstate(&err), "28000", "{err}");
    let msg = err.as_db_error().unwrap().message().to_string();
    assert!(msg.contains(needle), "message {msg:?} should mention {needle:?}");
}

#[test]
fn sign_then_verify_round_trips() {
    let db = TestDb::new("jwt_round");
    let mut c = db.admin();
    let token: String = c.query_one("SELECT bknd.jwt_sign('{\"sub\": \"abc\", \"role\": \"authenticated\"}', 60)", &[]).unwrap().get(0);
    let claims = verify(&mut c, &token).unwrap();
    assert_eq!(claims["sub"], "abc");
    let (iat, exp) = (claims["iat"].as_i64().unwrap(), claims["exp"].as_i64().unwrap());
    assert_eq!(exp - iat, 60);
    assert!((iat - jwt::now()).abs() < 5);
    // service_role may sign too (authenticator cannot, see roles_and_secret)
    let mut svc = db.connect_as("authenticator");
    svc.batch_execute("SET ROLE service_role").unwrap();
    svc.query_one("SELECT bknd.jwt_sign('{\"role\": \"anon\"}')", &[]).unwrap();
    // NULL expires_in: no exp
    let forever: String = c.query_one("SELECT bknd.jwt_sign('{\"role\": \"anon\"}', NULL)", &[]).unwrap().get(0);
    assert!(verify(&mut c, &forever).unwrap().get("exp").is_none());
    expect_error(&mut c, "SELECT bknd.jwt_sign('[1, 2]')", "22023");
    expect_error(&mut c, "SELECT bknd.jwt_sign('{}', -5)", "22023");
}

#[test]
fn verifies_hs256_hs384_hs512_from_other_signers() {
    let db = TestDb::new("jwt_hs");
    let s = secret(&db);
    let mut c = db.connect_as("authenticator");
    for alg in ["HS256", "HS384", "HS512"] {
        let t = jwt::hs(alg, s.as_bytes(), &json!({"sub": alg, "exp": jwt::now() + 60}));
        assert_eq!(verify(&mut c, &t).unwrap()["sub"], alg);
    }
}

#[test]
fn rejects_every_defective_token_with_28000() {
    let db = TestDb::new("jwt_bad");
    let s = secret(&db);
    let mut c = db.connect_as("authenticator");
    let good = jwt::hs("HS256", s.as_bytes(), &json!({"sub": "x"}));
    for malformed in ["", "abc", "a.b", "a.b.c.d", "!!!.###.$$$", "bm90IGpzb24.e30.c2ln"] {
        rejected(&mut c, malformed, "malformed");
    }
    // the signature is checked before the payload is even parsed
    rejected(&mut c, "eyJhbGciOiJIUzI1NiJ9.bm90IGpzb24.c2ln", "signature");
    let mut tampered = good.clone();
    tampered.pop();
    tampered.push(if good.ends_with('A') { 'B' } else { 'A' });
    rejected(&mut c, &tampered, "signature");
    rejected(&mut c, &jwt::hs("HS256", b"some-other-secret-of-sufficient-length!!", &json!({"sub": "x"})), "signature");
    rejected(&mut c, &jwt::unsigned(&json!({"sub": "x", "role": "service_role"})), "\"none\"");
    rejected(&mut c, &jwt::hs("HS256", s.as_bytes(), &json!({"sub": "x", "exp": jwt::now() - 120})), "expired");
    rejected(&mut c, &jwt::hs("HS256", s.as_bytes(), &json!({"sub": "x", "nbf": jwt::now() + 3600})), "not valid yet");
    rejected(&mut c, &jwt::hs("HS256", s.as_bytes(), &json!({"sub": "x", "exp": "tomorrow"})), "numbers");
    // within the leeway: accepted
    verify(&mut c, &jwt::hs("HS256", s.as_bytes(), &json!({"sub": "x", "exp": jwt::now() - 5}))).unwrap();
    // a payload that is not an object
    let not_object = {
        use base64::Engine;
        let b = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let input = format!("{}.{}", b.encode(r#"{"alg":"HS256"}"#), b.encode("[1,2]"));
        let sig = {
            use hmac::Mac;
            let mut m = <hmac::Hmac<sha2::Sha256> as Mac>::new_from_slice(s.as_bytes()).unwrap();
            m.update(input.as_bytes());
            b.encode(m.finalize().into_bytes())
        };
        format!("{input}.{sig}")
    };
    rejected(&mut c, &not_object, "JSON object");
}

#[test]
fn verifies_rs256_and_es256_against_a_jwks_and_resists_key_confusion() {
    let db = TestDb::new("jwt_jwks");
    let rsa = RsaKey::generate("rsa-1");
    let ec = EcKey::generate("ec-1");
    let jwks = json!({"keys": [rsa.jwk(), ec.jwk()]});
    let mut admin = db.admin();
    admin.execute("SELECT bknd.set_jwks($1::text::jsonb)", &[&jwks.to_string()]).unwrap();
    let mut c = db.connect_as("authenticator");
    let claims = json!({"sub": "auth0|123", "exp": jwt::now() + 60});
    assert_eq!(verify(&mut c, &rsa.sign(&claims)).unwrap()["sub"], "auth0|123");
    assert_eq!(verify(&mut c, &ec.sign(&claims)).unwrap()["sub"], "auth0|123");
    // a key that is not in the set
    rejected(&mut c, &RsaKey::generate("rsa-1").sign(&claims), "signature");
    rejected(&mut c, &EcKey::generate("ec-2").sign(&claims), "no key");
    // key confusion: an HS256 token whose HMAC key is the RSA public key
    let confused = jwt::hs("HS256", &rsa.public_modulus(), &claims);
    rejected(&mut c, &confused, "signature");
    // HS still accepted while enabled ...
    let s = secret(&db);
    verify(&mut c, &jwt::hs("HS256", s.as_bytes(), &claims)).unwrap();
    // ... and refused once only the asymmetric keys are configured
    admin.execute("SELECT bknd.set_jwks($1::text::jsonb, hs_enabled => false)", &[&jwks.to_string()]).unwrap();
    rejected(&mut c, &jwt::hs("HS256", s.as_bytes(), &claims), "no key");
    rejected(&mut c, &confused, "no key");
    verify(&mut c, &rsa.sign(&claims)).unwrap();
    // bad JWKS documents are refused and change nothing
    expect_error(&mut admin, "SELECT bknd.set_jwks('{\"keys\": [{\"kty\": \"RSA\"}]}')", "22023");
    expect_error(&mut admin, "SELECT bknd.set_jwks('{\"keys\": [{\"kty\": \"oct\", \"k\": \"AAAA\"}]}')", "22023");
    verify(&mut c, &ec.sign(&claims)).unwrap();
    // NULL removes the keys and turns HS back on
    admin.execute("SELECT bknd.set_jwks(NULL)", &[]).unwrap();
    verify(&mut c, &jwt::hs("HS256", s.as_bytes(), &claims)).unwrap();
    rejected(&mut c, &rsa.sign(&claims), "no key");
}

#[test]
fn authenticate_switches_role_and_sets_claims_for_the_transaction() {
    let db = TestDb::new("authn");
    let user = "6f1c1c4e-4a57-4c1b-9d4b-7b4b1f0a0001";
    let token = db.token(json!({"sub": user, "email": "a@example.com"}));
    let mut c = db.connect_as("authenticator");
    let mut tx = c.transaction().unwrap();
    let claims: String =
        tx.query_one("SELECT bknd.authenticate($1, 'GET', '/rest/v1/posts', '{\"x-a\": \"1\"}')::text", &[&token]).unwrap().get(0);
    let claims: Value = serde_json::from_str(&claims).unwrap();
    assert_eq!(claims["role"], "authenticated");
    let row = tx
        .query_one(
            "SELECT current_user::text, bknd.uid()::text, bknd.role(), bknd.email(), bknd.claims() ->> 'sub',
                    current_setting('request.method'), current_setting('request.path'),
                    current_setting('request.headers')::jsonb ->> 'x-a'",
            &[],
        )
        .unwrap();
    let got: Vec<String> = (0..8).map(|i| row.get(i)).collect();
    assert_eq!(got, vec!["authenticated", user, "authenticated", "a@example.com", user, "GET", "/rest/v1/posts", "1"]);
    tx.commit().unwrap();
    // transaction-local: gone after commit
    let after = scalar_string(&mut c, "SELECT current_user::text").unwrap();
    assert_eq!(after, "authenticator");
    assert_eq!(scalar_string(&mut c, "SELECT coalesce(current_setting('request.jwt.claims', true), '')").unwrap(), "");
}

#[test]
fn authenticate_null_or_empty_is_anon_and_roles_come_from_the_claim() {
    let db = TestDb::new("authn_roles");
    let mut c = db.connect_as("authenticator");
    for token in [None, Some("")] {
        let mut tx = c.transaction().unwrap();
        tx.query_one("SELECT bknd.authenticate($1)", &[&token]).unwrap();
        let row = tx.query_one("SELECT current_user::text, bknd.role(), bknd.uid() IS NULL", &[]).unwrap();
        assert_eq!((row.get::<_, String>(0), row.get::<_, String>(1), row.get::<_, bool>(2)), ("anon".into(), "anon".into(), true));
        tx.rollback().unwrap();
    }
    let service = db.token(json!({"role": "service_role"}));
    let mut tx = c.transaction().unwrap();
    tx.query_one("SELECT bknd.authenticate($1)", &[&service]).unwrap();
    assert_eq!(tx.query_one("SELECT current_user::text", &[]).unwrap().get::<_, String>(0), "service_role");
    tx.rollback().unwrap();
    // no sub and no role: anon
    let nobody = db.token(json!({"iss": "x"}));
    let mut tx = c.transaction().unwrap();
    tx.query_one("SELECT bknd.authenticate($1)", &[&nobody]).unwrap();
    assert_eq!(tx.query_one("SELECT current_user::text", &[]).unwrap().get::<_, String>(0), "anon");
    tx.rollback().unwrap();
}

#[test]
fn authenticate_refuses_roles_not_granted_superusers_and_bad_tokens() {
    let db = TestDb::new("authn_refuse");
    db.admin()
        .batch_execute("DO $$ BEGIN CREATE ROLE bknd_test_outsider NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$")
        .unwrap();
    let mut c = db.connect_as("authenticator");
    for (claims, needle) in [
        (json!({"role": "postgres"}), "superuser"),
        (json!({"role": "bknd_test_outsider"}), "not granted"),
        (json!({"role": "no_such_role_at_all"}), "does not exist"),
        (json!({"role": 42}), "string"),
    ] {
        let token = db.token(claims);
        let err = c.query_one("SELECT bknd.authenticate($1)", &[&token]).unwrap_err();
        assert_eq!(sqlstate(&err), "28000");
        assert!(err.as_db_error().unwrap().message().contains(needle), "{err}");
    }
    let err = c.query_one("SELECT bknd.authenticate('garbage')", &[]).unwrap_err();
    assert_eq!(sqlstate(&err), "28000");
    // the failed attempts changed nothing
    assert_eq!(scalar_string(&mut c, "SELECT current_user::text").unwrap(), "authenticator");
}

#[test]
fn uid_is_null_for_non_uuid_subjects() {
    let db = TestDb::new("uid");
    let mut c = db.admin();
    c.batch_execute("BEGIN").unwrap();
    c.execute("SELECT set_config('request.jwt.claims', '{\"sub\": \"auth0|123\"}', true)", &[]).unwrap();
    let row = c.query_one("SELECT bknd.uid() IS NULL, bknd.claims() ->> 'sub'", &[]).unwrap();
    assert!(row.get::<_, bool>(0));
    assert_eq!(row.get::<_, String>(1), "auth0|123");
    // a uuid in either case is one; no claims at all is NULL
    c.execute("SELECT set_config('request.jwt.claims', '{\"sub\": \"6F1C1C4E-4A57-4C1B-9D4B-7B4B1F0A0001\"}', true)", &[]).unwrap();
    assert_eq!(scalar_string(&mut c, "SELECT bknd.uid()::text").unwrap(), "6f1c1c4e-4a57-4c1b-9d4b-7b4b1f0a0001");
    // a sub that is not a string, or none at all: NULL
    for claims in ["", "{}", r#"{"sub": null}"#, r#"{"sub": 42}"#, r#"{"sub": " 6f1c1c4e-4a57-4c1b-9d4b-7b4b1f0a0001"}"#] {
        c.execute("SELECT set_config('request.jwt.claims', $1, true)", &[&claims]).unwrap();
        assert_eq!(scalar_string(&mut c, "SELECT coalesce(bknd.uid()::text, 'none')").unwrap(), "none", "{claims}");
    }
    c.batch_execute("ROLLBACK").unwrap();
}

/// bknd.uid() is one expression the planner inlines: a function body it cannot inline is parsed
/// and planned again on every statement that calls it (every owner policy, every owner_id
/// default), which cost an insert a third of its speed.
#[test]
fn uid_is_inlined_where_it_is_used() {
    let db = TestDb::new("uid_inlined");
    let mut c = db.admin();
    let plan: Vec<String> =
        c.query("EXPLAIN (VERBOSE, COSTS OFF) SELECT bknd.uid()", &[]).unwrap().iter().map(|r| r.get::<_, String>(0)).collect();
    let plan = plan.join("\n");
    assert!(!plan.contains("uid()") && plan.contains("request.jwt.claims"), "{plan}");
}

#[test]
fn a_cached_token_still_expires() {
    let db = TestDb::new("jwt_cache_exp");
    let s = secret(&db);
    let mut c = db.connect_as("authenticator");
    // expired 28 s ago: inside the 30 s leeway, so accepted now (and cached) ...
    let token = jwt::hs("HS256", s.as_bytes(), &json!({"sub": "x", "exp": jwt::now() - 28}));
    verify(&mut c, &token).unwrap();
    verify(&mut c, &token).unwrap();
    // ... and refused by the same backend once the leeway has passed
    std::thread::sleep(std::time::Duration::from_secs(4));
    rejected(&mut c, &token, "expired");
}
