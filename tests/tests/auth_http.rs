//! /auth/v1 over HTTP with hostile input: every field, every route. Always a 4xx with a GoTrue
//! error body, never a 5xx, and nothing created.

use bknd_tests::conformance::request;
use bknd_tests::mail::{quoted_printable, MailSink};
use bknd_tests::sidecar::Sidecar;
use bknd_tests::*;
use serde_json::{json, Value};

#[test]
fn hostile_input_to_every_auth_route_is_a_clean_4xx() {
    let db = TestDb::new("auth_http");
    let sidecar = Sidecar::start(&url("authenticator", &db.name), &[]);
    let service = db.token(json!({"role": "service_role"}));
    let ct = ("Content-Type".to_string(), "application/json".to_string());
    let long = "x".repeat(100_000);
    let cases: Vec<(&str, String, Option<String>, bool)> = vec![
        ("POST", "/auth/v1/signup".into(), Some("{".into()), false),
        ("POST", "/auth/v1/signup".into(), Some("[]".into()), false),
        ("POST", "/auth/v1/signup".into(), Some(r#"{"email": 5, "password": "a long enough password"}"#.into()), false),
        (
            "POST",
            "/auth/v1/signup".into(),
            Some(r#"{"email": "x'); DROP TABLE bknd.users; --", "password": "a long enough password"}"#.into()),
            false,
        ),
        (
            "POST",
            "/auth/v1/signup".into(),
            Some(json!({"email": format!("{long}@example.com"), "password": "a long enough password"}).to_string()),
            false,
        ),
        ("POST", "/auth/v1/signup".into(), Some(json!({"email": "ok@example.com", "password": long}).to_string()), false),
        (
            "POST",
            "/auth/v1/signup".into(),
            Some(r#"{"email": "ok@example.com", "password": "a long enough password", "data": "not an object"}"#.into()),
            false,
        ),
        ("POST", "/auth/v1/token?grant_type=password".into(), Some(r#"{"email": {"$ne": null}, "password": "x"}"#.into()), false),
        ("POST", "/auth/v1/token?grant_type=password".into(), Some(r#"{"email": "nobody@example.com", "password": "x"}"#.into()), false),
        ("POST", "/auth/v1/token?grant_type=refresh_token".into(), Some(r#"{"refresh_token": "' OR 1=1 --"}"#.into()), false),
        ("POST", "/auth/v1/token?grant_type=implicit".into(), Some("{}".into()), false),
        ("POST", "/auth/v1/token".into(), Some("{}".into()), false),
        ("POST", "/auth/v1/otp".into(), Some(r#"{"email": "not an email"}"#.into()), false),
        ("POST", "/auth/v1/verify".into(), Some(r#"{"type": "email", "email": "a@example.com", "token": "' OR ''='"}"#.into()), false),
        ("POST", "/auth/v1/verify".into(), Some(r#"{"type": "sideways", "email": "a@example.com", "token": "123456"}"#.into()), false),
        ("GET", "/auth/v1/user".into(), None, false),
        ("GET", "/auth/v1/reauthenticate".into(), None, false),
        ("POST", "/auth/v1/verify".into(), Some(r#"{"type": "email_change", "token_hash": "a@example.com:123456"}"#.into()), false),
        ("POST", "/auth/v1/verify".into(), Some(r#"{"type": "email_change", "email": "a@example.com", "token": "123456"}"#.into()), false),
        ("PUT", "/auth/v1/user".into(), Some(r#"{"password": "short"}"#.into()), false),
        ("POST", "/auth/v1/factors".into(), Some(r#"{"factor_type": "totp"}"#.into()), false),
        ("POST", "/auth/v1/factors/not-a-uuid/challenge".into(), None, false),
        ("GET", "/auth/v1/admin/users".into(), None, false),
        ("GET", "/auth/v1/admin/users/x'%3B%20drop".into(), None, true),
        (
            "PUT",
            "/auth/v1/admin/users/00000000-0000-0000-0000-000000000000".into(),
            Some(r#"{"ban_duration": "forever and ever"}"#.into()),
            true,
        ),
        ("POST", "/auth/v1/admin/users".into(), Some(r#"{"email": "admin-made@example.com", "password": "x"}"#.into()), true),
        ("POST", "/auth/v1/admin/users".into(), Some(r#"{"email": "admin-made@example.com", "role": "postgres"}"#.into()), true),
        ("GET", "/auth/v1/authorize".into(), None, false),
        ("GET", "/auth/v1/authorize?provider=x%27%3B%20drop%20table%20bknd.users".into(), None, false),
        ("GET", format!("/auth/v1/authorize?provider=github&scopes={}", "s".repeat(2000)), None, false),
        ("GET", "/auth/v1/callback".into(), None, false),
        ("GET", "/auth/v1/callback?state=forged&code=x".into(), None, false),
        ("GET", "/auth/v1/callback?state=%00&error=access_denied".into(), None, false),
    ];
    for (method, path, body, as_service) in &cases {
        let mut headers = vec![ct.clone()];
        if *as_service {
            headers.push(("Authorization".to_string(), format!("Bearer {service}")));
        }
        let r = request(&sidecar.base, method, path, &headers, body.as_deref());
        assert!(
            (400..500).contains(&r.status),
            "{method} {path} {:?}: status {} {}",
            body.as_deref().map(|b| &b[..b.len().min(80)]),
            r.status,
            r.body
        );
        let v: Value = serde_json::from_str(&r.body).unwrap_or_else(|_| panic!("{method} {path}: not JSON: {}", r.body));
        assert!(v["error_code"].is_string() && v["msg"].is_string() && v["code"].is_number(), "{method} {path}: {v}");
    }
    let mut admin = db.admin();
    assert_eq!(scalar_i64(&mut admin, "SELECT count(*) FROM bknd.users"), 0);
    assert_eq!(scalar_i64(&mut admin, "SELECT count(*) FROM bknd.sessions"), 0);
}

fn code_in(mail: &str) -> String {
    let at = mail.find("code: ").unwrap_or_else(|| panic!("no code in {mail}")) + 6;
    mail[at..at + 6].to_string()
}

fn link_token_in(mail: &str) -> String {
    let at = mail.find("token=").unwrap_or_else(|| panic!("no link in {mail}")) + 6;
    mail[at..].split(['&', '\r', '\n']).next().unwrap().to_string()
}

struct Http {
    base: String,
    anon: String,
}

impl Http {
    fn send(&self, method: &str, path: &str, token: Option<&str>, body: Option<Value>) -> (u16, Value) {
        let headers = vec![
            ("Content-Type".to_string(), "application/json".to_string()),
            ("apikey".to_string(), self.anon.clone()),
            ("Authorization".to_string(), format!("Bearer {}", token.unwrap_or(&self.anon))),
        ];
        let body = body.map(|b| b.to_string());
        let r = request(&self.base, method, path, &headers, body.as_deref());
        (r.status, serde_json::from_str(&r.body).unwrap_or(Value::String(r.body)))
    }

    /// GET without following the redirect: the Location header.
    fn location(&self, path: &str) -> String {
        let agent = ureq::AgentBuilder::new().redirects(0).build();
        let r = agent.get(&format!("{}{path}", self.base)).call().unwrap_or_else(|e| panic!("GET {path}: {e}"));
        assert_eq!(r.status(), 303);
        r.header("location").unwrap_or("").to_string()
    }
}

fn with_mail(label: &str) -> (TestDb, MailSink, Sidecar, Http) {
    let db = TestDb::new(label);
    let sink = MailSink::start();
    let sidecar = Sidecar::start(&url("authenticator", &db.name), &["--smtp-url", &sink.url(), "--site-url", "http://app.example.test"]);
    let http = Http { base: sidecar.base.clone(), anon: db.token(json!({"role": "anon"})) };
    (db, sink, sidecar, http)
}

#[test]
fn an_emailed_code_is_refused_as_a_link_token_on_both_verify_routes() {
    let (_db, sink, _sidecar, http) = with_mail("auth_http_code_link");
    let (status, _) = http.send("POST", "/auth/v1/otp", None, Some(json!({"email": "victim@example.com"})));
    assert_eq!(status, 200);
    let code = code_in(&sink.nth("victim@example.com", 1));
    let hash = format!("victim@example.com:{code}");
    let (status, v) = http.send("POST", "/auth/v1/verify", None, Some(json!({"type": "magiclink", "token_hash": hash})));
    assert_eq!((status, v["error_code"].as_str()), (403, Some("otp_expired")), "{v}");
    let location = http.location(&format!("/auth/v1/verify?type=magiclink&token={}", hash.replace('@', "%40").replace(':', "%3A")));
    assert!(location.contains("error_code=otp_expired") && !location.contains("access_token"), "{location}");
    // the code itself still works, as a code
    let (status, v) =
        http.send("POST", "/auth/v1/verify", None, Some(json!({"type": "email", "email": "victim@example.com", "token": code})));
    assert_eq!(status, 200, "{v}");
    assert!(v["access_token"].is_string());
}

#[test]
fn an_email_change_waits_for_codes_mailed_to_both_addresses() {
    let (db, sink, _sidecar, http) = with_mail("auth_http_email_change");
    db.admin().batch_execute(r#"SELECT bknd.configure_auth('{"autoconfirm": true}')"#).unwrap();
    let (status, session) =
        http.send("POST", "/auth/v1/signup", None, Some(json!({"email": "owner@example.com", "password": "a long enough password"})));
    assert_eq!(status, 200, "{session}");
    db.admin().batch_execute(r#"SELECT bknd.configure_auth('{"autoconfirm": false}')"#).unwrap();
    let token = session["access_token"].as_str().unwrap().to_string();
    let (status, user) = http.send("PUT", "/auth/v1/user", Some(&token), Some(json!({"email": "x@victim.example", "email_confirm": true})));
    assert_eq!(status, 200, "{user}");
    assert_eq!(user["email"], "owner@example.com");
    assert_eq!(user["new_email"], "x@victim.example");
    assert!(user["email_change_sent_at"].is_string(), "{user}");
    let to_new = sink.nth("x@victim.example", 1);
    let to_current = sink.nth("owner@example.com", 1);
    assert!(!user.to_string().contains(&code_in(&to_new)), "a code reached the caller");
    let (_, me) = http.send("GET", "/auth/v1/user", Some(&token), None);
    assert_eq!(me["email"], "owner@example.com");
    // the new address confirms by its code: a message asking for the other confirmation
    let (status, first) = http.send(
        "POST",
        "/auth/v1/verify",
        None,
        Some(json!({"type": "email_change", "email": "x@victim.example", "token": code_in(&to_new)})),
    );
    assert_eq!(status, 200, "{first}");
    assert!(first["msg"].as_str().unwrap_or("").contains("other email"), "{first}");
    assert_eq!(http.send("GET", "/auth/v1/user", Some(&token), None).1["email"], "owner@example.com");
    // the current address by its link: the change is made, and the session is for the new email
    let location = http.location(&format!("/auth/v1/verify?type=email_change&token={}", link_token_in(&to_current)));
    assert!(location.starts_with("http://app.example.test#access_token="), "{location}");
    let (_, me) = http.send("GET", "/auth/v1/user", Some(&token), None);
    assert_eq!(me["email"], "x@victim.example", "{me}");
    assert!(me["email_confirmed_at"].is_string() && me.get("new_email").is_none(), "{me}");
}

#[test]
fn reauthenticate_mails_a_nonce_that_lets_a_password_change_through() {
    let (db, sink, _sidecar, http) = with_mail("auth_http_reauth");
    let (_, session) =
        http.send("POST", "/auth/v1/signup", None, Some(json!({"email": "re@example.com", "password": "a long enough password"})));
    let token = session["access_token"].as_str().unwrap().to_string();
    db.admin()
        .batch_execute(r#"SELECT bknd.configure_auth('{"secure_password_change": true}'); UPDATE bknd.sessions SET created_at = now() - interval '2 days'"#)
        .unwrap();
    let (status, v) = http.send("PUT", "/auth/v1/user", Some(&token), Some(json!({"password": "a new long password"})));
    assert_eq!((status, v["error_code"].as_str()), (400, Some("reauthentication_needed")), "{v}");
    let (status, v) = http.send("GET", "/auth/v1/reauthenticate", Some(&token), None);
    assert_eq!((status, v.clone()), (200, json!({})), "{v}");
    let nonce = code_in(&sink.nth("re@example.com", 1));
    let (status, v) = http.send("PUT", "/auth/v1/user", Some(&token), Some(json!({"password": "a new long password", "nonce": "999999x"})));
    assert_eq!((status, v["error_code"].as_str()), (422, Some("reauthentication_not_valid")), "{v}");
    let (status, v) = http.send("PUT", "/auth/v1/user", Some(&token), Some(json!({"password": "a new long password", "nonce": nonce})));
    assert_eq!(status, 200, "{v}");
    let (status, _) = http.send(
        "POST",
        "/auth/v1/token?grant_type=password",
        None,
        Some(json!({"email": "re@example.com", "password": "a new long password"})),
    );
    assert_eq!(status, 200);
    // anon has no user to reauthenticate
    let (status, v) = http.send("GET", "/auth/v1/reauthenticate", None, None);
    assert!((400..500).contains(&status), "{status} {v}");
}

#[test]
fn without_smtp_each_email_is_a_file_in_the_mail_dir_and_links_land_on_a_page() {
    let db = TestDb::new("auth_http_maildir");
    let dir = std::env::temp_dir().join(format!("bknd-mail-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let log = dir.with_extension("log");
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    // started by hand to read its log: a refused redirect_to is a warning that names the flag
    let mut child = std::process::Command::new(bknd_tests::sidecar::binary())
        .args(["serve", "--database-url", &url("authenticator", &db.name), "--listen", &format!("127.0.0.1:{port}")])
        .args(["--mail-dir", &dir.to_string_lossy()])
        .env("BKND_LOG", "warn,bknd_sidecar::auth=info")
        .env("NO_COLOR", "1")
        .stdout(std::process::Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let http = Http { base: base.clone(), anon: db.token(json!({"role": "anon"})) };
    let (status, v) = http.send(
        "POST",
        "/auth/v1/otp?redirect_to=https%3A%2F%2Felsewhere.example%2F",
        None,
        Some(json!({"email": "dev@example.com", "create_user": true})),
    );
    assert_eq!(status, 200, "{v}");
    let new = dir.join("new");
    let files: Vec<_> = std::fs::read_dir(&new).map(|d| d.flatten().map(|e| e.path()).collect()).unwrap_or_default();
    assert_eq!(files.len(), 1, "one message in {}", new.display());
    let mail = quoted_printable(&std::fs::read_to_string(&files[0]).unwrap());
    assert!(mail.contains("To: dev@example.com") || mail.contains("To: <dev@example.com>"), "{mail}");
    let code = code_in(&mail);
    // the link lands on the site URL, by default this server's own page
    let location = http.location(&format!("/auth/v1/verify?token={}&type=magiclink", link_token_in(&mail)));
    assert!(
        location.starts_with(&format!("{base}#access_token=")) || location.starts_with(&format!("{base}/#access_token=")),
        "{location}"
    );
    // `/` leads to the console, whose page hands a landing link (#access_token=...) on to /welcome
    assert!(request(&base, "GET", "/", &[], None).body.contains("/console/assets/app.js"));
    let page = request(&base, "GET", "/welcome", &[], None);
    assert_eq!(page.status, 200);
    assert!(page.body.contains("bknd is running") && page.body.contains("--site-url"), "{}", page.body);
    assert!(page.headers.iter().any(|(k, v)| k == "content-type" && v.starts_with("text/html")));
    let _ = child.kill();
    let _ = child.wait();
    let logged = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(logged.contains("redirect_to") && logged.contains("--redirect-allow"), "{logged}");
    assert!(logged.contains(&files[0].display().to_string()), "the log says where the message is: {logged}");
    assert!(!logged.contains(&code), "the code itself stays out of the log");
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_file(&log);
}
