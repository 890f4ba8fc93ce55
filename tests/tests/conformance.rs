//! PostgREST conformance: every case in tests/conformance/postgrest_cases.json, run against
//! the sidecar with the settings the cases' notes give (schema `test`, anon role
//! `postgrest_test_anonymous`, JWT secret 'reallyreallyreallyreallyverysafe').

use bknd_tests::conformance::*;
use bknd_tests::sidecar::Sidecar;
use bknd_tests::*;
use serde_json::Value;

/// The number of cases that must pass; raise it as the API grows (README lists the rest).
const MUST_PASS: usize = 69;

#[test]
fn postgrest_conformance_cases() {
    let cases = load_cases();
    let db = TestDb::new("conformance");
    let mut admin = db.admin();
    admin.execute("SELECT bknd.set_jwt_secret('reallyreallyreallyreallyverysafe')", &[]).unwrap();
    // the first fixture creates the test roles; authenticator must be able to become them
    admin.batch_execute(cases[0]["fixture_sql"].as_str().unwrap()).unwrap();
    admin.batch_execute("GRANT postgrest_test_anonymous, postgrest_test_author TO authenticator").unwrap();

    let url = url("authenticator", &db.name);
    let base_args = ["--schemas", "test", "--anon-role", "postgrest_test_anonymous"];
    let plain = Sidecar::start(&url, &base_args);
    let mut with_pre_request: Option<Sidecar> = None;

    let (mut passed, mut failed) = (0usize, Vec::new());
    for case in &cases {
        let name = case["name"].as_str().unwrap_or("?");
        let sidecar = if case["requires_config"]["db-pre-request"].is_string() {
            let pre = case["requires_config"]["db-pre-request"].as_str().unwrap().to_string();
            with_pre_request.get_or_insert_with(|| {
                let mut args = base_args.to_vec();
                args.extend(["--pre-request", pre.as_str()]);
                Sidecar::start(&url, &args)
            })
        } else {
            &plain
        };
        let before = schema_loads(sidecar);
        admin.batch_execute(case["fixture_sql"].as_str().unwrap()).unwrap_or_else(|e| panic!("fixture of {name}: {e}"));
        wait_for_reload(sidecar, before);

        let headers: Vec<(String, String)> = case["headers"]
            .as_object()
            .map(|h| h.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string())).collect())
            .unwrap_or_default();
        let body = match (&case["body"], case["body_is_raw"].as_bool().unwrap_or(false)) {
            (Value::Null, _) => None,
            (Value::String(s), true) => Some(s.clone()),
            (v, _) => Some(v.to_string()),
        };
        let path = format!("/rest/v1{}", case["path"].as_str().unwrap());
        let response = request(&sidecar.base, case["method"].as_str().unwrap(), &path, &headers, body.as_deref());
        let problems = check(case, &response);
        if problems.is_empty() {
            passed += 1;
        } else {
            failed.push(format!("{name}: {}", problems.join("; ")));
        }
    }
    for f in &failed {
        eprintln!("FAILED {f}");
    }
    println!("conformance: {passed} passed, {} failed", failed.len());
    assert!(passed >= MUST_PASS, "{passed} conformance cases passed, at least {MUST_PASS} must");
}
