//! The images that image items show, as the browser loaded them: one
//! `HtmlImageElement` per image id, shared by the board layer, the live
//! drawing and the PNG export.
//!
//! An image is asked for the first time an item showing it is drawn; until
//! its bytes arrive (or if they never do) the item is drawn as the grey box
//! older clients see (`Stroke::as_placeholder`). When they arrive, the
//! engine is told (the callback given to [`Images::on_arrival`]) and paints
//! the items showing it again: the board layer keeps what it painted, so
//! nothing else would.
//!
//! `/images/{id}` is immutable and served from this origin, so the browser
//! caches it for good and a canvas that draws it can still be exported.
//!
//! The dark theme shows the board canvas inverted (the style sheet's
//! filter): on it, images are drawn inverted first, so that they look as
//! they are ([`Images::inverted`]; the theme is read when the page opens).

use std::cell::{Cell, OnceCell, RefCell};
use std::rc::Rc;

use wasm_bindgen::prelude::*;
use web_sys::HtmlImageElement;

use crate::image::ImageId;

/// Told the id of each image whose bytes arrived.
type OnArrival = Rc<dyn Fn(ImageId)>;

#[derive(Clone)]
pub struct Images(Rc<Inner>);

struct Inner {
    /// Every image asked for, by id (a sorted list: a map type would add
    /// its own code to the WebAssembly).
    elements: RefCell<Vec<(ImageId, HtmlImageElement)>>,
    /// Set once the engine exists (it holds the cache).
    on_arrival: OnceCell<OnArrival>,
    /// Draw images inverted: the canvas they go on is shown inverted.
    inverted: Cell<bool>,
}

impl Images {
    /// `inverted`: the page shows the board canvas inverted.
    pub fn new(inverted: bool) -> Self {
        Self(Rc::new(Inner {
            elements: RefCell::new(Vec::new()),
            on_arrival: OnceCell::new(),
            inverted: Cell::new(inverted),
        }))
    }

    /// Whether images are drawn inverted.
    pub fn inverted(&self) -> bool {
        self.0.inverted.get()
    }

    /// Draws images inverted or not from now on (an export is not shown
    /// inverted); what it was.
    pub fn set_inverted(&self, inverted: bool) -> bool {
        self.0.inverted.replace(inverted)
    }

    /// Whom to tell when an image's bytes arrive.
    pub fn on_arrival(&self, tell: impl Fn(ImageId) + 'static) {
        let _ = self.0.on_arrival.set(Rc::new(tell));
    }

    /// The element of `id`, loading or loaded; asks for it the first time.
    pub fn element(&self, id: &ImageId) -> Option<HtmlImageElement> {
        let mut elements = self.0.elements.borrow_mut();
        let at = match elements.binary_search_by(|(known, _)| known.cmp(id)) {
            Ok(at) => return Some(elements[at].1.clone()),
            Err(at) => at,
        };
        let element = HtmlImageElement::new().ok()?;
        if let Some(tell) = self.0.on_arrival.get().cloned() {
            let arrived = id.clone();
            let on_load = Closure::once_into_js(move || tell(arrived));
            element.set_onload(Some(on_load.unchecked_ref()));
        }
        element.set_src(&["/images/", id.as_str()].concat());
        elements.insert(at, (id.clone(), element.clone()));
        Some(element)
    }

    /// The element of `id` if its bytes are here and decoded: what can be
    /// drawn now. Asks for it the first time.
    pub fn loaded(&self, id: &ImageId) -> Option<HtmlImageElement> {
        self.element(id)
            .filter(|element| element.complete() && element.natural_width() > 0)
    }
}
