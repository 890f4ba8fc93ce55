//! Runs PostgREST's own test cases (tests/conformance/postgrest_cases.json) against the
//! sidecar: fixture SQL, request, expected status, headers and body.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::sidecar::Sidecar;

pub fn cases_path() -> std::path::PathBuf {
    if let Ok(p) = std::env::var("BKND_CONFORMANCE_CASES") {
        return p.into();
    }
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("conformance/postgrest_cases.json")
}

pub fn load_cases() -> Vec<Value> {
    let text = std::fs::read_to_string(cases_path()).unwrap_or_else(|e| panic!("read {:?}: {e}", cases_path()));
    serde_json::from_str::<Value>(&text).unwrap().as_array().unwrap().clone()
}

/// How many times the sidecar's schema cache has loaded (from /health).
pub fn schema_loads(sidecar: &Sidecar) -> u64 {
    sidecar.get("/health").1["schema_cache_loads"].as_u64().unwrap_or(0)
}

/// Wait until the schema cache has reloaded past `before`.
pub fn wait_for_reload(sidecar: &Sidecar, before: u64) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if schema_loads(sidecar) > before {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("the schema cache did not reload after the fixture");
}

pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

/// Send a request with any method, headers and body; never panics on HTTP error statuses.
pub fn request(base: &str, method: &str, path: &str, headers: &[(String, String)], body: Option<&str>) -> HttpResponse {
    let agent = ureq::AgentBuilder::new().timeout(Duration::from_secs(30)).build();
    let mut req = agent.request(method, &format!("{base}{path}"));
    for (k, v) in headers {
        req = req.set(k, v);
    }
    let result = match body {
        Some(b) => req.send_string(b),
        None => req.call(),
    };
    let response = match result {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => return HttpResponse { status: 0, headers: vec![], body: format!("transport error: {e}") },
    };
    let status = response.status();
    let headers =
        response.headers_names().iter().filter_map(|n| response.header(n).map(|v| (n.to_ascii_lowercase(), v.to_string()))).collect();
    let body = response.into_string().unwrap_or_default();
    HttpResponse { status, headers, body }
}

/// Compare JSON: exact (arrays in order unless `ordered` is false), or `subset` (every key the
/// expectation names has the expected value).
pub fn json_matches(expected: &Value, actual: &Value, ordered: bool, subset: bool) -> bool {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            if !subset && e.len() != a.len() {
                return false;
            }
            e.iter().all(|(k, v)| a.get(k).is_some_and(|av| json_matches(v, av, ordered, subset)))
        }
        (Value::Array(e), Value::Array(a)) => {
            if e.len() != a.len() {
                return false;
            }
            if ordered {
                e.iter().zip(a).all(|(x, y)| json_matches(x, y, ordered, subset))
            } else {
                let mut used = vec![false; a.len()];
                e.iter().all(|x| {
                    let hit = a.iter().enumerate().find(|(i, y)| !used[*i] && json_matches(x, y, ordered, subset));
                    match hit {
                        Some((i, _)) => {
                            used[i] = true;
                            true
                        }
                        None => false,
                    }
                })
            }
        }
        (Value::Number(e), Value::Number(a)) => e.as_f64() == a.as_f64(),
        _ => expected == actual,
    }
}

/// Check one case's response; the reasons it fails, if any.
pub fn check(case: &Value, r: &HttpResponse) -> Vec<String> {
    let mut problems = Vec::new();
    let status = case["expect_status"].as_u64().unwrap_or(0) as u16;
    if r.status != status {
        problems.push(format!("status {} (expected {status})", r.status));
    }
    if let Some(headers) = case["expect_headers"].as_object() {
        for (name, want) in headers {
            let got = r.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str());
            if got != want.as_str() {
                problems.push(format!("header {name}: {got:?} (expected {want})"));
            }
        }
    }
    if let Some(absent) = case["expect_headers_absent"].as_array() {
        for name in absent.iter().filter_map(Value::as_str) {
            if r.headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(name)) {
                problems.push(format!("header {name} should be absent"));
            }
        }
    }
    let expected = &case["expect_body"];
    let ordered = case["ordered"].as_bool().unwrap_or(true);
    match case["body_match"].as_str().unwrap_or("json") {
        "empty" => {
            if !r.body.is_empty() {
                problems.push(format!("body should be empty, got {:?}", r.body));
            }
        }
        "text" => {
            if Some(r.body.as_str()) != expected.as_str() {
                problems.push(format!("body {:?} (expected {expected})", r.body));
            }
        }
        mode => match serde_json::from_str::<Value>(&r.body) {
            Ok(actual) => {
                if !json_matches(expected, &actual, ordered, mode == "json_subset") {
                    problems.push(format!("body {} (expected {expected})", short(&r.body)));
                }
            }
            Err(_) if expected.is_null() && r.body.is_empty() => {}
            Err(_) => problems.push(format!("body is not JSON: {}", short(&r.body))),
        },
    }
    problems
}

fn short(s: &str) -> String {
    if s.len() > 300 {
        format!("{}...", &s[..300])
    } else {
        s.to_string()
    }
}
