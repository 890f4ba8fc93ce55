//! The console's page and assets, embedded in the binary (console/dist, built by `make` from
//! console/ with a pinned lockfile), served gzip-compressed to browsers that accept it.

use axum::extract::Path;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

struct Asset {
    body: &'static [u8],
    gzip: &'static [u8],
    content_type: &'static str,
}

macro_rules! asset {
    ($path:literal, $type:literal) => {
        Asset {
            body: include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/../console/dist/", $path)),
            gzip: include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/../console/dist/", $path, ".gz")),
            content_type: $type,
        }
    };
}

const PAGE: Asset = asset!("index.html", "text/html; charset=utf-8");
const SCRIPT: Asset = asset!("assets/app.js", "text/javascript; charset=utf-8");
const STYLE: Asset = asset!("assets/app.css", "text/css; charset=utf-8");

/// Scripts only from here, nothing framed, no referrer: the page holds a one-time token in its
/// fragment when it sets a password. Styles may be inline (the code editor injects its own).
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; \
                   connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

fn serve(asset: &Asset, headers: &HeaderMap, cache: &'static str) -> Response {
    let gzip = headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|e| e.trim().split(';').next() == Some("gzip")));
    let mut response = if gzip { asset.gzip.into_response() } else { asset.body.into_response() };
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(asset.content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    if gzip {
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    response
}

/// Every console page is the one app; it asks the API whether a member is signed in.
pub async fn page(headers: HeaderMap) -> Response {
    let mut response = serve(&PAGE, &headers, "no-store");
    let h = response.headers_mut();
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    response
}

pub async fn asset(Path(file): Path<String>, headers: HeaderMap) -> Response {
    match file.as_str() {
        "app.js" => serve(&SCRIPT, &headers, "no-cache"),
        "app.css" => serve(&STYLE, &headers, "no-cache"),
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}
