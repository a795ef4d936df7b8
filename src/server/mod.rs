//! The server: HTTP and WebSocket front, rooms, and the two seams (bus, store).
//!
//! [`run`] wires the pieces together and owns the shutdown sequence:
//! 1. a signal cancels the shared token;
//! 2. the listener stops accepting, connections send close frames and leave,
//!    rooms write their snapshots and end;
//! 3. `run` waits for every tracked task, then flushes the store.

pub mod budget;
pub mod bus;
pub mod config;
pub mod connection;
pub mod error;
pub mod http;
pub mod hub;
pub mod images;
pub mod metrics;
pub mod mongo_store;
pub mod redb_store;
pub mod redis_bus;
pub mod room;
pub mod security;
pub mod shutdown;
pub mod store;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::FromRef;
use axum::routing::get;
use axum::serve::ListenerExt;
use axum::Router;
use leptos::prelude::LeptosOptions;
use thiserror::Error;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{info, warn};

use self::budget::{
    Addresses, Budgets, RequestsPerAddress, IMAGE_UPLOAD_BURST, LINK_REQUEST_BURST,
};
use self::bus::{Bus, BusError, InstanceId, LocalBus};
use self::config::Config;
use self::hub::Hub;
use self::mongo_store::MongoStore;
use self::redb_store::RedbStore;
use self::redis_bus::RedisBus;
use self::room::{BoardLimits, RoomContext};
use self::security::AllowedOrigins;
use self::store::{Store, StoreError};
use crate::app::shell;

/// One encoded server message, as queued for clients and relayed between
/// instances. Cloning it is a reference count, so a frame fanned out to a
/// hundred people is encoded and allocated once, and the socket writes it
/// without another copy.
pub type Frame = axum::extract::ws::Utf8Bytes;

/// How long shutdown waits for connections and rooms to finish.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

#[derive(Debug, Error)]
pub enum ServerError {
    #[error("could not open the store: {0}")]
    Store(#[from] StoreError),
    #[error("could not connect the bus: {0}")]
    Bus(#[from] BusError),
    #[error("could not listen on {addr}: {source}")]
    Bind {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error("server failed: {0}")]
    Serve(std::io::Error),
    #[error("random number generator failed: {0}")]
    Random(String),
}

/// Everything handlers need, cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub hub: Hub,
    pub shutdown: CancellationToken,
    pub tracker: TaskTracker,
    pub store: Arc<dyn Store>,
    pub bus: Arc<dyn Bus>,
    /// How long a connection may stay silent (see [`connection::serve`]).
    pub liveness: Duration,
    /// What one connection may send (see [`budget`]).
    pub budgets: Budgets,
    /// Connections per client address, on this instance.
    pub addresses: Addresses,
    /// Requests for a board's links per client address, on this instance.
    pub link_requests: RequestsPerAddress,
    /// Image uploads per client address, on this instance.
    pub image_uploads: RequestsPerAddress,
    /// What an uploaded image may weigh, and how many are read at once.
    pub image_limits: images::Limits,
    /// Whether a client's address is the last `X-Forwarded-For` entry.
    pub trust_forwarded_for: bool,
    /// Which pages may open a board's WebSocket.
    pub allowed_origins: AllowedOrigins,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

fn leptos_options(config: &Config) -> LeptosOptions {
    // cargo-leptos bakes LEPTOS_OUTPUT_NAME into the build and sets the other
    // LEPTOS_* variables; a plain `cargo build` (tests) has neither, and then
    // the defaults below are right.
    let from_cargo_leptos = option_env!("LEPTOS_OUTPUT_NAME").is_some()
        || std::env::var_os("LEPTOS_OUTPUT_NAME").is_some();
    let configured = from_cargo_leptos
        .then(|| leptos::config::get_configuration(None).ok())
        .flatten()
        .map(|conf| conf.leptos_options);
    let mut options = configured.unwrap_or_else(|| {
        LeptosOptions::builder()
            .output_name("whiteboard")
            .env(leptos::config::Env::PROD)
            .build()
    });
    options.site_root = config.site_root.as_str().into();
    options.site_addr = config.addr;
    // A release build made by cargo-leptos leaves the hashes of the site's
    // file names beside the binary; without them (tests, `cargo build`) the
    // plain names are served.
    options.hash_files = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.join(&*options.hash_file)))
        .is_some_and(|file| file.exists());
    options
}

/// Hides credentials in a connection URL (`scheme://user:pass@host` →
/// `scheme://…@host`) for logs and `/healthz`.
pub(crate) fn redact_credentials(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => format!("{}://…{}", &url[..scheme], &url[at..]),
        _ => url.to_owned(),
    }
}

fn random_instance_id() -> Result<InstanceId, ServerError> {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).map_err(|e| ServerError::Random(e.to_string()))?;
    Ok(InstanceId(u64::from_le_bytes(bytes)))
}

/// Every connection is a file descriptor; the usual soft limit (1,024) would
/// cap an instance far below what it can serve, so raise it to the hard limit.
fn raise_open_file_limit() {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => info!(limit, "open file limit"),
        Err(error) => warn!(%error, "could not raise the open file limit"),
    }
}

/// Runs the server until a shutdown signal.
pub async fn run(config: Config) -> Result<(), ServerError> {
    let shutdown = CancellationToken::new();
    raise_open_file_limit();
    // Server rendering spawns its tasks through this global executor. It
    // can be set once per process; an error only says it already was.
    let _ = any_spawner::Executor::init_tokio();
    let instance = random_instance_id()?;
    let store: Arc<dyn Store> = match &config.mongodb_uri {
        Some(uri) => Arc::new(
            MongoStore::connect(uri, &config.mongodb_db)
                .await?
                .with_history_every(config.history_snapshot_ops),
        ),
        None => Arc::new(
            RedbStore::open(&config.data_dir)?.with_history_every(config.history_snapshot_ops),
        ),
    };
    let bus: Arc<dyn Bus> = match &config.redis_url {
        Some(url) => Arc::new(RedisBus::connect(url, instance, shutdown.clone()).await?),
        None => Arc::new(LocalBus::new(instance)),
    };
    info!(store = %store.describe(), bus = %bus.describe(), "seams ready");

    let tracker = TaskTracker::new();
    let hub = Hub::new(
        RoomContext {
            store: Arc::clone(&store),
            bus: Arc::clone(&bus),
            instance,
            idle_timeout: Duration::from_secs(config.room_idle_secs),
            history_days: config.history_days,
            limits: BoardLimits {
                people: config.people_per_board,
                items: config.board_items,
                bytes: config.board_bytes,
            },
        },
        config.open_boards,
        tracker.clone(),
        shutdown.clone(),
    );
    let state = AppState {
        leptos_options: leptos_options(&config),
        hub,
        shutdown: shutdown.clone(),
        tracker: tracker.clone(),
        store: Arc::clone(&store),
        bus: Arc::clone(&bus),
        liveness: Duration::from_secs(config.liveness_secs),
        budgets: Budgets {
            ephemeral_frames: f64::from(config.ephemeral_per_sec),
            ephemeral_bytes: f64::from(config.ephemeral_bytes_per_sec),
            durable: f64::from(config.durable_per_sec),
            connections_per_address: config.connections_per_address,
        },
        addresses: Addresses::default(),
        link_requests: RequestsPerAddress::new(config.link_requests_per_minute, LINK_REQUEST_BURST),
        image_uploads: RequestsPerAddress::new(config.image_uploads_per_minute, IMAGE_UPLOAD_BURST),
        image_limits: images::Limits::new(config.max_image_bytes),
        trust_forwarded_for: config.trust_forwarded_for,
        allowed_origins: AllowedOrigins::parse(&config.allowed_origins),
    };

    // The app's pages (`app::Page::for_path`); any other path that is not
    // a file gets the "not found" page from the fallback.
    let page = leptos_axum::render_app_to_stream({
        let options = state.leptos_options.clone();
        move || shell(options.clone())
    });
    let app = Router::new()
        .route("/", get(page.clone()))
        .route("/b/{id}", get(page.clone()))
        .route("/ws/{session_id}", get(http::websocket))
        .route("/ws/v/{token}", get(http::view_websocket))
        .route("/v/{token}", get(page))
        .route("/b/{id}/view-link", axum::routing::post(http::view_link))
        .route("/b/{id}/edit-link", axum::routing::post(http::edit_link))
        .route("/b/{id}/images", axum::routing::post(images::upload))
        .route("/images/{id}", get(images::serve))
        .route("/new", get(http::new_board))
        .route("/healthz", get(http::healthz))
        .route("/metrics", get(http::metrics))
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
        .layer(axum::middleware::map_response_with_state(
            http::SiteCaching {
                hashed: state.leptos_options.hash_files,
                prefix: format!("/{}/", state.leptos_options.site_pkg_dir),
            },
            http::cache_site_files,
        ))
        .layer(axum::middleware::map_response(
            security::add_security_headers,
        ))
        .with_state(state);

    let listener = tokio::net::TcpListener::bind(config.addr)
        .await
        .map_err(|source| ServerError::Bind {
            addr: config.addr,
            source,
        })?;
    let local_addr = listener.local_addr().map_err(|source| ServerError::Bind {
        addr: config.addr,
        source,
    })?;
    info!(addr = %local_addr, "listening");
    // Live frames are small and must leave at once: no Nagle delay.
    let listener = listener.tap_io(|tcp| {
        if let Err(error) = tcp.set_nodelay(true) {
            warn!(%error, "could not set TCP_NODELAY");
        }
    });
    // One line on stdout, always: people see where to point a browser, and
    // tests started with port 0 learn which port they got.
    println!("whiteboard listening on http://{local_addr}");

    tokio::spawn(shutdown::cancel_on_signal(shutdown.clone()));
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown.clone().cancelled_owned())
    .await
    .map_err(ServerError::Serve)?;

    // The listener is closed; wait for connections and rooms to finish.
    shutdown.cancel();
    tracker.close();
    if tokio::time::timeout(SHUTDOWN_GRACE, tracker.wait())
        .await
        .is_err()
    {
        warn!("some connections or rooms did not finish in time");
    }
    store.flush().await?;
    info!("shut down cleanly");
    Ok(())
}
