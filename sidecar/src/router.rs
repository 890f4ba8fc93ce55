//! Every route, and the one middleware stack they share: the request id and its tracing span
//! (outermost, so every log line of a request carries it), then CORS on the API areas. Each
//! area exposes its own router. The console (`/console`) takes no CORS: it is same-origin only,
//! and its sessions' tokens are refused everywhere else (console/outside.rs).

use axum::routing::get;
use axum::Router;

use crate::state::App;

pub fn router(app: &App) -> Router {
    let cors = &app.cors;
    Router::new()
        .merge(crate::mcp::http::router(app.state.clone()))
        .route("/health", get(crate::health::health))
        .route("/", get(crate::console::root))
        // where auth's email links land while no --site-url is set (the console sends them on)
        .route("/welcome", get(crate::welcome::page))
        .nest("/console", crate::console::router())
        .route("/console/", get(crate::console::page))
        .nest("/rest/v1", crate::cors::wrap(crate::rest::router(), cors))
        // a nested router's "/" is `/rest/v1` alone; the OpenAPI root is asked for with the slash
        .route("/rest/v1/", crate::cors::wrap_route(axum::routing::any(crate::rest::handle), cors))
        .nest("/auth/v1", crate::cors::wrap(crate::auth::router(), cors))
        .nest("/storage/v1", crate::cors::wrap(crate::storage::router(), cors))
        .nest("/realtime/v1", crate::cors::wrap(crate::realtime::router(), cors))
        .layer(axum::middleware::from_fn(crate::console::outside::layer))
        .layer(axum::middleware::from_fn(crate::request_id::layer))
        .with_state(app.state.clone())
}
