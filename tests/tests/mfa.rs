//! TOTP MFA in the database: enroll, challenge, verify to aal2, replay refused, unenroll.

use bknd_tests::*;
use serde_json::Value;

fn call(db: &TestDb, token: Option<&str>, sql: &str) -> Value {
    db.call_as(token, sql)
}

fn claim(db: &TestDb, token: &str, name: &str) -> String {
    db.admin().query_one("SELECT bknd.jwt_verify($1) ->> $2", &[&token, &name]).unwrap().get(0)
}

#[test]
fn totp_enroll_verify_replay_and_unenroll() {
    let db = TestDb::new("mfa");
    let s = call(&db, None, "bknd.sign_up('m@example.com', 'a long enough password')");
    let aal1 = s["access_token"].as_str().unwrap().to_string();
    assert_eq!(claim(&db, &aal1, "aal"), "aal1");

    let f = call(&db, Some(&aal1), "bknd.mfa_enroll('phone')");
    let factor = f["id"].as_str().unwrap().to_string();
    let secret = f["totp"]["secret"].as_str().unwrap().to_string();
    assert!(
        f["totp"]["uri"].as_str().unwrap().starts_with("otpauth://totp/bknd:m%40example.com")
            || f["totp"]["uri"].as_str().unwrap().starts_with("otpauth://totp/bknd:m@example.com")
    );
    // the SVG itself, as GoTrue answers (supabase-js makes the data URL), with no '#' that
    // would cut that URL short; the issuer is bknd's unless the client names one
    let qr = f["totp"]["qr_code"].as_str().unwrap();
    assert!(qr.contains("<svg") && !qr.starts_with("data:") && !qr.contains('#'), "{qr}");
    assert!(f["totp"]["uri"].as_str().unwrap().contains("issuer=bknd"));
    // someone else's token cannot see or use the factor
    let other = call(&db, None, "bknd.sign_up('o@example.com', 'a long enough password')");
    let other_token = other["access_token"].as_str().unwrap();
    assert_eq!(call(&db, Some(other_token), &format!("bknd.mfa_challenge('{factor}')"))["error"]["code"], "mfa_factor_not_found");

    let ch = call(&db, Some(&aal1), &format!("bknd.mfa_challenge('{factor}')"));
    let challenge = ch["id"].as_str().unwrap().to_string();
    let wrong = call(&db, Some(&aal1), &format!("bknd.mfa_verify('{factor}', '{challenge}', '000000')"));
    assert_eq!(wrong["error"]["code"], "mfa_verification_failed");
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    let code = totp::code_at(&secret, now);
    let ok = call(&db, Some(&aal1), &format!("bknd.mfa_verify('{factor}', '{challenge}', '{code}')"));
    let aal2 = ok["access_token"].as_str().expect("a session").to_string();
    assert_eq!(claim(&db, &aal2, "aal"), "aal2");
    assert_eq!(ok["user"]["factors"][0]["status"], "verified");
    // the same challenge twice, and the same code on a new challenge: both refused
    assert_eq!(
        call(&db, Some(&aal1), &format!("bknd.mfa_verify('{factor}', '{challenge}', '{code}')"))["error"]["code"],
        "mfa_challenge_expired"
    );
    let ch2 = call(&db, Some(&aal1), &format!("bknd.mfa_challenge('{factor}')"))["id"].as_str().unwrap().to_string();
    assert_eq!(
        call(&db, Some(&aal1), &format!("bknd.mfa_verify('{factor}', '{ch2}', '{code}')"))["error"]["code"],
        "mfa_verification_failed"
    );
    // removing a verified factor needs aal2
    assert_eq!(call(&db, Some(&aal1), &format!("bknd.mfa_unenroll('{factor}')"))["error"]["code"], "insufficient_aal");
    assert_eq!(call(&db, Some(&aal2), &format!("bknd.mfa_unenroll('{factor}')"))["id"], factor.as_str());
    assert_eq!(scalar_i64(&mut db.admin(), "SELECT count(*) FROM bknd.mfa_factors"), 0);
    // garbage ids are a clean not-found
    assert_eq!(call(&db, Some(&aal2), "bknd.mfa_challenge('x''; drop table bknd.users; --')")["error"]["code"], "mfa_factor_not_found");
}

#[test]
fn the_issuer_the_client_names_is_the_one_the_app_shows() {
    let db = TestDb::new("mfa_issuer");
    let s = call(&db, None, "bknd.sign_up('i@example.com', 'a long enough password')");
    let token = s["access_token"].as_str().unwrap().to_string();
    let named = call(&db, Some(&token), "bknd.mfa_enroll_totp('laptop', 'My App')");
    assert!(named["totp"]["uri"].as_str().unwrap().starts_with("otpauth://totp/My%20App:"), "{named}");
    assert!(!named["totp"]["qr_code"].as_str().unwrap().contains('#'));
    for bad in ["a:b", &"x".repeat(101)] {
        let refused = call(&db, Some(&token), &format!("bknd.mfa_enroll_totp('x', '{bad}')"));
        assert_eq!(refused["error"]["code"], "validation_failed", "{bad}");
    }
}
