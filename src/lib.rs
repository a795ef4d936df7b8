//! whiteboard: a self-hosted, real-time collaborative whiteboard.
//!
//! # Layout
//!
//! One crate, compiled twice: as the server (feature `ssr`) and as the
//! WebAssembly client (feature `hydrate`). See `ARCHITECTURE.md` for the data
//! flow and invariants.
//!
//! Shared by both sides:
//! - [`protocol`]: every message on the WebSocket, its validation and limits.
//! - [`board`]: the board state machine (items, visibility, drawing order,
//!   per-user undo).
//! - [`geometry`]: hit testing, bounds, shift constraints and resize maths.
//! - [`gesture`]: what the pointer is doing, as a pure state machine
//!   (drawing, erasing, shaping, moving, resizing, marquee, panning).
//! - [`view`]: the pan/zoom transform of one tab.
//! - [`replica`]: the board as one tab knows it (confirmed board, pending
//!   requests, other people's live work, selection, the handshake): a
//!   synchronous state machine the browser engine drives.
//! - [`coverage`]: which parts of the board layer's bitmap (the view and a
//!   margin around it) are painted, and what to paint next between frames.
//! - [`raster`]: freehand strokes rasterised into pixels for the board
//!   layer (faster than the canvas's own stroking).
//! - [`scene`]: the board layer a tab paints, in an R-tree with drawing
//!   order (culling, repainting only what changed).
//! - [`sorting`]: the one stable sort the browser uses (one copy of the
//!   sort routine in the WebAssembly instead of one per call site).
//! - [`stacking`]: new stacking keys for front, forward, backward, back.
//! - [`exchange`]: JSON board files and SVG export.
//! - [`decimal`]: numbers as text for SVG and CSS, to two decimals.
//! - [`history`]: a board's history grouped into sessions for the history
//!   panel.
//! - [`laser`]: the laser pointer's fading trail.
//! - [`follow`]: following someone's view and being followed (who, where,
//!   when the next view goes out, the follower's glide).
//! - [`announce`]: what others did, summed up in words for screen readers.
//! - [`item_list`]: every item in words, for the item list (keys, the
//!   window of options written out).
//! - [`image`]: images' names (the SHA-256 of their bytes) and which files
//!   are taken as images (by their first bytes; SVG is refused).
//! - [`app`], [`pages`], [`ui`]: the Leptos views and the signals they share
//!   with the canvas engine.
//!
//! Server only (`ssr`), in [`server`]:
//! - `connection`: one WebSocket, decoding and validating every frame;
//! - `hub` and `room`: one task per open board that orders, stores and fans
//!   out; its decisions are `room::state::RoomState`, a synchronous state
//!   machine, and the task around it does the I/O;
//! - `store` (seam) with `redb_store` (embedded, on disk) and `mongo_store`;
//! - `images`: uploading and serving images (`/b/{id}/images`, `/images/{id}`);
//! - `bus` (seam) with `LocalBus` (in-process) and `redis_bus`;
//! - `metrics`: the counters behind `GET /metrics`;
//! - `http`, `error`, `config`, `shutdown`: the HTTP surface and process lifecycle.
//!
//! Browser only (`hydrate`), in `client`: the engine and its adapters.
//! - `engine`: the replica's browser side (socket sender, canvases, view,
//!   page signals) and the frame loop; it imports none of the adapters;
//! - `board_layer`: the cached bitmap of the confirmed board;
//! - adapters, which reach the engine through its handle: `input` (DOM
//!   pointer, wheel and keyboard events into the gesture machine), `text_editor`
//!   (the textarea for texts), `clipboard`, `export` (PNG, SVG and JSON
//!   downloads, JSON import), `socket` (the reconnecting WebSocket loop);
//! - `render`: drawing items and overlays on the 2D canvas;
//! - `storage`: session and local storage (user id, recent boards, name).

pub mod announce;
pub mod app;
pub mod board;
pub mod coverage;
pub mod decimal;
pub mod exchange;
pub mod follow;
#[cfg(any(test, feature = "fuzzing"))]
pub mod fuzzing;
pub mod geometry;
pub mod gesture;
pub mod history;
pub mod image;
pub mod item_list;
pub mod laser;
pub mod pages;
pub mod protocol;
pub mod raster;
pub mod replica;
pub mod scene;
pub mod sorting;
pub mod stacking;
pub mod ui;
pub mod view;

#[cfg(feature = "hydrate")]
pub mod client;
#[cfg(feature = "ssr")]
pub mod server;

/// Entry point of the WASM bundle: attaches the app to the server-rendered page.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(app::App);
    client::install_service_worker();
}
