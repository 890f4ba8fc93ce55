//! Every console API call: no caching, and a state change only from the console's own page.
//! The session cookie is SameSite=Strict already; besides, a change must carry a header no
//! cross-site form can send (`x-bknd-console: 1`, which a cross-origin script cannot send
//! without a preflight that the console never answers) and a JSON body (but for the storage
//! API's uploads, which send the file's bytes), and when the browser says where the request
//! comes from (`Sec-Fetch-Site`, `Origin`) it must be this origin.

use axum::extract::Request;
use axum::http::{header, HeaderMap, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::ConsoleError;

pub async fn layer(request: Request, next: Next) -> Response {
    let safe = matches!(*request.method(), Method::GET | Method::HEAD);
    if !safe {
        let path = request.uri().path();
        let bytes = path.starts_with("/storage/") || path.starts_with("/console/api/storage/");
        if let Err(why) = same_origin(request.headers(), !bytes) {
            return ConsoleError::new(403, "cross_site", why).into_response();
        }
    }
    let mut response = next.run(request).await;
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// Whether a state-changing request comes from the console's page.
pub fn same_origin(headers: &HeaderMap, json_body: bool) -> Result<(), &'static str> {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
    if text("x-bknd-console") != Some("1") {
        return Err("console requests must come from the console (x-bknd-console: 1)");
    }
    let json = text("content-type").is_some_and(|t| t.to_ascii_lowercase().starts_with("application/json"));
    if json_body && !json {
        return Err("console requests send JSON (content-type: application/json)");
    }
    if let Some(site) = text("sec-fetch-site") {
        if !matches!(site, "same-origin" | "none") {
            return Err("cross-site requests are refused");
        }
    }
    if let (Some(origin), Some(host)) = (text("origin"), text("host")) {
        let origin_host = origin.split_once("://").map(|(_, rest)| rest).unwrap_or("");
        if !origin_host.eq_ignore_ascii_case(host) {
            return Err("cross-origin requests are refused");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn only_the_consoles_own_requests_change_state() {
        let ok = [("x-bknd-console", "1"), ("content-type", "application/json"), ("host", "127.0.0.1:3000")];
        assert!(same_origin(&headers(&ok), true).is_ok());
        let mut same = ok.to_vec();
        same.extend([("origin", "http://127.0.0.1:3000"), ("sec-fetch-site", "same-origin")]);
        assert!(same_origin(&headers(&same), true).is_ok());
        // a form post from another site: no header, a form body, another origin
        assert!(same_origin(&headers(&[("content-type", "application/x-www-form-urlencoded"), ("host", "a")]), true).is_err());
        assert!(same_origin(&headers(&[("x-bknd-console", "1"), ("content-type", "text/plain"), ("host", "a")]), true).is_err());
        // an upload's bytes may be of any type, but still only from the console's page
        assert!(same_origin(&headers(&[("x-bknd-console", "1"), ("content-type", "image/png"), ("host", "a")]), false).is_ok());
        assert!(same_origin(&headers(&[("content-type", "image/png"), ("host", "a")]), false).is_err());
        let mut other = ok.to_vec();
        other.push(("origin", "https://evil.example"));
        assert!(same_origin(&headers(&other), true).is_err());
        let mut cross = ok.to_vec();
        cross.push(("sec-fetch-site", "cross-site"));
        assert!(same_origin(&headers(&cross), true).is_err());
    }
}
