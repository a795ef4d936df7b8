//! Export (PNG, SVG, JSON) and import (JSON) in the browser.
//!
//! Exports save what the board shows, pending changes included: PNG of the
//! whole board or of the current view (rendered again on a canvas of its own,
//! with the same code as the screen, on white, once the images it shows
//! are decoded for it), SVG and JSON via
//! [`crate::exchange`], with the bytes of the images they show (fetched
//! from the server, which the browser has cached). Import reads a JSON file
//! the user picks, uploads the images it carries, and adds its items as
//! new, undoable `add_strokes` operations.

use std::borrow::Cow;

use leptos::prelude::Set;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    File, FileList, HtmlAnchorElement, HtmlCanvasElement, HtmlInputElement, ImageBitmap,
};

use super::engine::{Engine, EngineHandle};
use super::image_upload::upload;
use super::images::{self, Images};
use super::render::context_2d;
use crate::exchange::{self, BoardFile, FileImage};
use crate::geometry::{self, Rect};
use crate::image::ImageId;
use crate::protocol::{Stroke, StrokeId};
use crate::ui::BoardLink;
use crate::view::View;

/// A file export of shown strokes with their images' bytes.
type FileExport = fn(&mut Engine, Vec<Stroke>, Vec<FileImage>) -> Result<(), JsValue>;

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

    /// Paints `strokes` on a canvas of their own and downloads it, with
    /// `images` (decoded for the export: the screen's may be let go of
    /// meanwhile).
    fn export_png(
        &mut self,
        strokes: Vec<Stroke>,
        images: Images,
        whole_board: bool,
    ) -> Result<(), JsValue> {
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
        // Drawn as they are (the screen's are drawn inverted in the dark
        // theme), and closed once painted.
        let screen = std::mem::replace(&mut self.images, images);
        self.paint(&ctx, &shown, &view, (width, height, scale), Some("#ffffff"));
        self.images = screen;
        let url = canvas.to_data_url_with_type("image/png")?;
        let suffix = if whole_board { "" } else { "-view" };
        download(&url, &format!("{}{suffix}.png", self.file_stem()))
    }

    fn export_svg(&mut self, strokes: Vec<Stroke>, images: Vec<FileImage>) -> Result<(), JsValue> {
        let Some(area) = Self::content_area(&strokes) else {
            self.ui.notice.set(Some("The board is empty".into()));
            return Ok(());
        };
        let refs: Vec<&Stroke> = strokes.iter().collect();
        let svg = exchange::to_svg(&refs, &area, &images);
        download_text(&svg, "image/svg+xml", &format!("{}.svg", self.file_stem()))
    }

    fn export_json(&mut self, strokes: Vec<Stroke>, images: Vec<FileImage>) -> Result<(), JsValue> {
        if strokes.is_empty() {
            self.ui.notice.set(Some("The board is empty".into()));
            return Ok(());
        }
        let mut file = BoardFile::new(strokes);
        file.images = images;
        download_text(
            &file.to_json(),
            "application/json",
            &format!("{}.json", self.file_stem()),
        )
    }

    /// Adds the items of a board file (its images uploaded) on top of the
    /// board and selects them.
    fn import_file(&mut self, file: BoardFile) {
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
}

/// The bytes of the images `strokes` show, fetched from the server (the
/// browser has them cached) as a board file carries them. An image that
/// cannot be fetched is left out: it exports as a grey box.
async fn file_images(strokes: &[Stroke]) -> Vec<FileImage> {
    let mut images: Vec<FileImage> = Vec::new();
    for id in strokes.iter().filter_map(|s| s.image.as_ref()) {
        // A board shows a handful of images: a search is cheaper here
        // than a sort (its own code in the WebAssembly) or a set.
        if images.iter().any(|image| image.id == id.as_str()) {
            continue;
        }
        if let Some(data) = data_url(id).await {
            let id = id.as_str().to_owned();
            images.push(FileImage { id, data });
        }
    }
    images
}

/// The images `strokes` show, decoded (once each). One that cannot be
/// fetched or decoded exports as a grey box, as it shows on screen.
async fn decoded_images(strokes: &[Stroke]) -> Images {
    let mut decoded: Vec<(ImageId, Option<ImageBitmap>)> = Vec::new();
    for id in strokes.iter().filter_map(|s| s.image.as_ref()) {
        if !decoded.iter().any(|(known, _)| known == id) {
            decoded.push((id.clone(), images::fetch(id).await));
        }
    }
    Images::holding(decoded)
}

/// Image `id`'s bytes as a `data:` URL.
async fn data_url(id: &ImageId) -> Option<String> {
    let fetched = web_sys::window()?.fetch_with_str(&id.path());
    let response: web_sys::Response = JsFuture::from(fetched).await.ok()?.dyn_into().ok()?;
    let mime = response.headers().get("content-type").ok()??;
    if !response.ok() || !mime.starts_with("image/") {
        return None;
    }
    let buffer = JsFuture::from(response.array_buffer().ok()?).await.ok()?;
    // The browser's base64 (`btoa`) takes a "binary string": one character
    // per byte.
    let binary: String = js_sys::Uint8Array::new(&buffer)
        .to_vec()
        .into_iter()
        .map(char::from)
        .collect();
    let base64 = web_sys::window()?.btoa(&binary).ok()?;
    Some(format!("data:{mime};base64,{base64}"))
}

/// The bytes of base64 text, by the browser's `atob` (a "binary string").
fn decode_base64(base64: &str) -> Option<Vec<u8>> {
    let binary = web_sys::window()?.atob(base64).ok()?;
    binary.chars().map(|c| u8::try_from(c).ok()).collect()
}

/// Uploads the images a board file carries to `path` (see
/// [`Engine::upload_target`]): what went wrong, if anything did (the file
/// is then not imported).
async fn upload_images(path: &str, key: Option<&str>, file: &BoardFile) -> Result<(), String> {
    for (index, image) in file.images.iter().enumerate() {
        let bytes = image
            .base64()
            .and_then(decode_base64)
            .ok_or_else(|| format!("image {index} is not base64"))?;
        let body = js_sys::Uint8Array::from(bytes.as_slice());
        let (id, _) = upload(path, key, &body).await?;
        if id.as_str() != image.id {
            return Err(format!("image {index} is not what its id says"));
        }
    }
    Ok(())
}

impl EngineHandle {
    fn report(&self, result: Option<Result<(), JsValue>>) {
        if let Some(Err(error)) = result {
            leptos::logging::warn!("export failed: {error:?}");
            self.with(|e| e.ui.notice.set(Some("Export failed".into())));
        }
    }

    /// What is shown now, to export, unless the board is still loading:
    /// it holds only the first part of its snapshot, and the export would
    /// miss the rest.
    fn shown_for_export(&self) -> Option<Vec<Stroke>> {
        self.with(|e| {
            if e.replica.is_partial() {
                e.ui.notice.set(Some(
                    "The board is still loading; export again in a moment".into(),
                ));
                return None;
            }
            Some(e.shown_strokes())
        })
        .flatten()
    }

    /// Runs a file export of what is shown now with the bytes of its
    /// images, once they are fetched.
    fn export_with_images(&self, run: FileExport) {
        let Some(strokes) = self.shown_for_export() else {
            return;
        };
        let handle = self.clone();
        wasm_bindgen_futures::spawn_local(async move {
            let images = file_images(&strokes).await;
            let result = handle.with(|e| run(e, strokes, images));
            handle.report(result);
        });
    }

    pub fn export_png(&self, whole_board: bool) {
        let Some(strokes) = self.shown_for_export() else {
            return;
        };
        let handle = self.clone();
        wasm_bindgen_futures::spawn_local(async move {
            let images = decoded_images(&strokes).await;
            let result = handle.with(|e| e.export_png(strokes, images, whole_board));
            handle.report(result);
        });
    }

    pub fn export_svg(&self) {
        self.export_with_images(Engine::export_svg);
    }

    pub fn export_json(&self) {
        self.export_with_images(Engine::export_json);
    }

    /// Asks for a JSON file and imports it.
    pub fn import_json(&self) {
        let handle = self.clone();
        pick_files(
            ".json,application/json",
            false,
            Box::new(move |files| {
                let Some(file) = files.into_iter().next() else {
                    return;
                };
                wasm_bindgen_futures::spawn_local(async move {
                    let text = JsFuture::from(file.text()).await;
                    let imported = match text.ok().and_then(|t| t.as_string()) {
                        Some(text) => handle.import(&text).await,
                        None => Err("the file could not be read".to_owned()),
                    };
                    if let Err(error) = imported {
                        let notice = format!("Could not import: {error}");
                        handle.with(|e| e.ui.notice.set(Some(notice)));
                    }
                });
            }),
        );
    }

    /// Imports a board file's text: its images first, then its items.
    async fn import(&self, text: &str) -> Result<(), String> {
        let file = BoardFile::parse(text).map_err(|error| error.to_string())?;
        self.with_images_uploaded(file, Engine::import_file).await
    }

    /// Uploads the images a board file carries, then hands it to `then`
    /// (an import, a paste): what went wrong, if anything did (`then` is
    /// not called). One function type for both: each caller's future
    /// would be a copy of this one in the WebAssembly.
    pub(super) async fn with_images_uploaded(
        &self,
        file: BoardFile,
        then: fn(&mut Engine, BoardFile),
    ) -> Result<(), String> {
        let (path, key) = self
            .with(|e| e.upload_target())
            .flatten()
            .ok_or_else(|| "this link can only view the board".to_owned())?;
        upload_images(&path, key.as_deref(), &file).await?;
        self.with(|e| then(e, file));
        Ok(())
    }
}

/// Asks for files of the types `accept` lists (one, or any number) and
/// gives them to `then`.
pub(super) fn pick_files(accept: &str, multiple: bool, then: Box<dyn FnOnce(Vec<File>)>) {
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
    input.set_accept(accept);
    input.set_multiple(multiple);
    let picked = input.clone();
    let on_change = Closure::once_into_js(move || then(files_of(picked.files())));
    let _ = input.add_event_listener_with_callback("change", on_change.unchecked_ref());
    input.click();
}

/// The files of a pick, a paste or a drop.
pub(super) fn files_of(list: Option<FileList>) -> Vec<File> {
    let Some(list) = list else {
        return Vec::new();
    };
    (0..list.length()).filter_map(|at| list.get(at)).collect()
}
