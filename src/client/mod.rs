//! Browser-only code (feature `hydrate`): the canvas engine behind the board page.

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

use crate::ui::BoardUi;

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
