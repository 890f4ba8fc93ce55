//! One delivery attempt: a POST with the Standard Webhooks headers (the signature made by the
//! database), no redirects followed, no proxy, 15 seconds at most, only to where the guard
//! allows.

use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

use super::guard::{Allow, Resolver};

/// How long a receiver gets to answer.
pub const TIMEOUT: Duration = Duration::from_secs(15);
/// How much of a failed answer's body is kept as its error.
const ERROR_BODY: usize = 512;

/// A claimed delivery, as `bknd.webhook_claim` answers it.
#[derive(Deserialize)]
pub struct Delivery {
    pub id: i64,
    pub event_id: String,
    pub url: String,
    #[serde(default)]
    pub headers: serde_json::Map<String, Value>,
    pub body: String,
    pub timestamp: i64,
    pub signature: String,
}

/// What came of an attempt.
pub struct Outcome {
    /// the receiver's status, if it answered
    pub status: Option<u16>,
    /// why it failed (a refused target, a timeout, a failed connection, a non-2xx answer)
    pub error: Option<String>,
    /// its Retry-After, in seconds
    pub retry_after: Option<i64>,
}

pub struct Sender {
    http: reqwest::Client,
    allow: Arc<Allow>,
}

impl Sender {
    pub fn new(allow: Arc<Allow>) -> anyhow::Result<Sender> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .retry(reqwest::retry::never())
            .no_proxy()
            .timeout(TIMEOUT)
            .connect_timeout(Duration::from_secs(10))
            .dns_resolver(Resolver(allow.clone()))
            .user_agent(concat!("bknd-webhooks/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Sender { http, allow })
    }

    pub async fn send(&self, d: &Delivery) -> Outcome {
        let failed = |error: String| Outcome { status: None, error: Some(error), retry_after: None };
        let url = match url::Url::parse(&d.url) {
            Ok(url) => url,
            Err(e) => return failed(format!("invalid URL: {e}")),
        };
        if let Err(refused) = self.allow.check_url(&url) {
            return failed(refused);
        }
        let mut request = self
            .http
            .post(url)
            .header("content-type", "application/json")
            .header("webhook-id", &d.event_id)
            .header("webhook-timestamp", d.timestamp.to_string())
            .header("webhook-signature", &d.signature);
        for (name, value) in &d.headers {
            if let Some(value) = value.as_str() {
                request = request.header(name.as_str(), value);
            }
        }
        let mut response = match request.body(d.body.clone()).send().await {
            Ok(r) => r,
            Err(e) => return failed(describe(&e)),
        };
        let status = response.status();
        // (at most a day: the database would take no more, and a report it refused would let the
        // claim run out and the delivery go again and again)
        let retry_after =
            response.headers().get("retry-after").and_then(|v| v.to_str().ok()).and_then(retry_after_seconds).map(|s| s.min(86_400));
        let error = if status.is_success() {
            None
        } else {
            // a little of what the receiver said, for whoever reads the log
            let mut said = Vec::new();
            while said.len() < ERROR_BODY {
                match tokio::time::timeout(Duration::from_secs(2), response.chunk()).await {
                    Ok(Ok(Some(chunk))) => said.extend_from_slice(&chunk),
                    _ => break,
                }
            }
            said.truncate(ERROR_BODY);
            // text the database stores: no NUL, no control characters
            let said: String =
                String::from_utf8_lossy(&said).chars().map(|c| if c.is_control() { ' ' } else { c }).collect::<String>().trim().to_string();
            Some(if said.is_empty() { format!("HTTP {}", status.as_u16()) } else { format!("HTTP {}: {said}", status.as_u16()) })
        };
        Outcome { status: Some(status.as_u16()), error, retry_after }
    }
}

/// Why a send failed, in a line (a refused name says so in the innermost cause).
fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        return format!("no answer within {} seconds", TIMEOUT.as_secs());
    }
    let text = crate::error_chain::describe(e);
    // the guard's refusal, several layers down, is the whole story
    match text.find("refused: ") {
        Some(at) => text[at..].to_string(),
        None => text,
    }
}

/// Retry-After as seconds from now: a number, or an HTTP date.
fn retry_after_seconds(value: &str) -> Option<i64> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<i64>() {
        return Some(seconds.max(0));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(when.duration_since(std::time::SystemTime::now()).map_or(0, |d| d.as_secs() as i64))
}

#[cfg(test)]
mod tests {
    #[test]
    fn retry_after_is_seconds_or_a_date() {
        assert_eq!(super::retry_after_seconds("120"), Some(120));
        assert_eq!(super::retry_after_seconds(" 7 "), Some(7));
        assert_eq!(super::retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT"), Some(0));
        assert_eq!(super::retry_after_seconds("soon"), None);
        assert_eq!(super::retry_after_seconds("99999999999"), Some(99_999_999_999));
    }
}
