//! Adapter: images put on the board by paste, by drop onto the canvas or
//! from the board menu's "Insert image…".
//!
//! Each file is uploaded (`POST /b/{id}/images`, see `server::images`,
//! which answers with its size) and added as an image item where it was
//! dropped or pasted (or in the view's middle), fitted into the view, on
//! top, selected, undoable; its bytes load when it is first drawn
//! (`images`). The server decides what is an image (by its bytes, within
//! its limits): its refusal is shown in its own words, and nothing is
//! added.

use leptos::prelude::Set;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{DragEvent, File};

use super::engine::{Engine, EngineHandle};
use super::export::{files_of, pick_files};
use super::share::{field, post_for};
use crate::image::ImageId;
use crate::protocol::{Point, StrokeKind};
use crate::ui::{BoardLink, Tool};

/// An image larger than this share of the view is shrunk to fit it.
const FIT_IN_VIEW: f64 = 0.8;
/// Several images added at once are stepped by this much, in screen pixels.
const STEP: f64 = 24.0;
/// What the file picker offers (the server takes these four).
const ACCEPTED: &str = "image/png,image/jpeg,image/webp,image/gif";

impl EngineHandle {
    /// Lets images be dropped onto the canvas.
    pub(super) fn install_drop_listener(&self) -> Result<(), JsValue> {
        let canvas = self.0.borrow().canvas.clone();
        let handle = self.clone();
        // One listener for both events: without `dragover` taking the
        // event, the browser would open a dropped file in the tab.
        // Taking any `Event` shares its closure glue with other listeners.
        let on_drag = Closure::<dyn FnMut(web_sys::Event)>::new(move |event: web_sys::Event| {
            event.prevent_default();
            let event: &DragEvent = event.unchecked_ref();
            if event.type_() == "drop" {
                let files = files_of(event.data_transfer().and_then(|data| data.files()));
                let at = (f64::from(event.offset_x()), f64::from(event.offset_y()));
                handle.insert_images(files, Some(at));
            }
        });
        for name in ["dragover", "drop"] {
            canvas.add_event_listener_with_callback(name, on_drag.as_ref().unchecked_ref())?;
        }
        on_drag.forget();
        Ok(())
    }

    /// Asks for image files and adds them in the view's middle.
    pub fn insert_image(&self) {
        let handle = self.clone();
        pick_files(
            ACCEPTED,
            true,
            Box::new(move |files| handle.insert_images(files, None)),
        );
    }

    /// Uploads `files`, one after another, and adds each as an image item
    /// around `at` (a point on the canvas; its middle when none).
    pub(super) fn insert_images(&self, files: Vec<File>, at: Option<(f64, f64)>) {
        // A drop of text or links brings no files: nothing to say.
        if files.is_empty() {
            return;
        }
        let target = self.with(|engine| {
            if engine.view_only() || engine.past_shown() {
                return None;
            }
            let middle = (engine.size.0 / 2.0, engine.size.1 / 2.0);
            engine
                .upload_target()
                .map(|(path, key)| (path, key, at.unwrap_or(middle)))
        });
        let Some((path, key, at)) = target.flatten() else {
            return;
        };
        let handle = self.clone();
        wasm_bindgen_futures::spawn_local(async move {
            let mut added = 0.0;
            for file in files {
                let step = added * STEP;
                match upload(&path, key.as_deref(), &file).await {
                    Ok((image, size)) => {
                        handle.with(|e| e.add_image(image, size, (at.0 + step, at.1 + step)));
                        added += 1.0;
                    }
                    Err(error) => {
                        let notice = format!("Could not add {}: {error}", file.name());
                        handle.with(|e| e.ui.notice.set(Some(notice)));
                    }
                }
            }
        });
    }
}

/// Uploads an image's bytes (a `File`, or a `Uint8Array`) to `path` (see
/// [`Engine::upload_target`]): its id and its size in pixels, as the server
/// read them.
pub(super) async fn upload(
    path: &str,
    key: Option<&str>,
    bytes: &JsValue,
) -> Result<(ImageId, (f64, f64)), String> {
    let answer = post_for(path, key, Some(bytes)).await?;
    let id = field(&answer, "id")
        .as_string()
        .and_then(|id| ImageId::parse(&id).ok());
    let size = (
        field(&answer, "width").as_f64(),
        field(&answer, "height").as_f64(),
    );
    match (id, size) {
        (Some(id), (Some(width), Some(height))) => Ok((id, (width, height))),
        _ => Err("the server's answer was not one".to_owned()),
    }
}

impl Engine {
    /// Where this page uploads images (`/b/{id}/images`) and the edit key
    /// it sends; none on a view link's page.
    pub(super) fn upload_target(&self) -> Option<(String, Option<String>)> {
        match &self.link {
            BoardLink::Edit(board) => Some((format!("/b/{board}/images"), self.key.clone())),
            BoardLink::View(_) => None,
        }
    }

    /// Adds image `image`, `size` pixels large, as an item centred on
    /// `at` (a point on the canvas): as large as it is, unless that is more
    /// than [`FIT_IN_VIEW`] of the view. It goes on top and is selected.
    fn add_image(&mut self, image: ImageId, size: (f64, f64), at: (f64, f64)) {
        let (width, height) = (size.0.max(1.0), size.1.max(1.0));
        let fit = FIT_IN_VIEW / self.view.zoom;
        let scale = (fit * self.size.0 / width)
            .min(fit * self.size.1 / height)
            .min(1.0);
        let (half_width, half_height) =
            ((width * scale / 2.0) as f32, (height * scale / 2.0) as f32);
        let (x, y) = self.world(at);
        let corners = vec![
            Point::new(x - half_width, y - half_height, 0.5),
            Point::new(x + half_width, y + half_height, 0.5),
        ];
        let mut item = self.new_stroke(StrokeKind::Image, corners);
        item.image = Some(image);
        let ids = vec![item.id.clone()];
        self.submit_batched(vec![item], false);
        self.choose_tool(Tool::Select);
        self.select(ids);
    }

    /// Connected (again): images whose bytes did not arrive before are
    /// asked for again, by painting the items showing them.
    pub(super) fn retry_failed_images(&mut self) {
        for image in self.images.forget_failed() {
            self.replica.repaint_image(&image);
            self.dirty = true;
        }
    }

    /// Image `image`'s bytes arrived: the items showing it are drawn
    /// again, and images past the memory budget are let go of, unless
    /// the board layer may paint them (or it is this one, wherever its
    /// items are: it would be asked for again at once).
    pub(super) fn image_arrived(&mut self, image: &ImageId) {
        self.replica.repaint_image(image);
        self.dirty = true;
        if self.images.over_budget() {
            let area = self.board_layer.area();
            let kept: Vec<ImageId> = self.replica.with_layer(|layer, scene| {
                area.map(|area| scene.in_area(&area))
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(|id| layer.get(id)?.image.clone())
                    .collect()
            });
            self.images.evict(|id| id == image || kept.contains(id));
        }
    }
}
