//! Requests answered, by surface, for the console's Home: counted in memory as they are
//! answered (two atomic adds a request) and added to `bknd.request_stats` (one row per hour and
//! surface) every minute, so several sidecars on one database add up there. A failed write
//! keeps the counts for the next round.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde_json::json;

use crate::engine::Engine;

/// The surfaces counted, by their path prefix; other paths (the console's page, /health) are not.
const SURFACES: [(&str, &str); 6] = [
    ("/rest/", "rest"),
    ("/auth/", "auth"),
    ("/storage/", "storage"),
    ("/realtime/", "realtime"),
    ("/mcp/", "mcp"),
    ("/console/api/", "console"),
];

/// Requests and server errors (5xx) per surface since the last write.
static COUNTS: [(AtomicU64, AtomicU64); SURFACES.len()] = [const { (AtomicU64::new(0), AtomicU64::new(0)) }; SURFACES.len()];

/// The surface a path belongs to, as an index into SURFACES.
pub fn surface(path: &str) -> Option<usize> {
    SURFACES.iter().position(|(prefix, _)| path.starts_with(prefix) || path == prefix.trim_end_matches('/'))
}

pub fn count(surface: Option<usize>, status: u16) {
    let Some(i) = surface else { return };
    COUNTS[i].0.fetch_add(1, Ordering::Relaxed);
    if status >= 500 {
        COUNTS[i].1.fetch_add(1, Ordering::Relaxed);
    }
}

/// Take the counts so far: `[(index, requests, errors)]` of the surfaces that had any.
fn take() -> Vec<(usize, u64, u64)> {
    (0..SURFACES.len())
        .filter_map(|i| {
            // a request is counted, then its error: taken in the other order, an error is never
            // ahead of its request; one counted meanwhile waits for the next round
            let errors = COUNTS[i].1.swap(0, Ordering::Relaxed);
            let requests = COUNTS[i].0.swap(0, Ordering::Relaxed);
            let kept = errors.min(requests);
            COUNTS[i].1.fetch_add(errors - kept, Ordering::Relaxed);
            (requests > 0).then_some((i, requests, kept))
        })
        .collect()
}

fn give_back(taken: &[(usize, u64, u64)]) {
    for &(i, requests, errors) in taken {
        COUNTS[i].0.fetch_add(requests, Ordering::Relaxed);
        COUNTS[i].1.fetch_add(errors, Ordering::Relaxed);
    }
}

/// Every `every`: add what was counted to bknd.request_stats. Runs until the application
/// stops it (crate::state::Background).
pub async fn record(engine: Engine, every: Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let taken = take();
        if taken.is_empty() {
            continue;
        }
        let counts: Vec<_> =
            taken.iter().map(|&(i, requests, errors)| json!({"surface": SURFACES[i].1, "requests": requests, "errors": errors})).collect();
        let call = crate::extension::console::record_requests(&json!(counts));
        if let Err(e) = engine.call_as_sidecar(call).await {
            tracing::debug!(failure = ?e, "request counts not recorded yet; kept for the next round");
            give_back(&taken);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::surface;

    #[test]
    fn paths_are_counted_by_their_surface() {
        assert_eq!(surface("/rest/v1/posts").map(|i| super::SURFACES[i].1), Some("rest"));
        assert_eq!(surface("/mcp").map(|i| super::SURFACES[i].1), Some("mcp"));
        assert_eq!(surface("/console/api/tools/list_tables").map(|i| super::SURFACES[i].1), Some("console"));
        assert_eq!(surface("/console/assets/app.js"), None);
        assert_eq!(surface("/health"), None);
        assert_eq!(surface("/restless"), None);
        assert_eq!(surface("/mcpx"), None);
    }
}
