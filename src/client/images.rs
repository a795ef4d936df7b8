//! The images that image items show, decoded: one `ImageBitmap` per image
//! id, shared by the board layer, the live drawing and the PNG export, and
//! let go of past a memory budget.
//!
//! An image is asked for the first time an item showing it is drawn; until
//! its bytes arrive and are decoded (or if they never are) the item is
//! drawn as the grey box older clients see (`Stroke::as_placeholder`).
//! Then the engine is told (the callback given to [`Images::on_arrival`])
//! and paints the items showing it again: the board layer keeps what it
//! painted, so nothing else would.
//!
//! Why bitmaps, not `<img>` elements: the browser decodes a bitmap off the
//! main thread, before it is drawn (an element is decoded where it is
//! first drawn, blocking the page: 100 ms for a photo), and a bitmap's
//! pixels are freed when it is closed. An element's decoded pixels stay
//! for as long as the browser likes: Chromium held 550 MB of them for a
//! board of 40 photos, however far away they were (docs/benchmarks.md,
//! "Boards of large images").
//!
//! The budget: decoded pixels past [`PIXEL_BUDGET`] are let go when an
//! image arrives, least recently drawn first, but never those of items
//! the board layer may paint ([`Images::evict`]'s `keep`). One let go is
//! asked for again when next drawn: `/images/{id}` is immutable, so it
//! comes from the browser's HTTP cache, and a canvas that draws it can
//! still be exported (same origin).
//!
//! The dark theme shows the board canvas inverted (the style sheet's
//! filter): on it, images are drawn inverted first, so that they look as
//! they are ([`Images::inverted`]; the theme is read when the page opens).

use std::cell::{Cell, OnceCell, RefCell};
use std::rc::Rc;

use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::ImageBitmap;

use crate::image::ImageId;

/// Decoded pixels kept beyond those the board layer may paint: 64
/// megapixels, 256 MB of RGBA (fifteen 12-megapixel photos; thirty
/// full-HD screenshots).
pub const PIXEL_BUDGET: f64 = 64.0 * 1024.0 * 1024.0;

/// Told the id of each image whose bytes arrived.
type OnArrival = Rc<dyn Fn(ImageId)>;

/// Where one image is.
enum Entry {
    /// Asked for; its bytes are on their way or being decoded.
    Loading,
    /// Decoded, and when it was last drawn (the clock's count then).
    Ready { bitmap: ImageBitmap, drawn: u64 },
    /// Its bytes did not arrive or did not decode: drawn as the grey box
    /// until the page connects again ([`Images::forget_failed`]).
    Failed,
}

#[derive(Clone)]
pub struct Images(Rc<Inner>);

struct Inner {
    /// Every image asked for, by id (a sorted list: a map type would add
    /// its own code to the WebAssembly).
    entries: RefCell<Vec<(ImageId, Entry)>>,
    /// Set once the engine exists (it holds the cache). Without one
    /// (an export's images), nothing is asked for.
    on_arrival: OnceCell<OnArrival>,
    /// Draw images inverted: the canvas they go on is shown inverted.
    inverted: bool,
    /// Counts draws: what "least recently drawn" is measured in.
    clock: Cell<u64>,
}

impl Images {
    /// `inverted`: the page shows the board canvas inverted.
    pub fn new(inverted: bool) -> Self {
        Self(Rc::new(Inner {
            entries: RefCell::new(Vec::new()),
            on_arrival: OnceCell::new(),
            inverted,
            clock: Cell::new(0),
        }))
    }

    /// A set of images already decoded (`None`: failed), drawn as they are
    /// and closed with it: what an export paints with. It asks for
    /// nothing.
    pub fn holding(images: Vec<(ImageId, Option<ImageBitmap>)>) -> Self {
        let held = Self::new(false);
        {
            let mut entries = held.0.entries.borrow_mut();
            for (id, bitmap) in images {
                let entry = match bitmap {
                    Some(bitmap) => Entry::Ready { bitmap, drawn: 0 },
                    None => Entry::Failed,
                };
                if let Err(at) = entries.binary_search_by(|(known, _)| known.cmp(&id)) {
                    entries.insert(at, (id, entry));
                }
            }
        }
        held
    }

    /// Whether images are drawn inverted.
    pub fn inverted(&self) -> bool {
        self.0.inverted
    }

    /// Whom to tell when an image's bytes arrive; from then on, images
    /// drawn and not here are asked for.
    pub fn on_arrival(&self, tell: impl Fn(ImageId) + 'static) {
        let _ = self.0.on_arrival.set(Rc::new(tell));
    }

    /// The decoded image `id`, if it is here: what can be drawn now. The
    /// first time, it is asked for. Counts as drawing it.
    pub fn loaded(&self, id: &ImageId) -> Option<ImageBitmap> {
        let mut entries = self.0.entries.borrow_mut();
        match entries.binary_search_by(|(known, _)| known.cmp(id)) {
            Ok(at) => match &mut entries[at].1 {
                Entry::Ready { bitmap, drawn } => {
                    let now = self.0.clock.get() + 1;
                    self.0.clock.set(now);
                    *drawn = now;
                    Some(bitmap.clone())
                }
                Entry::Loading | Entry::Failed => None,
            },
            Err(at) => {
                if self.0.on_arrival.get().is_some() {
                    entries.insert(at, (id.clone(), Entry::Loading));
                    let (images, id) = (self.clone(), id.clone());
                    wasm_bindgen_futures::spawn_local(async move {
                        let bitmap = fetch(&id).await;
                        images.arrived(id, bitmap);
                    });
                }
                None
            }
        }
    }

    /// Keeps what arrived for `id`, if it is still wanted, and tells the
    /// engine.
    fn arrived(&self, id: ImageId, bitmap: Option<ImageBitmap>) {
        {
            let mut entries = self.0.entries.borrow_mut();
            let Ok(at) = entries.binary_search_by(|(known, _)| known.cmp(&id)) else {
                if let Some(bitmap) = bitmap {
                    bitmap.close();
                }
                return;
            };
            // Asked for by a draw: as recent as the last one.
            let drawn = self.0.clock.get();
            entries[at].1 = match bitmap {
                Some(bitmap) => Entry::Ready { bitmap, drawn },
                None => Entry::Failed,
            };
        }
        if let Some(tell) = self.0.on_arrival.get().cloned() {
            tell(id);
        }
    }

    /// Forgets the images whose bytes did not arrive (the network was
    /// gone, the server restarting): they are asked for again when next
    /// drawn. Their ids.
    pub fn forget_failed(&self) -> Vec<ImageId> {
        let mut forgotten = Vec::new();
        self.0.entries.borrow_mut().retain(|(id, entry)| {
            let failed = matches!(entry, Entry::Failed);
            if failed {
                forgotten.push(id.clone());
            }
            !failed
        });
        forgotten
    }

    /// Decoded pixels held now.
    fn pixels(&self) -> f64 {
        self.0
            .entries
            .borrow()
            .iter()
            .map(|(_, entry)| match entry {
                Entry::Ready { bitmap, .. } => pixels_of(bitmap),
                Entry::Loading | Entry::Failed => 0.0,
            })
            .sum()
    }

    /// Whether more pixels are held than [`PIXEL_BUDGET`].
    pub fn over_budget(&self) -> bool {
        self.pixels() > PIXEL_BUDGET
    }

    /// Lets go of decoded images, least recently drawn first, until what
    /// is held fits [`PIXEL_BUDGET`], but none that `keep` names (those
    /// of items the board layer may paint: it would paint grey boxes
    /// until they are fetched again).
    pub fn evict(&self, keep: impl Fn(&ImageId) -> bool) {
        let mut held = self.pixels();
        let mut entries = self.0.entries.borrow_mut();
        // A board holds a handful of images: a scan for the least recently
        // drawn each time is cheaper here than a sort (its own code in the
        // WebAssembly).
        while held > PIXEL_BUDGET {
            let oldest = entries
                .iter()
                .enumerate()
                .filter_map(|(at, (id, entry))| match entry {
                    Entry::Ready { drawn, .. } if !keep(id) => Some((at, *drawn)),
                    _ => None,
                })
                .min_by_key(|(_, drawn)| *drawn);
            let Some((at, _)) = oldest else {
                break;
            };
            if let (_, Entry::Ready { bitmap, .. }) = entries.remove(at) {
                held -= pixels_of(&bitmap);
                bitmap.close();
            }
        }
    }
}

impl Drop for Inner {
    /// An export's images are freed as soon as it is painted, not when
    /// the garbage collector gets round to them.
    fn drop(&mut self) {
        for (_, entry) in self.entries.get_mut().drain(..) {
            if let Entry::Ready { bitmap, .. } = entry {
                bitmap.close();
            }
        }
    }
}

fn pixels_of(bitmap: &ImageBitmap) -> f64 {
    f64::from(bitmap.width()) * f64::from(bitmap.height())
}

/// Fetches image `id` (from the HTTP cache once it was fetched: the
/// answer is immutable) and decodes it off the main thread.
pub async fn fetch(id: &ImageId) -> Option<ImageBitmap> {
    let decoded = async {
        let window = web_sys::window().ok_or(JsValue::NULL)?;
        let response: web_sys::Response = JsFuture::from(window.fetch_with_str(&id.path()))
            .await?
            .unchecked_into();
        if !response.ok() {
            return Err(JsValue::NULL);
        }
        let blob: web_sys::Blob = JsFuture::from(response.blob()?).await?.unchecked_into();
        let bitmap = JsFuture::from(window.create_image_bitmap_with_blob(&blob)?).await?;
        Ok::<ImageBitmap, JsValue>(bitmap.unchecked_into())
    };
    decoded.await.ok()
}
