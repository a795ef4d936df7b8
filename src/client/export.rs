//! Export (PNG, SVG, JSON) and import (JSON) in the browser.
//!
//! Exports save what the board shows, pending changes included: PNG of the
//! whole board or of the current view (rendered again on a canvas of its own,
//! with the same code as the screen, on white), SVG and JSON via
//! [`crate::exchange`]. Import reads a JSON file the user picks and adds its
//! items as new, undoable `add_strokes` operations.

use std::borrow::Cow;

use leptos::prelude::Set;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{HtmlAnchorElement, HtmlCanvasElement, HtmlInputElement};

use super::engine::{Engine, EngineHandle};
use super::render::context_2d;
use crate::exchange::{self, BoardFile};
use crate::geometry::{self, Rect};
use crate::protocol::{Stroke, StrokeId};
use crate::ui::BoardLink;
use crate::view::View;

/// Space around the content in whole-board exports, in board units.
const EXPORT_MARGIN: f32 = 32.0;
/// Largest side of an exported PNG, in pixels (browsers cap canvas size).
const MAX_EXPORT_SIDE: f64 = 8_192.0;
/// Exports are rendered at this many pixels per board unit (crisp on HiDPI).
const EXPORT_SCALE: f64 = 2.0;

fn document() -> Option<web_sys::Document> {
    web_sys::window().and_then(|w| w.document())
}

/// Makes the browser download `href` as `filename`.
fn download(href: &str, filename: &str) -> Result<(), JsValue> {
    let document = document().ok_or_else(|| JsValue::from_str("no document"))?;
    let link: HtmlAnchorElement = document.create_element("a")?.dyn_into()?;
    link.set_href(href);
    link.set_download(filename);
    let body = document
        .body()
        .ok_or_else(|| JsValue::from_str("no body"))?;
    body.append_child(&link)?;
    link.click();
    link.remove();
    Ok(())
}

/// Downloads text as a file of the given MIME type.
fn download_text(text: &str, mime: &str, filename: &str) -> Result<(), JsValue> {
    let parts = js_sys::Array::of1(&JsValue::from_str(text));
    let options = web_sys::BlobPropertyBag::new();
    options.set_type(mime);
    let blob = web_sys::Blob::new_with_str_sequence_and_options(&parts, &options)?;
    let url = web_sys::Url::create_object_url_with_blob(&blob)?;
    download(&url, filename)?;
    // Give the download time to start before the URL goes away.
    let revoke = Closure::once_into_js(move || {
        let _ = web_sys::Url::revoke_object_url(&url);
    });
    if let Some(window) = web_sys::window() {
        let _ = window
            .set_timeout_with_callback_and_timeout_and_arguments_0(revoke.unchecked_ref(), 30_000);
    }
    Ok(())
}

impl Engine {
    fn file_stem(&self) -> String {
        let board = match &self.link {
            BoardLink::Edit(board) => {
                format!("board-{}", &board.as_str()[..8.min(board.as_str().len())])
            }
            // Part of a view token would be part of a capability.
            BoardLink::View(_) => "board".to_owned(),
        };
        // A past version (history) says which.
        match self.replica.past() {
            Some(seq) => format!("{board}-version-{seq}"),
            None => board,
        }
    }

    /// What is shown, as owned strokes in drawing order.
    fn shown_strokes(&self) -> Vec<Stroke> {
        self.display_strokes()
            .into_iter()
            .map(|(s, _)| s.into_owned())
            .collect()
    }

    fn content_area(strokes: &[Stroke]) -> Option<Rect> {
        geometry::union_bounds(strokes).map(|r| r.expand(EXPORT_MARGIN))
    }

    fn export_png(&mut self, whole_board: bool) -> Result<(), JsValue> {
        let strokes = self.shown_strokes();
        let (view, width, height) = if whole_board {
            let Some(area) = Self::content_area(&strokes) else {
                self.ui.notice.set(Some("The board is empty".into()));
                return Ok(());
            };
            let view = View {
                origin: (f64::from(area.min_x), f64::from(area.min_y)),
                zoom: 1.0,
            };
            (view, f64::from(area.width()), f64::from(area.height()))
        } else {
            (self.view, self.size.0, self.size.1)
        };
        let scale = EXPORT_SCALE.min(MAX_EXPORT_SIDE / width.max(height).max(1.0));
        let document = document().ok_or_else(|| JsValue::from_str("no document"))?;
        let canvas: HtmlCanvasElement = document.create_element("canvas")?.dyn_into()?;
        canvas.set_width((width * scale).round() as u32);
        canvas.set_height((height * scale).round() as u32);
        let ctx = context_2d(&canvas)?;
        let shown: Vec<(Cow<'_, Stroke>, bool)> =
            strokes.iter().map(|s| (Cow::Borrowed(s), true)).collect();
        Engine::paint(&ctx, &shown, &view, (width, height, scale), Some("#ffffff"));
        let url = canvas.to_data_url_with_type("image/png")?;
        let suffix = if whole_board { "" } else { "-view" };
        download(&url, &format!("{}{suffix}.png", self.file_stem()))
    }

    fn export_svg(&mut self) -> Result<(), JsValue> {
        let strokes = self.shown_strokes();
        let Some(area) = Self::content_area(&strokes) else {
            self.ui.notice.set(Some("The board is empty".into()));
            return Ok(());
        };
        let refs: Vec<&Stroke> = strokes.iter().collect();
        let svg = exchange::to_svg(&refs, &area);
        download_text(&svg, "image/svg+xml", &format!("{}.svg", self.file_stem()))
    }

    fn export_json(&mut self) -> Result<(), JsValue> {
        let strokes = self.shown_strokes();
        if strokes.is_empty() {
            self.ui.notice.set(Some("The board is empty".into()));
            return Ok(());
        }
        let json = BoardFile::new(strokes).to_json();
        download_text(
            &json,
            "application/json",
            &format!("{}.json", self.file_stem()),
        )
    }

    /// Adds the items of a board file on top of the board and selects them.
    fn import_text(&mut self, text: &str) {
        match BoardFile::parse(text) {
            Ok(file) => {
                let top = self.top_z();
                let strokes = file.into_new_strokes(|| StrokeId::from_trusted(self.new_id()), top);
                let count = strokes.len();
                let ids = strokes.iter().map(|s| s.id.clone()).collect();
                self.submit_batched(strokes, false);
                self.ui.tool.set(crate::ui::Tool::Select);
                self.select(ids);
                self.zoom_to_fit();
                let noun = if count == 1 { "item" } else { "items" };
                self.ui.notice.set(Some(format!("Imported {count} {noun}")));
            }
            Err(error) => self
                .ui
                .notice
                .set(Some(format!("Could not import: {error}"))),
        }
    }
}

impl EngineHandle {
    fn report(&self, result: Option<Result<(), JsValue>>) {
        if let Some(Err(error)) = result {
            leptos::logging::warn!("export failed: {error:?}");
            self.with(|e| e.ui.notice.set(Some("Export failed".into())));
        }
    }

    /// Runs an export, unless the board is still loading: it holds only
    /// the first part of its snapshot, and the export would miss the rest.
    fn export(&self, run: impl FnOnce(&mut Engine) -> Result<(), JsValue>) {
        let result = self.with(|e| {
            if e.replica.is_partial() {
                e.ui.notice.set(Some(
                    "The board is still loading; export again in a moment".into(),
                ));
                return Ok(());
            }
            run(e)
        });
        self.report(result);
    }

    pub fn export_png(&self, whole_board: bool) {
        self.export(|e| e.export_png(whole_board));
    }

    pub fn export_svg(&self) {
        self.export(Engine::export_svg);
    }

    pub fn export_json(&self) {
        self.export(Engine::export_json);
    }

    /// Asks for a JSON file and imports it.
    pub fn import_json(&self) {
        let Some(document) = document() else {
            return;
        };
        let Ok(input) = document
            .create_element("input")
            .and_then(|e| e.dyn_into::<HtmlInputElement>().map_err(JsValue::from))
        else {
            return;
        };
        input.set_type("file");
        input.set_accept(".json,application/json");
        let handle = self.clone();
        let picked = input.clone();
        let on_change = Closure::once_into_js(move || {
            let Some(file) = picked.files().and_then(|files| files.get(0)) else {
                return;
            };
            wasm_bindgen_futures::spawn_local(async move {
                let text = wasm_bindgen_futures::JsFuture::from(file.text()).await;
                match text.ok().and_then(|t| t.as_string()) {
                    Some(text) => {
                        handle.with(|e| e.import_text(&text));
                    }
                    None => {
                        handle.with(|e| e.ui.notice.set(Some("Could not read the file".into())));
                    }
                }
            });
        });
        let _ = input.add_event_listener_with_callback("change", on_change.unchecked_ref());
        input.click();
    }
}
