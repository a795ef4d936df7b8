//! The board layer: what a tab shows of the board, indexed by place.
//!
//! The browser paints the board in two layers: this one (the board as the
//! server confirmed it) is painted into a cached bitmap and repainted only
//! where it changed; live things (strokes being drawn or moved, by anyone,
//! and this tab's requests not yet confirmed) are painted over that bitmap
//! every frame. So a remote preview or a gliding cursor never repaints
//! 100,000 strokes, a new stroke on top is painted once, and an erase
//! repaints only the rectangle it cleared.
//!
//! [`Layer`] says what the layer holds for an id (a pure function of the
//! board and of the ids something live stands in for) and what the tab shows
//! for it (the board with the pending requests laid over it). [`Scene`]
//! keeps the layer's items in an R-tree ([`rstar`]) with their drawing
//! order, and answers "what is in this rectangle, bottom first" for
//! painting, culling and hit testing. It learns about changes by id
//! ([`Scene::refresh`]) and answers with the [`Damage`] to repaint; it never
//! looks at the whole board except in [`Scene::rebuild`].
//!
//! Shared and free of browser types, so that it is unit-tested natively.

use std::collections::{HashMap, HashSet};

use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{RTree, AABB};

use crate::board::Board;
use crate::geometry::{self, Rect};
use crate::protocol::{ClientMessage, Stroke, StrokeId, StrokeKind};
use crate::sorting;

/// What the board layer is made of, borrowed for one update or paint
/// (items live as long as `'a`; the lists of them may be shorter-lived).
pub struct Layer<'a, 'l> {
    pub board: &'a Board,
    /// Durable requests not yet confirmed, oldest first.
    pub pending: &'l [&'a ClientMessage],
    /// Ids the layer leaves out because something live stands in for them:
    /// every id a pending request names (see [`Layer::ids_named_by`]), the
    /// items being moved or edited, those the eraser went over.
    pub hidden: &'l HashSet<StrokeId>,
}

impl<'a> Layer<'a, '_> {
    /// The item as the board layer paints it: its confirmed state, unless
    /// something live stands in for it or a pending clear empties the board.
    pub fn get(&self, id: &StrokeId) -> Option<&'a Stroke> {
        if self.hidden.contains(id) || self.clearing() {
            return None;
        }
        self.board.get_visible(id)
    }

    fn clearing(&self) -> bool {
        self.pending
            .iter()
            .any(|message| matches!(message, ClientMessage::Clear { .. }))
    }

    /// The item as the tab shows it: the board with the pending requests
    /// laid over it in order, and whether the server confirmed it as shown.
    /// (`hidden` does not apply: it says where an item is painted, not what
    /// it looks like.)
    pub fn shown(&self, id: &StrokeId) -> Option<(&'a Stroke, bool)> {
        let mut state = self.board.get_visible(id).map(|stroke| (stroke, true));
        for message in self.pending {
            match message {
                ClientMessage::AddStroke { stroke, .. }
                    if &stroke.id == id && !self.board.contains(id) =>
                {
                    state = Some((stroke, false));
                }
                ClientMessage::AddStrokes { strokes, .. } if !self.board.contains(id) => {
                    if let Some(stroke) = strokes.iter().rfind(|s| &s.id == id) {
                        state = Some((stroke, false));
                    }
                }
                ClientMessage::Update { strokes, .. } if state.is_some() => {
                    if let Some(stroke) = strokes.iter().rfind(|s| &s.id == id) {
                        state = Some((stroke, false));
                    }
                }
                ClientMessage::Erase { stroke_ids, .. } if stroke_ids.contains(id) => {
                    state = None;
                }
                ClientMessage::Clear { .. } => state = None,
                _ => {}
            }
        }
        state
    }

    /// Items the pending requests add or change, as the tab shows them,
    /// each once, in request order: what is painted live over the layer.
    pub fn pending_shown(&self) -> Vec<&'a Stroke> {
        let mut seen = HashSet::new();
        self.pending
            .iter()
            .flat_map(|message| match message {
                ClientMessage::AddStroke { stroke, .. } => std::slice::from_ref(stroke),
                ClientMessage::AddStrokes { strokes, .. }
                | ClientMessage::Update { strokes, .. } => strokes.as_slice(),
                _ => &[],
            })
            .filter(|stroke| seen.insert(&stroke.id))
            .filter_map(|stroke| self.shown(&stroke.id).map(|(shown, _)| shown))
            .collect()
    }

    /// Ids a pending request adds, changes or erases: the layer leaves them
    /// to the live drawing until it is confirmed (a clear empties the layer
    /// through [`Layer::get`]; what an undo or redo changes only the server
    /// knows, and its operation says).
    pub fn ids_named_by(message: &ClientMessage) -> impl Iterator<Item = &StrokeId> {
        let (strokes, ids): (&[Stroke], &[StrokeId]) = match message {
            ClientMessage::AddStroke { stroke, .. } => (std::slice::from_ref(stroke), &[]),
            ClientMessage::AddStrokes { strokes, .. } | ClientMessage::Update { strokes, .. } => {
                (strokes, &[])
            }
            ClientMessage::Erase { stroke_ids, .. } => (&[], stroke_ids),
            _ => (&[], &[]),
        };
        strokes.iter().map(|s| &s.id).chain(ids)
    }
}

/// What a change leaves to repaint in the layer's bitmap.
#[derive(Debug, Clone, PartialEq)]
pub enum Damage {
    /// Clear this world rectangle and paint what reaches into it again.
    Area(Rect),
    /// A new item above everything it overlaps: paint it over the bitmap.
    Above(StrokeId),
}

/// Drawing order: the stacking key, then the order the scene first saw the
/// item (which is the board's order for items added one after another).
#[derive(Debug, Clone, Copy)]
pub struct Order {
    z: f64,
    arrival: u64,
}

impl Order {
    /// The order as a sort key (see [`crate::sorting`]).
    pub fn key(&self) -> sorting::Key {
        (sorting::f64_key(self.z), self.arrival)
    }
}

impl Ord for Order {
    fn cmp(&self, other: &Order) -> std::cmp::Ordering {
        self.z
            .total_cmp(&other.z)
            .then(self.arrival.cmp(&other.arrival))
    }
}

impl PartialOrd for Order {
    fn partial_cmp(&self, other: &Order) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Order {
    fn eq(&self, other: &Order) -> bool {
        self.cmp(other).is_eq()
    }
}

impl Eq for Order {}

type Indexed = GeomWithData<Rectangle<[f32; 2]>, StrokeId>;

#[derive(Debug, Clone)]
struct Entry {
    /// Where the item paints (`None` while the layer does not show it).
    bounds: Option<Rect>,
    order: Order,
}

/// Where the items of a board that holds part of a snapshot are in the
/// whole snapshot's drawing order.
pub struct Placed<'p> {
    /// The position of each of the board's items (hidden ones included),
    /// in the board's order.
    pub positions: &'p [usize],
    /// How many items the whole snapshot has.
    pub total: usize,
}

/// The board layer's items by place and drawing order.
#[derive(Default)]
pub struct Scene {
    /// Every id seen, shown or not, so that an item that comes back keeps
    /// its place among items with the same stacking key.
    entries: HashMap<StrokeId, Entry>,
    /// The items by place: built whole ([`Self::rebuild`]), then changed
    /// item by item.
    tree: RTree<Indexed>,
    /// More items by place, until the next rebuild: the rest of a merged
    /// snapshot, taken in a slice at a time ([`Self::place`]). Each slice
    /// gets a tree of its own, built whole: inserting 60,000 items one by
    /// one into the first tree took six times as long natively (52 ms
    /// against 8 ms for trees of 5,000), and left a tree 1.5 times slower
    /// to search.
    more: Vec<RTree<Indexed>>,
    arrivals: u64,
}

/// Where an item may paint, a little beyond its geometric bounds: text
/// glyphs are measured by the browser, not by `geometry`, and antialiasing
/// reaches past the line.
pub fn paint_bounds(stroke: &Stroke) -> Option<Rect> {
    let margin = match stroke.kind {
        StrokeKind::Text => stroke.font_size.unwrap_or(16.0),
        _ => 1.0,
    };
    geometry::visual_bounds(stroke).map(|b| b.expand(margin))
}

fn indexed(bounds: &Rect, id: StrokeId) -> Indexed {
    GeomWithData::new(
        Rectangle::from_corners([bounds.min_x, bounds.min_y], [bounds.max_x, bounds.max_y]),
        id,
    )
}

fn envelope(area: &Rect) -> AABB<[f32; 2]> {
    AABB::from_corners([area.min_x, area.min_y], [area.max_x, area.max_y])
}

impl Scene {
    pub fn new() -> Self {
        Self::default()
    }

    /// Items shown.
    pub fn len(&self) -> usize {
        self.trees().map(RTree::size).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn trees(&self) -> impl Iterator<Item = &RTree<Indexed>> {
        std::iter::once(&self.tree).chain(&self.more)
    }

    fn remove(&mut self, bounds: &Rect, id: &StrokeId) {
        let item = indexed(bounds, id.clone());
        if self.tree.remove(&item).is_none() {
            for tree in &mut self.more {
                if tree.remove(&item).is_some() {
                    return;
                }
            }
        }
    }

    /// Forgets every item and the order they came in: the next
    /// [`Self::rebuild`] takes the board's order afresh.
    pub fn forget(&mut self) {
        self.entries.clear();
        self.arrivals = 0;
    }

    /// Builds the scene from scratch (a welcome, a clear), for a board
    /// that holds part of a snapshot if `placed` says where its items are
    /// in the whole one.
    pub fn rebuild(&mut self, layer: &Layer<'_, '_>, placed: Option<Placed<'_>>) {
        if let Some(placed) = &placed {
            // Drawing orders are the whole snapshot's from the start, so
            // that the rest can be taken in later ([`Self::place`])
            // without changing the order of anything painted.
            self.forget();
            self.arrivals = placed.total as u64;
        }
        for entry in self.entries.values_mut() {
            entry.bounds = None;
        }
        // `Layer::get` for every visible stroke, without looking each up again.
        let clearing = layer.clearing();
        let count = layer.board.stroke_count();
        // Grown once, not doubled (and rehashed) a dozen times on the way
        // to a big board's size; for part of a snapshot, with room for the
        // rest (growing a map of 60,000 entries while taking the rest in
        // would rehash them all in one slice).
        let room = placed
            .as_ref()
            .map_or(count, |placed| placed.total.max(count));
        self.entries
            .reserve(room.saturating_sub(self.entries.len()));
        let places = placed.map(|placed| placed.positions);
        let mut shown = Vec::with_capacity(count);
        for (at, item) in layer.board.items().iter().enumerate() {
            if !item.visible {
                continue;
            }
            let stroke = &item.stroke;
            let id = &stroke.id;
            let bounds = if clearing || layer.hidden.contains(id) {
                None
            } else {
                paint_bounds(stroke)
            };
            if let Some(bounds) = &bounds {
                shown.push(indexed(bounds, id.clone()));
            }
            if let Some(entry) = self.entries.get_mut(id) {
                entry.bounds = bounds;
                entry.order.z = stroke.z;
            } else {
                let arrival = match places.and_then(|places| places.get(at)) {
                    Some(&place) => place as u64 + 1,
                    None => {
                        self.arrivals += 1;
                        self.arrivals
                    }
                };
                let order = Order {
                    z: stroke.z,
                    arrival,
                };
                self.entries.insert(id.clone(), Entry { bounds, order });
            }
        }
        self.tree = RTree::bulk_load(shown);
        self.more.clear();
    }

    /// Takes in items of a snapshot whose first part the scene was built
    /// from ([`Self::rebuild`] with [`Placed`]), each with its position in the
    /// whole snapshot's drawing order, as the layer shows them. An item an
    /// operation already brought in keeps its place and takes its position
    /// as drawing order: the areas of those are returned, to repaint. The
    /// others are not painted yet: the caller knows where they are.
    pub fn place(&mut self, layer: &Layer<'_, '_>, items: &[(StrokeId, usize)]) -> Vec<Rect> {
        let mut shown = Vec::with_capacity(items.len());
        let mut reordered = Vec::new();
        for (id, position) in items {
            let arrival = *position as u64 + 1;
            if let Some(entry) = self.entries.get_mut(id) {
                entry.order.arrival = arrival;
                reordered.extend(entry.bounds);
                continue;
            }
            let state = layer.get(id);
            let bounds = state.and_then(paint_bounds);
            if let Some(bounds) = &bounds {
                shown.push(indexed(bounds, id.clone()));
            }
            let order = Order {
                z: state.map_or(0.0, |stroke| stroke.z),
                arrival,
            };
            self.entries.insert(id.clone(), Entry { bounds, order });
        }
        if !shown.is_empty() {
            self.more.push(RTree::bulk_load(shown));
        }
        reordered
    }

    /// The drawing order of `id` with stacking key `z`: its first arrival
    /// if seen before, the next one otherwise.
    fn order_of(&mut self, id: &StrokeId, z: f64) -> Order {
        let arrival = match self.entries.get(id) {
            Some(entry) => entry.order.arrival,
            None => {
                self.arrivals += 1;
                self.arrivals
            }
        };
        Order { z, arrival }
    }

    /// Brings the items with these ids up to date with `layer` (each id
    /// once, however often it is given); returns what to repaint.
    pub fn refresh<'i>(
        &mut self,
        layer: &Layer<'_, '_>,
        ids: impl IntoIterator<Item = &'i StrokeId>,
    ) -> Vec<Damage> {
        let mut damage = Vec::new();
        let mut done = HashSet::new();
        for id in ids {
            if !done.insert(id) {
                continue;
            }
            let state = layer.get(id);
            let old = self.entries.get(id).and_then(|entry| entry.bounds);
            if old.is_none() && state.is_none() {
                continue;
            }
            let new = state.and_then(paint_bounds);
            let order = self.order_of(id, state.map_or(0.0, |stroke| stroke.z));
            if let Some(bounds) = old {
                self.remove(&bounds, id);
                damage.push(Damage::Area(bounds));
            }
            if let Some(bounds) = new {
                self.tree.insert(indexed(&bounds, id.clone()));
                let on_top = old.is_none() && self.is_on_top(id, &bounds, order);
                damage.push(if on_top {
                    Damage::Above(id.clone())
                } else {
                    Damage::Area(bounds)
                });
            }
            self.entries
                .insert(id.clone(), Entry { bounds: new, order });
        }
        damage
    }

    /// Whether no other item reaching into `bounds` is drawn after `order`.
    fn is_on_top(&self, id: &StrokeId, bounds: &Rect, order: Order) -> bool {
        self.in_area_after(bounds, Some(order))
            .iter()
            .all(|(other, _)| *other == id)
    }

    /// Ids of the items whose paint may reach into `area`, bottom first.
    pub fn in_area(&self, area: &Rect) -> Vec<&StrokeId> {
        self.in_area_after(area, None)
            .into_iter()
            .map(|(id, _)| id)
            .collect()
    }

    /// Like [`Self::in_area`], with each item's drawing order, only the
    /// items drawn after `after` (all when `None`): what is left to paint
    /// of an area whose painting stopped at `after`.
    pub fn in_area_after(&self, area: &Rect, after: Option<Order>) -> Vec<(&StrokeId, Order)> {
        let envelope = envelope(area);
        let mut found = Vec::new();
        for tree in self.trees() {
            for item in tree.locate_in_envelope_intersecting(envelope) {
                let Some(entry) = self.entries.get(&item.data) else {
                    continue;
                };
                if after.is_none_or(|after| entry.order > after) {
                    found.push((&item.data, entry.order));
                }
            }
        }
        sorting::sort_by_key(&mut found, |(_, order)| order.key());
        found
    }

    /// The item's drawing order, if the scene has seen it.
    pub fn order(&self, id: &StrokeId) -> Option<Order> {
        self.entries.get(id).map(|entry| entry.order)
    }

    /// Where the item paints, if the layer shows it.
    pub fn bounds(&self, id: &StrokeId) -> Option<Rect> {
        self.entries.get(id).and_then(|entry| entry.bounds)
    }
}

#[cfg(test)]
mod tests;
