//! Server configuration from command-line flags and environment variables.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;

/// A self-hosted, real-time collaborative whiteboard.
#[derive(Debug, Clone, Parser)]
#[command(name = "whiteboard", version, about)]
pub struct Config {
    /// Address to listen on for HTTP and WebSocket connections.
    #[arg(long, env = "WHITEBOARD_ADDR", default_value = "127.0.0.1:8000")]
    pub addr: SocketAddr,

    /// Directory of the embedded store; created if missing.
    #[arg(long, env = "WHITEBOARD_DATA_DIR", default_value = "data")]
    pub data_dir: PathBuf,

    /// Log filter in `tracing` syntax, e.g. `info` or `whiteboard=debug`.
    #[arg(long, env = "WHITEBOARD_LOG", default_value = "info")]
    pub log: String,

    /// Redis URL (e.g. `redis://127.0.0.1:6379`). When set, instances relay
    /// board traffic to each other over Redis pub/sub; otherwise the bus is
    /// in-process and this instance is on its own.
    #[arg(long, env = "REDIS_URL")]
    pub redis_url: Option<String>,

    /// MongoDB connection string. When set, boards are stored in MongoDB
    /// (shared by all instances); otherwise in the embedded store in `--data-dir`.
    #[arg(long, env = "MONGODB_URI")]
    pub mongodb_uri: Option<String>,

    /// MongoDB database name.
    #[arg(long, env = "MONGODB_DB", default_value = "whiteboard")]
    pub mongodb_db: String,

    /// Seconds an empty board stays loaded for people who come back; then
    /// its room writes a snapshot and frees its memory.
    #[arg(long, env = "WHITEBOARD_ROOM_IDLE_SECS", default_value_t = 30)]
    pub room_idle_secs: u64,

    /// Seconds within which a silent connection (no frame, not even the
    /// pong answering the server's ping, sent every third of it) is taken
    /// for dead: closed, and its person leaves the board.
    #[arg(long, env = "WHITEBOARD_LIVENESS_SECS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(3..))]
    pub liveness_secs: u64,

    /// Ephemeral frames (previews, drafts, cursors, names) one connection
    /// may send per second; bursts of twice that pass. Frames over it are
    /// dropped for that sender (`rate_limited`).
    #[arg(long, env = "WHITEBOARD_EPHEMERAL_PER_SEC", default_value_t = 240)]
    pub ephemeral_per_sec: u32,

    /// Bytes of ephemeral frames one connection may send per second; bursts
    /// of twice that pass.
    #[arg(long, env = "WHITEBOARD_EPHEMERAL_BYTES_PER_SEC", default_value_t = 1 << 20)]
    pub ephemeral_bytes_per_sec: u32,

    /// Durable requests (strokes, edits, undo, ...) one connection may send
    /// per second; bursts of ten times that pass (a tab back online sends
    /// what it kept at once). Requests over it are refused with
    /// `rate_limited` and their `op_id`; the browser resends them.
    #[arg(long, env = "WHITEBOARD_DURABLE_PER_SEC", default_value_t = 50)]
    pub durable_per_sec: u32,

    /// WebSocket connections one client address may hold at once; more are
    /// answered 429 before the upgrade.
    #[arg(long, env = "WHITEBOARD_CONNECTIONS_PER_ADDRESS", default_value_t = 64)]
    pub connections_per_address: u32,

    /// Every operation of a board is kept, for its history; so is a
    /// snapshot each time this many operations lie between it and the last
    /// one kept, so that reading the board at any point replays at most
    /// about this many. 0 keeps only the newest snapshot.
    #[arg(long, env = "WHITEBOARD_HISTORY_SNAPSHOT_OPS", default_value_t = crate::server::store::HISTORY_SNAPSHOT_OPS)]
    pub history_snapshot_ops: u64,

    /// Days of history kept (0: all of it, for good). When a board opens,
    /// what is older goes: its operations up to the newest history
    /// snapshot made before then, and the snapshots before that one.
    /// Versions from that snapshot on can still be read and restored.
    #[arg(long, env = "WHITEBOARD_HISTORY_DAYS", default_value_t = 0)]
    pub history_days: u64,

    /// Requests for a board's links (`POST /b/{id}/view-link` and
    /// `/edit-link`) one client address may make per minute; bursts of ten
    /// pass. More are answered 429: each may write to the store.
    #[arg(
        long,
        env = "WHITEBOARD_LINK_REQUESTS_PER_MINUTE",
        default_value_t = 30
    )]
    pub link_requests_per_minute: u32,

    /// The largest image that may be uploaded, in bytes (10 MiB by
    /// default). Larger ones are refused with 413.
    #[arg(long, env = "WHITEBOARD_MAX_IMAGE_BYTES", default_value_t = 10 * 1024 * 1024)]
    pub max_image_bytes: usize,

    /// Image uploads (`POST /b/{id}/images`) one client address may make
    /// per minute; bursts of twenty pass. More are answered 429.
    #[arg(
        long,
        env = "WHITEBOARD_IMAGE_UPLOADS_PER_MINUTE",
        default_value_t = 60
    )]
    pub image_uploads_per_minute: u32,

    /// Distinct people (not tabs) one board may have on it, counted across
    /// instances; one more is refused at `hello` (`limit_reached`).
    #[arg(long, env = "WHITEBOARD_PEOPLE_PER_BOARD", default_value_t = 500)]
    pub people_per_board: usize,

    /// Boards this instance keeps open at once; a join that would open one
    /// more is refused (`limit_reached`) until one closes.
    #[arg(long, env = "WHITEBOARD_OPEN_BOARDS", default_value_t = 20_000)]
    pub open_boards: usize,

    /// Items one board may hold (erased ones too: undo can bring them
    /// back). A request that would add more is refused (`limit_reached`);
    /// erase, clear and undo always pass.
    #[arg(long, env = "WHITEBOARD_BOARD_ITEMS", default_value_t = 250_000)]
    pub board_items: usize,

    /// Bytes one board's items may weigh (64 per item, 12 per point, plus
    /// ids and text); a request that would add more is refused.
    #[arg(long, env = "WHITEBOARD_BOARD_BYTES", default_value_t = 128 << 20)]
    pub board_bytes: usize,

    /// Origins (`https://host[:port]`, comma-separated) whose pages may open
    /// a board's WebSocket besides the server's own (the host the browser
    /// connected to); `*` for any page. Empty: only the server's own.
    #[arg(long, env = "WHITEBOARD_ALLOWED_ORIGINS", default_value = "")]
    pub allowed_origins: String,

    /// Take the client's address from the last entry of `X-Forwarded-For`
    /// (the one the proxy in front added) rather than from the socket. Only
    /// behind a proxy that sets it: otherwise clients could choose it.
    #[arg(long, env = "WHITEBOARD_TRUST_FORWARDED_FOR")]
    pub trust_forwarded_for: bool,

    /// Directory holding the built site (`pkg/` with the WASM bundle and CSS).
    /// cargo-leptos sets `LEPTOS_SITE_ROOT` when it runs the server.
    #[arg(long, env = "LEPTOS_SITE_ROOT", default_value = "target/site")]
    pub site_root: String,
}
