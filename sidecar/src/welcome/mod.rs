//! `GET /`: a page, so the default site URL (this server's) is somewhere to land: email links
//! and OAuth sign-ins go there until an app sets `--site-url`. It says so, and what happened.

use axum::http::header;
use axum::response::IntoResponse;

const PAGE: &str = include_str!("page.html");

pub async fn page() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            // the fragment may hold a session: the page is not to be cached, framed or referred from
            (header::CACHE_CONTROL, "no-store"),
            (header::X_FRAME_OPTIONS, "DENY"),
            (header::REFERRER_POLICY, "no-referrer"),
        ],
        PAGE,
    )
}
