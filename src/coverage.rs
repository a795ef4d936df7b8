//! Which parts of the board layer's bitmap are painted, and what to paint
//! next.
//!
//! The bitmap covers the view plus a margin on every side, so that panning
//! shows what is already painted instead of painting strips at the edge of
//! the view while the pointer moves (a strip 30 pixels wide crosses a
//! thousand strokes on a 100,000-stroke board). Whatever is in sight is
//! painted first ([`Coverage::sight_first`]); the margin is painted between
//! frames, a few milliseconds at a time, in drawing order, so no frame waits
//! for it.
//!
//! [`Coverage`] keeps the regions not painted yet (`pending`: disjoint
//! rectangles of bitmap pixels) and how far the painting of the first one
//! got (`progress`: every item up to that drawing order is on the bitmap).
//! Pure and shared, so its rules are unit-tested natively; the browser's
//! `client::board_layer` does the painting it asks for.

use crate::sorting;

/// A rectangle of whole bitmap pixels, `x0 <= x < x1`, `y0 <= y < y1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PixelRect {
    pub x0: i32,
    pub y0: i32,
    pub x1: i32,
    pub y1: i32,
}

impl PixelRect {
    pub fn new(x0: i32, y0: i32, x1: i32, y1: i32) -> Self {
        Self { x0, y0, x1, y1 }
    }

    pub fn is_empty(&self) -> bool {
        self.x0 >= self.x1 || self.y0 >= self.y1
    }

    pub fn intersection(&self, other: &PixelRect) -> Option<PixelRect> {
        let cut = PixelRect {
            x0: self.x0.max(other.x0),
            y0: self.y0.max(other.y0),
            x1: self.x1.min(other.x1),
            y1: self.y1.min(other.y1),
        };
        (!cut.is_empty()).then_some(cut)
    }

    /// The smallest rectangle holding both (an empty one adds nothing).
    pub fn union(&self, other: &PixelRect) -> PixelRect {
        if self.is_empty() {
            return *other;
        }
        if other.is_empty() {
            return *self;
        }
        PixelRect {
            x0: self.x0.min(other.x0),
            y0: self.y0.min(other.y0),
            x1: self.x1.max(other.x1),
            y1: self.y1.max(other.y1),
        }
    }

    /// Width and height in pixels.
    pub fn size(&self) -> (i32, i32) {
        (self.x1 - self.x0, self.y1 - self.y0)
    }

    /// `self` without `other`: at most four disjoint pieces.
    pub fn minus(&self, other: &PixelRect) -> Vec<PixelRect> {
        let Some(cut) = self.intersection(other) else {
            return vec![*self];
        };
        let pieces = [
            // Above and below the cut, full width.
            PixelRect::new(self.x0, self.y0, self.x1, cut.y0),
            PixelRect::new(self.x0, cut.y1, self.x1, self.y1),
            // Left and right of the cut, its height.
            PixelRect::new(self.x0, cut.y0, cut.x0, cut.y1),
            PixelRect::new(cut.x1, cut.y0, self.x1, cut.y1),
        ];
        pieces.into_iter().filter(|p| !p.is_empty()).collect()
    }

    /// Moved by `(dx, dy)` pixels.
    pub fn shifted(&self, dx: i32, dy: i32) -> PixelRect {
        PixelRect::new(self.x0 + dx, self.y0 + dy, self.x1 + dx, self.y1 + dy)
    }

    /// Cut into tiles of at most `tile` pixels a side, row by row.
    pub fn tiles(&self, tile: i32) -> Vec<PixelRect> {
        let tile = tile.max(1);
        let mut tiles = Vec::new();
        let mut y = self.y0;
        while y < self.y1 {
            let mut x = self.x0;
            while x < self.x1 {
                tiles.push(PixelRect::new(
                    x,
                    y,
                    (x + tile).min(self.x1),
                    (y + tile).min(self.y1),
                ));
                x += tile;
            }
            y += tile;
        }
        tiles
    }

    /// Squared distance from the rectangle's centre to `point`, in pixels.
    fn distance2(&self, point: (i32, i32)) -> i64 {
        let dx = i64::from(self.x0) + i64::from(self.x1) - 2 * i64::from(point.0);
        let dy = i64::from(self.y0) + i64::from(self.y1) - 2 * i64::from(point.1);
        dx * dx + dy * dy
    }

    pub fn area(&self) -> i64 {
        if self.is_empty() {
            0
        } else {
            let (w, h) = self.size();
            i64::from(w) * i64::from(h)
        }
    }
}

/// `pieces` without any of `regions`.
fn without<'r>(
    pieces: Vec<PixelRect>,
    regions: impl IntoIterator<Item = &'r PixelRect>,
) -> Vec<PixelRect> {
    regions.into_iter().fold(pieces, |pieces, region| {
        pieces
            .iter()
            .flat_map(|piece| piece.minus(region))
            .collect()
    })
}

/// `regions` (disjoint) as one rectangle if together they are one.
fn joined(regions: Vec<PixelRect>) -> Vec<PixelRect> {
    let Some(first) = regions.first() else {
        return regions;
    };
    let bounds = regions.iter().fold(*first, |b, r| {
        PixelRect::new(
            b.x0.min(r.x0),
            b.y0.min(r.y0),
            b.x1.max(r.x1),
            b.y1.max(r.y1),
        )
    });
    let area: i64 = regions.iter().map(PixelRect::area).sum();
    if area == bounds.area() {
        vec![bounds]
    } else {
        regions
    }
}

/// The regions of the bitmap still to paint. `P` is the painter's drawing
/// order (the scene's), by which the first region's painting resumes.
/// Big regions are kept as tiles, so that resuming one looks up only the
/// items of a tile, and the tiles nearest the view come first.
#[derive(Debug, Clone, PartialEq)]
pub struct Coverage<P> {
    pending: Vec<PixelRect>,
    progress: Option<P>,
    tile: i32,
}

impl<P> Default for Coverage<P> {
    fn default() -> Self {
        Self {
            pending: Vec::new(),
            progress: None,
            tile: i32::MAX,
        }
    }
}

impl<P: Copy> Coverage<P> {
    /// Nothing painted: all of `bitmap` is pending, in tiles of at most
    /// `tile` pixels a side, those nearest `focus` first.
    pub fn unpainted(bitmap: PixelRect, tile: i32, focus: (i32, i32)) -> Self {
        let mut pending = if bitmap.is_empty() {
            Vec::new()
        } else {
            bitmap.tiles(tile)
        };
        // Squared distances are never negative.
        sorting::sort_by_key(&mut pending, |region| (region.distance2(focus) as u64, 0));
        Self {
            pending,
            progress: None,
            tile,
        }
    }

    /// The regions still to paint, disjoint.
    pub fn pending(&self) -> &[PixelRect] {
        &self.pending
    }

    pub fn is_complete(&self) -> bool {
        self.pending.is_empty()
    }

    /// Puts the pending parts of `area` (what is in sight) first, so that
    /// they are painted before anything else: as one region when together
    /// they are a rectangle (a stroke across tile edges is then drawn once).
    /// A half-painted region wholly in `area` stays first and keeps its
    /// progress; one that `area` cuts starts over. Whether anything in
    /// `area` is pending.
    pub fn sight_first(&mut self, area: &PixelRect) -> bool {
        let resumed = match self.pending.first() {
            Some(first) if self.progress.is_some() && first.intersection(area) == Some(*first) => {
                Some(*first)
            }
            _ => None,
        };
        let mut inside = Vec::new();
        let mut outside = Vec::with_capacity(self.pending.len());
        for region in self.pending.iter().skip(usize::from(resumed.is_some())) {
            match region.intersection(area) {
                None => outside.push(*region),
                Some(cut) => {
                    inside.push(cut);
                    outside.extend(region.minus(area));
                }
            }
        }
        if inside.is_empty() && resumed.is_none() {
            return false;
        }
        let mut pending: Vec<PixelRect> = resumed.into_iter().collect();
        if resumed.is_some() {
            pending.extend(inside);
        } else {
            // Whatever was half painted is no longer first (or was cut): it
            // starts over when its turn comes.
            self.progress = None;
            pending.extend(joined(inside));
        }
        pending.extend(outside);
        self.pending = pending;
        true
    }

    /// `area` changed: it is pending again (all of it that is in `bitmap`).
    /// A half-painted region it reaches into starts over.
    pub fn invalidate(&mut self, area: &PixelRect, bitmap: &PixelRect) {
        let Some(area) = area.intersection(bitmap) else {
            return;
        };
        if self
            .pending
            .first()
            .is_some_and(|first| first.intersection(&area).is_some())
        {
            self.progress = None;
        }
        let pieces = without(area.tiles(self.tile), &self.pending);
        self.pending.extend(pieces);
    }

    /// The region to paint next and how far its painting got (`None`: not
    /// started; clear it first).
    pub fn next(&self) -> Option<(PixelRect, Option<P>)> {
        self.pending.first().map(|region| (*region, self.progress))
    }

    /// How far the painting of the next region got, if it started.
    pub fn progress(&self) -> Option<P> {
        self.progress
    }

    /// What of `bitmap` is painted: all but the pending regions, or, with
    /// `with_next`, all but those after the next one (whose items up to
    /// [`Self::progress`] are painted).
    pub fn painted(&self, bitmap: PixelRect, with_next: bool) -> Vec<PixelRect> {
        let skip = usize::from(with_next);
        without(vec![bitmap], self.pending.iter().skip(skip))
    }

    /// The next region is painted up to `order`.
    pub fn advanced(&mut self, order: P) {
        self.progress = Some(order);
    }

    /// The next region is painted completely.
    pub fn finished_next(&mut self) {
        if !self.pending.is_empty() {
            self.pending.remove(0);
        }
        self.progress = None;
    }

    /// The bitmap's content moved by `(dx, dy)` pixels within `bitmap`
    /// (a pan past the margin): what moved out is gone, what came in is
    /// pending, regions still pending move along (and start over).
    pub fn shifted(&mut self, dx: i32, dy: i32, bitmap: &PixelRect) {
        let kept = bitmap.shifted(dx, dy);
        let mut pending: Vec<PixelRect> = self
            .pending
            .iter()
            .filter_map(|region| region.shifted(dx, dy).intersection(bitmap))
            .collect();
        // Pending regions moved within `kept`; what came in is the rest.
        pending.extend(
            bitmap
                .minus(&kept)
                .iter()
                .flat_map(|piece| piece.tiles(self.tile)),
        );
        self.pending = pending;
        self.progress = None;
    }
}

#[cfg(test)]
mod tests;
