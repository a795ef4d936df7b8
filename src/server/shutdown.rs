//! Turning SIGTERM and Ctrl-C into one cancellation token.
//!
//! Everything long-lived (the HTTP server, every connection, every room)
//! watches the same [`CancellationToken`]. On a signal the listener stops
//! accepting, connections send a close frame (1001), rooms write their
//! snapshot, and `main` waits for all of them before flushing the store.

use tokio_util::sync::CancellationToken;
use tracing::info;

/// Cancels `token` on the first SIGTERM or Ctrl-C.
pub async fn cancel_on_signal(token: CancellationToken) {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => info!("Ctrl-C received; shutting down"),
        _ = terminate => info!("SIGTERM received; shutting down"),
        _ = token.cancelled() => return,
    }
    token.cancel();
}
