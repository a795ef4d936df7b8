//! Copy, cut and paste of board items through the system clipboard.
//!
//! Uses the `copy`, `cut` and `paste` events rather than the asynchronous
//! Clipboard API, because they need no permission prompt. The selection
//! travels as a board file (the JSON export format, see `exchange`) in
//! `text/plain`, so items can be pasted into another board, another tab or
//! browser, or read in a text editor. Pasted items get fresh ids, are
//! centred under the pointer (or next to where they were copied from), go on
//! top, and become the selection: one `add_strokes` per batch, undoable.
//! Pasted image files are added as images (`image_upload`); a pasted board
//! file that carries images' bytes (an export) uploads them first.

use leptos::prelude::Set;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::ClipboardEvent;

use super::engine::{Engine, EngineHandle};
use super::export::files_of;
use super::input::typing_in_field;
use crate::exchange::BoardFile;
use crate::geometry;
use crate::protocol::StrokeId;
use crate::ui::Tool;

/// How far a paste without a pointer lands from the original, in screen pixels.
const PASTE_OFFSET: f64 = 24.0;

impl EngineHandle {
    pub(super) fn install_clipboard_listeners(&self) -> Result<(), JsValue> {
        let window = web_sys::window().ok_or_else(|| JsValue::from_str("no window"))?;
        for (name, cut) in [("copy", false), ("cut", true)] {
            let handle = self.clone();
            let listener =
                Closure::<dyn FnMut(ClipboardEvent)>::new(move |event: ClipboardEvent| {
                    if !typing_in_field(&event) {
                        handle.with(|engine| engine.on_copy(&event, cut));
                    }
                });
            window.add_event_listener_with_callback(name, listener.as_ref().unchecked_ref())?;
            listener.forget();
        }
        let handle = self.clone();
        let on_paste = Closure::<dyn FnMut(ClipboardEvent)>::new(move |event: ClipboardEvent| {
            if !typing_in_field(&event) {
                handle.with(|engine| engine.on_paste(&event));
            }
        });
        window.add_event_listener_with_callback("paste", on_paste.as_ref().unchecked_ref())?;
        on_paste.forget();
        Ok(())
    }
}

impl Engine {
    fn on_copy(&mut self, event: &ClipboardEvent, cut: bool) {
        let strokes = self.selected_strokes();
        let Some(data) = event.clipboard_data().filter(|_| !strokes.is_empty()) else {
            return;
        };
        if data
            .set_data("text/plain", &BoardFile::new(strokes).to_json())
            .is_ok()
        {
            event.prevent_default();
            if cut {
                self.delete_selection();
            }
        }
    }

    fn on_paste(&mut self, event: &ClipboardEvent) {
        let data = event.clipboard_data();
        // Images (a screenshot, "Copy image") go up as image items.
        let files = files_of(data.as_ref().and_then(|data| data.files()));
        if !files.is_empty() {
            event.prevent_default();
            // Outside this event's hold on the engine.
            if let Some(handle) = self.handle() {
                let at = self.hover;
                wasm_bindgen_futures::spawn_local(async move { handle.insert_images(files, at) });
            }
            return;
        }
        let Some(text) = data.and_then(|data| data.get_data("text/plain").ok()) else {
            return;
        };
        // Anything else on the clipboard is not ours to interpret.
        let Ok(file) = BoardFile::parse(&text) else {
            return;
        };
        event.prevent_default();
        if file.images.is_empty() {
            self.paste_file(file);
            return;
        }
        // A board file with its images' bytes (an export pasted as text):
        // they go up first, as in an import.
        if let Some(handle) = self.handle() {
            wasm_bindgen_futures::spawn_local(async move {
                if let Err(error) = handle.with_images_uploaded(file, Engine::paste_file).await {
                    let notice = format!("Could not paste: {error}");
                    handle.with(|e| e.ui.notice.set(Some(notice)));
                }
            });
        }
    }

    /// Adds a pasted board file's items with fresh ids, on top, centred
    /// under the pointer (or beside where they were copied from), and
    /// selects them.
    fn paste_file(&mut self, file: BoardFile) {
        let top = self.top_z();
        let strokes = file.into_new_strokes(|| StrokeId::from_trusted(self.new_id()), top);
        let Some(bounds) = geometry::union_bounds(&strokes) else {
            return;
        };
        let (cx, cy) = bounds.center();
        let target = match self.hover {
            Some(pointer) => self.world(pointer),
            None => {
                let offset = (PASTE_OFFSET / self.view.zoom) as f32;
                (cx + offset, cy + offset)
            }
        };
        let (dx, dy) = (target.0 - cx, target.1 - cy);
        let placed: Vec<_> = strokes.iter().map(|s| s.translated(dx, dy)).collect();
        let ids = placed.iter().map(|s| s.id.clone()).collect();
        self.submit_batched(placed, false);
        self.ui.tool.set(Tool::Select);
        self.select(ids);
    }

    /// Moves the selection by `(dx, dy)` screen pixels (arrow keys).
    pub(super) fn nudge_selection(&mut self, dx: f64, dy: f64) -> bool {
        let zoom = self.view.zoom;
        let moved: Vec<_> = self
            .selected_strokes()
            .iter()
            .map(|s| s.translated((dx / zoom) as f32, (dy / zoom) as f32))
            .collect();
        if moved.is_empty() {
            return false;
        }
        self.submit_batched(moved, true);
        true
    }
}
