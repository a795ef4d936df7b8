//! Browser-only code (feature `hydrate`): the canvas engine behind the board page.
//!
//! The engine (`engine`) drives the shared replica and gesture machine and
//! owns the canvases; everything that talks to the browser's event sources
//! (`input`, `text_editor`, `clipboard`, `export`, `image_upload`, `share`,
//! `socket`, `history`, `item_list`, `offline`) is an adapter
//! that imports the engine and reaches it through `EngineHandle`, never the
//! other way round. [`start`] wires them together.

mod board_layer;
mod clipboard;
pub mod engine;
mod export;
mod history;
mod image_upload;
mod images;
mod input;
mod item_list;
mod offline;
mod render;
mod share;
mod socket;
pub mod storage;
mod text_editor;
mod timing;

use wasm_bindgen::JsValue;
use web_sys::HtmlCanvasElement;

use crate::ui::{BoardLink, BoardUi};
use engine::EngineHandle;
pub use offline::install_service_worker;

/// Starts the board engine on its canvases: the engine, then its adapters
/// (DOM listeners, the connection loop), which reach it through its handle.
/// The engine imports none of them.
pub fn start(
    link: BoardLink,
    canvas: HtmlCanvasElement,
    overlay: HtmlCanvasElement,
    ui: BoardUi,
) -> Result<EngineHandle, JsValue> {
    let key = match &link {
        BoardLink::Edit(board) => share::edit_key(board),
        BoardLink::View(_) => None,
    };
    let handle = EngineHandle::new(link, key, canvas, overlay, ui)?;
    handle.install_listeners()?;
    handle.install_clipboard_listeners()?;
    handle.install_drop_listener()?;
    offline::watch_page(&handle);
    handle.resize();
    let connecting = handle.clone();
    wasm_bindgen_futures::spawn_local(async move {
        // What the device kept first: the `hello` then carries its number.
        offline::resume(&connecting).await;
        socket::run(connecting).await;
    });
    Ok(handle)
}
