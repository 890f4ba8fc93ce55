//! The web console at `/console/` (`/` redirects there): a single-page app embedded in the
//! binary (console/, built by `make`) and its JSON API under `/console/api`.
//!
//! A member signs in with email and password (`bknd.console_sign_in`); the session is an
//! HttpOnly, SameSite=Strict cookie (Secure behind an https public URL). Every API call but
//! signing in needs it, and every state change must prove it comes from the console's own page
//! (`guard`). The work itself runs through the engine like any other surface: the cookie becomes
//! a console bearer token that `bknd.authenticate` turns into the member's PostgreSQL role
//! (`bknd_console_owner|admin|developer|viewer`), so the database refuses what a member may not
//! do, and records who did what. See console/SPEC.md for the API and the screens' names.

mod api;
mod assets;
mod auth_settings;
mod error;
mod export;
mod guard;
mod logs;
pub mod outside;
mod session;
mod storage;
mod team;
mod users;

use axum::response::Redirect;
use axum::routing::{any, get, post};
use axum::Router;

use crate::state::AppState;

/// The console's routes, mounted at `/console` by crate::router.
pub fn router() -> Router<AppState> {
    let api = Router::new()
        .route("/sign-in", post(session::sign_in))
        .route("/sign-out", post(session::sign_out))
        .route("/session", get(session::current))
        .route("/set-password", post(session::set_password))
        .route("/totp/begin", post(session::totp_begin))
        .route("/totp/enable", post(session::totp_enable))
        .route("/totp/disable", post(session::totp_disable))
        .route("/project", get(api::project))
        .route("/overview", get(api::overview))
        .route("/project/service-role-key", post(api::service_role_key))
        .route("/project/rotate-jwt-secret", post(api::rotate_jwt_secret))
        .route("/tools/{name}", post(api::tool))
        .route("/rest/{*path}", any(api::rest))
        .route("/export/{table}", get(export::export))
        .route("/storage/{*path}", any(storage::forward))
        .route("/logs", get(logs::page))
        .route("/auth-settings", get(auth_settings::get).post(auth_settings::save))
        .route("/auth-settings/test-email", post(auth_settings::test_email))
        .route("/oauth-providers", post(auth_settings::save_provider))
        .route("/oauth-providers/{name}", axum::routing::delete(auth_settings::remove_provider))
        .route("/members", get(team::list).post(team::invite))
        .route("/members/{id}", axum::routing::delete(team::remove))
        .route("/members/{id}/role", post(team::set_role))
        .route("/users", get(users::list).post(users::create))
        .route("/users/invite", post(users::invite))
        .route("/users/{id}", get(users::detail).delete(users::delete))
        .route("/users/{id}/{action}", post(users::act))
        .route("/snippets", get(api::snippets).post(api::save_snippet))
        .route("/snippets/{id}", axum::routing::delete(api::delete_snippet))
        .fallback(api::not_found)
        .layer(axum::middleware::from_fn(guard::layer));
    Router::new()
        .nest("/api", api)
        .route("/assets/{file}", get(assets::asset))
        .route("/", get(assets::page))
        .route("/{*path}", get(assets::page))
}

pub use assets::page;

/// `GET /`: the console. The query goes along: an auth link (PKCE's `?code=`) that lands here is
/// handed on to /welcome by the console's page.
pub async fn root(uri: axum::http::Uri) -> Redirect {
    match uri.query() {
        Some(q) => Redirect::temporary(&format!("/console/?{q}")),
        None => Redirect::temporary("/console/"),
    }
}
