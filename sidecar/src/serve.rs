//! `bknd serve`: the application on a listener until Ctrl-C or SIGTERM, then its background
//! tasks stopped.

use anyhow::Context;

use crate::cli::ServeArgs;
use crate::config::Config;
use crate::state::App;

pub async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(args.listen).await.with_context(|| format!("cannot listen on {}", args.listen))?;
    let address = listener.local_addr()?;
    let app = App::build(Config::serve(&args, &address.to_string())?)?;
    // answers go out as soon as they are written, not held back for a delayed ACK
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp: &mut tokio::net::TcpStream| {
        let _ = tcp.set_nodelay(true);
    });
    tracing::info!("bknd listening on http://{address}");
    let service = crate::router::router(&app).into_make_service_with_connect_info::<std::net::SocketAddr>();
    let served = axum::serve(listener, service).with_graceful_shutdown(shutdown_signal()).await.context("server failed");
    app.background.shutdown().await;
    served
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! { _ = ctrl_c => {}, _ = terminate => {} }
    tracing::info!("bknd shutting down");
}
