//! The server binary: parse the configuration, set up logging, serve.

#[cfg(feature = "ssr")]
#[tokio::main]
async fn main() -> std::process::ExitCode {
    use clap::Parser;
    use tracing_subscriber::EnvFilter;
    use whiteboard::server::{self, config::Config};

    let config = Config::parse();
    let filter = EnvFilter::try_new(&config.log).unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        // Logs go to stderr; stdout carries only the "listening on" line.
        .with_writer(std::io::stderr)
        .init();
    match server::run(config).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(%error, "whiteboard stopped");
            std::process::ExitCode::FAILURE
        }
    }
}

#[cfg(not(feature = "ssr"))]
fn main() {
    // The binary needs the `ssr` feature; `cargo leptos` and the scripts enable it.
}
