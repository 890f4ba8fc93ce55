//! Who a request runs as: its bearer token (`Authorization`, else `apikey`; none is the anon
//! role) and what `bknd.authenticate` records of the request for policies to read.

use axum::http::HeaderMap;

#[derive(Debug, Clone)]
pub struct Caller {
    pub token: Option<String>,
    /// `request.method` and `request.path` as policies and functions see them
    pub method: String,
    pub path: String,
    /// `request.headers` (a JSON object), when the surface passes them on
    pub headers: Option<String>,
}

impl Caller {
    pub fn new(token: Option<String>, method: &str, path: &str) -> Caller {
        Caller { token, method: method.into(), path: path.into(), headers: None }
    }

    /// The caller of an HTTP request: its token from the headers.
    pub fn of(headers: &HeaderMap, method: &str, path: &str) -> Caller {
        Caller::new(token(headers), method, path)
    }

    /// A console member's session (`bknd-console:...`): `bknd.authenticate` keeps the session
    /// alive (a write), so its transaction turns read-only only after authenticating.
    pub fn is_console(&self) -> bool {
        self.token.as_deref().is_some_and(|t| t.trim_start().starts_with("bknd-console:"))
    }

    /// No token: a refusal means "sign in" (401), not "not you" (403).
    pub fn anonymous(&self) -> bool {
        self.token.is_none()
    }
}

/// The bearer token of a request: `Authorization: Bearer ...`, else the `apikey` header.
pub fn token(headers: &HeaderMap) -> Option<String> {
    let value = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(auth) = value("authorization") {
        if let Some((scheme, token)) = auth.split_once(' ') {
            if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() {
                return Some(token.trim().to_string());
            }
        }
    }
    value("apikey").map(str::trim).filter(|t| !t.is_empty()).map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_is_the_bearer_else_the_apikey() {
        let mut h = HeaderMap::new();
        assert_eq!(token(&h), None);
        h.insert("apikey", "anon-key".parse().unwrap());
        assert_eq!(token(&h).as_deref(), Some("anon-key"));
        h.insert("authorization", "Bearer user-token".parse().unwrap());
        assert_eq!(token(&h).as_deref(), Some("user-token"));
        h.insert("authorization", "Basic abc".parse().unwrap());
        assert_eq!(token(&h).as_deref(), Some("anon-key"));
        h.insert("authorization", "bearer   ".parse().unwrap());
        assert_eq!(token(&h).as_deref(), Some("anon-key"));
    }
}
