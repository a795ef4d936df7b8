//! Browser-only code (feature `hydrate`): the canvas engine behind the board page.
//!
//! The engine (`engine`) drives the shared replica and gesture machine and
//! owns the canvases; everything that talks to the browser's event sources
//! (`input`, `text_editor`, `clipboard`, `export`, `socket`) is an adapter
//! that imports the engine and reaches it through `EngineHandle`, never the
//! other way round. [`start`] wires them together.

mod board_layer;
mod clipboard;
pub mod engine;
mod export;
mod input;
mod render;
mod socket;
pub mod storage;
mod text_editor;
mod timing;

use leptos::prelude::Set;
use wasm_bindgen::JsValue;
use web_sys::HtmlCanvasElement;

use crate::protocol::BoardId;
use crate::ui::BoardUi;
use engine::EngineHandle;

/// Starts the board engine on its canvases: the engine, then its adapters
/// (DOM listeners, the connection loop), which reach it through its handle.
/// The engine imports none of them.
pub fn start(
    board_id: BoardId,
    canvas: HtmlCanvasElement,
    overlay: HtmlCanvasElement,
    ui: BoardUi,
) -> Result<EngineHandle, JsValue> {
    let handle = EngineHandle::new(board_id, canvas, overlay, ui)?;
    handle.install_listeners()?;
    handle.install_clipboard_listeners()?;
    handle.resize();
    wasm_bindgen_futures::spawn_local(socket::run(handle.clone()));
    Ok(handle)
}

/// Copies the page's address to the clipboard, or shows it for copying
/// where the Clipboard API is unavailable (plain http on another host).
pub fn copy_link(ui: BoardUi) {
    let Some(window) = web_sys::window() else {
        return;
    };
    let Ok(href) = window.location().href() else {
        return;
    };
    let navigator = window.navigator();
    let has_clipboard = js_sys::Reflect::get(&navigator, &JsValue::from_str("clipboard"))
        .is_ok_and(|c| !c.is_undefined() && !c.is_null());
    if has_clipboard {
        let promise = navigator.clipboard().write_text(&href);
        wasm_bindgen_futures::spawn_local(async move {
            let copied = wasm_bindgen_futures::JsFuture::from(promise).await.is_ok();
            ui.notice.set(Some(
                if copied {
                    "Link copied"
                } else {
                    "Could not copy the link"
                }
                .into(),
            ));
        });
    } else {
        let _ = window.prompt_with_message_and_default("Copy this link:", &href);
    }
}
