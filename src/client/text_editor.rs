//! Editing text in place: a `<textarea>` laid over the canvas.
//!
//! The text tool (or a double click on a text) opens a textarea at the
//! text's position, in its font, size and colour, scaled with the zoom, so
//! typing looks like the result. Clicking elsewhere, Escape or Ctrl/⌘+Enter
//! commits: a new text becomes an `add_stroke`, an edited one an `update`
//! (or an `erase` when emptied). Nothing is sent while typing; others see the
//! text when it is committed. The text is only ever read from the textarea's
//! value and drawn with `fillText`, never interpreted as markup.
//!
//! The engine holds the editor as a [`TextField`] and does not know this
//! file; the textarea's events reach the engine through
//! `EngineHandle::post`, after the event that caused them (removing the
//! textarea blurs it while the engine is busy), never re-entrantly.

use std::sync::atomic::{AtomicU64, Ordering};

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{HtmlElement, HtmlTextAreaElement, KeyboardEvent};

use leptos::prelude::GetUntracked;

use super::engine::{Engine, EngineHandle, TextField};
use crate::decimal::{dec, Decimal};
use crate::exchange::TEXT_FONT;
use crate::geometry::TEXT_LINE_HEIGHT;
use crate::protocol::{limits, Point, Stroke, StrokeId, StrokeKind};
use crate::replica::TypedText;
use crate::view::View;

/// Editors opened so far, to tell a closed one's late events apart.
static EDITORS_OPENED: AtomicU64 = AtomicU64::new(0);

pub struct TextEditor {
    id: u64,
    element: HtmlTextAreaElement,
    /// The text being written: a new one, or a copy of the one being edited.
    stroke: Stroke,
    /// Whether `stroke` is already on the board (an edit, not a new text).
    existing: bool,
    /// Listeners, kept alive as long as the textarea.
    _listeners: Vec<Closure<dyn FnMut(web_sys::Event)>>,
}

impl TextField for TextEditor {
    fn id(&self) -> u64 {
        self.id
    }

    fn editing(&self) -> Option<&StrokeId> {
        self.existing.then_some(&self.stroke.id)
    }

    fn place(&self, view: &View) {
        let anchor = self.stroke.points[0];
        let (x, y) = view.to_screen((f64::from(anchor.x), f64::from(anchor.y)));
        let (x, y) = (Decimal(x), Decimal(y));
        let size = Decimal(f64::from(self.stroke.font_size.unwrap_or(16.0)) * view.zoom);
        let style = self.element.style();
        let _ = style.set_property("left", &format!("{x}px"));
        let _ = style.set_property("top", &format!("{y}px"));
        let _ = style.set_property("font-size", &format!("{size}px"));
        fit(&self.element);
    }

    fn close(self: Box<Self>) -> TypedText {
        let text = self.element.value();
        // Removing it blurs it; its blur handler finds it closed already.
        self.element.remove();
        TypedText {
            stroke: self.stroke,
            existing: self.existing,
            text,
        }
    }
}

/// Grows the textarea with its content.
fn fit(element: &HtmlTextAreaElement) {
    let style = element.style();
    let _ = style.set_property("width", "1px");
    let _ = style.set_property("height", "1px");
    let width = element.scroll_width() + 8;
    let height = element.scroll_height();
    let _ = style.set_property("width", &format!("{width}px"));
    let _ = style.set_property("height", &format!("{height}px"));
}

impl Engine {
    /// Opens the editor for a new text at a world position.
    pub(super) fn open_text_editor_at(&mut self, at: (f32, f32)) {
        let size = self.ui.font_size.get_untracked();
        // The click marks the middle of the first line, as in other editors.
        let top = at.1 - size * TEXT_LINE_HEIGHT / 2.0;
        let mut stroke = self.new_stroke(
            StrokeKind::Text,
            vec![Point::new(at.0, top, Point::DEFAULT_PRESSURE)],
        );
        stroke.text = Some(String::new());
        self.open_editor(stroke, false);
    }

    /// Opens the editor on an existing text.
    pub(super) fn open_text_editor_for(&mut self, text: Stroke) {
        self.open_editor(text, true);
    }

    fn open_editor(&mut self, stroke: Stroke, existing: bool) {
        if let Some(previous) = self.editor.take() {
            self.commit_text(previous);
        }
        let Some(handle) = self.handle() else {
            return;
        };
        let id = EDITORS_OPENED.fetch_add(1, Ordering::Relaxed) + 1;
        match create_textarea(&self.canvas, &stroke, handle, id) {
            Ok((element, listeners)) => {
                let editor = TextEditor {
                    id,
                    element,
                    stroke,
                    existing,
                    _listeners: listeners,
                };
                editor.place(&self.view);
                let _ = editor.element.focus();
                self.editor = Some(Box::new(editor));
                self.dirty = true;
            }
            Err(error) => leptos::logging::warn!("could not open the text editor: {error:?}"),
        }
    }
}

type Listeners = Vec<Closure<dyn FnMut(web_sys::Event)>>;

fn create_textarea(
    canvas: &web_sys::HtmlCanvasElement,
    stroke: &Stroke,
    handle: EngineHandle,
    id: u64,
) -> Result<(HtmlTextAreaElement, Listeners), JsValue> {
    let document = canvas
        .owner_document()
        .ok_or_else(|| JsValue::from_str("no document"))?;
    let element: HtmlTextAreaElement = document.create_element("textarea")?.dyn_into()?;
    element.set_class_name("text-editor");
    element.set_attribute("aria-label", "Text")?;
    element.set_attribute("data-testid", "text-editor")?;
    element.set_attribute("wrap", "off")?;
    element.set_attribute("spellcheck", "false")?;
    element.set_max_length(limits::MAX_TEXT_BYTES as i32);
    element.set_value(stroke.text.as_deref().unwrap_or(""));
    let style = element.style();
    style.set_property("color", stroke.style.color.as_str())?;
    style.set_property("font-family", TEXT_FONT)?;
    style.set_property("line-height", &dec(TEXT_LINE_HEIGHT).to_string())?;
    style.set_property("opacity", &dec(stroke.opacity).to_string())?;
    let parent: HtmlElement = canvas
        .parent_element()
        .ok_or_else(|| JsValue::from_str("canvas has no parent"))?
        .dyn_into()?;
    parent.append_child(&element)?;

    let mut listeners: Listeners = Vec::new();
    let on_blur = {
        let handle = handle.clone();
        Closure::<dyn FnMut(web_sys::Event)>::new(move |_| {
            handle.post(move |engine| engine.close_editor(id));
        })
    };
    element.add_event_listener_with_callback("blur", on_blur.as_ref().unchecked_ref())?;
    listeners.push(on_blur);

    let on_key = {
        let handle = handle.clone();
        Closure::<dyn FnMut(web_sys::Event)>::new(move |event: web_sys::Event| {
            let Some(key) = event.dyn_ref::<KeyboardEvent>() else {
                return;
            };
            let commit = key.key() == "Escape"
                || (key.key() == "Enter" && (key.ctrl_key() || key.meta_key()));
            if commit {
                event.prevent_default();
                handle.post(move |engine| engine.close_editor(id));
            }
            // Keys typed here are text, not shortcuts.
            event.stop_propagation();
        })
    };
    element.add_event_listener_with_callback("keydown", on_key.as_ref().unchecked_ref())?;
    listeners.push(on_key);

    let on_input = {
        let element = element.clone();
        Closure::<dyn FnMut(web_sys::Event)>::new(move |_| fit(&element))
    };
    element.add_event_listener_with_callback("input", on_input.as_ref().unchecked_ref())?;
    listeners.push(on_input);
    Ok((element, listeners))
}
