//! The board layer's bitmap: the board as the server confirmed it, painted
//! into an offscreen canvas that covers the view and a margin around it
//! (see `crate::scene` for what it holds and `crate::coverage` for why the
//! margin).
//!
//! The replica keeps the scene and, every frame, works out the damage from
//! the ids operations changed and those something live stands in for
//! (`Replica::sync_scene`); this file paints it. A changed area becomes
//! pending again; a new item on top is painted over everything already
//! painted. What is pending and in sight is painted first, up to
//! [`IN_SIGHT_BUDGET_MS`] a frame (a zoom to fit 100,000 strokes takes
//! seconds of painting; the page stays responsive and the view fills in,
//! in drawing order); the rest, the margin included, is painted a few
//! milliseconds per frame once the view is complete. A pan within the
//! margin paints nothing: the bitmap is shown from another offset. A pan
//! past it moves the bitmap's content and leaves the part that came in
//! pending; a zoom or resize starts over, painting what is in sight first.
//! Each frame the engine copies the part in sight onto the visible canvas
//! and paints the live strokes over it.
//!
//! Freehand strokes are not stroked by the canvas (its stroker is what a
//! big board's open cost): `crate::raster` paints them into a copy of the
//! region's pixels (`BitmapCopy`), which goes back to the canvas before
//! any other kind of item is drawn there. New strokes on top go the same
//! way, so a stroke's pixels do not depend on how it came to be painted.

use wasm_bindgen::{Clamped, JsCast, JsValue};
use web_sys::{CanvasRenderingContext2d, HtmlCanvasElement, ImageData};

use super::images::Images;
use super::render::{self, context_2d};
use crate::coverage::{Coverage, PixelRect};
use crate::geometry::Rect;
use crate::protocol::{Stroke, StrokeKind};
use crate::raster::{Pixels, Placement, Rasteriser};
use crate::replica::SceneUpdate;
use crate::scene::{Damage, Layer, Order, Scene};
use crate::sorting;
use crate::view::View;

/// Canvas size in CSS pixels and the device pixel ratio.
pub type Size = (f64, f64, f64);

/// Most device pixels the bitmap has on a side (its memory is 4 bytes a pixel).
const MAX_BITMAP_SIDE: i32 = 4096;
/// How long each frame may spend painting what is not in sight (the
/// canvas's rasterisation included), unless the engine says to wait.
pub const PAINT_BUDGET_MS: f64 = 8.0;
/// How long each frame may spend painting what is pending in sight.
const IN_SIGHT_BUDGET_MS: f64 = 30.0;
/// Regions still to paint are tiles of at most this many device pixels a
/// side: resuming one looks up only its items, and the stroke that reaches
/// over a tile's edge is painted once per tile it crosses.
const TILE: i32 = 256;
/// Items painted between two looks at the clock, in the margin (small
/// budgets)...
const ITEMS_PER_CLOCK_CHECK: usize = 8;
/// ...and in sight (each look makes the canvas rasterise what it recorded,
/// which costs more the more often it happens).
const ITEMS_PER_CLOCK_CHECK_IN_SIGHT: usize = 256;

/// Where the bitmap is: its zoom and size, and the world point at its
/// top-left pixel, chosen so that the view's corner falls on a whole pixel.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Frame {
    zoom: f64,
    size: Size,
    anchor: (f64, f64),
    /// The bitmap's size in device pixels.
    pixels: (i32, i32),
}

impl Frame {
    /// Device pixels per world unit.
    fn scale(&self) -> f64 {
        self.zoom * self.size.2
    }

    /// Where the rasteriser puts board units.
    fn placement(&self) -> Placement {
        Placement {
            scale: self.scale(),
            anchor: self.anchor,
        }
    }

    fn bitmap(&self) -> PixelRect {
        PixelRect::new(0, 0, self.pixels.0, self.pixels.1)
    }

    /// The view's rectangle in bitmap pixels, if its corner is on a whole
    /// pixel (otherwise the bitmap cannot be shown as it is).
    fn visible(&self, view: &View, size: Size) -> Option<PixelRect> {
        if view.zoom != self.zoom || size != self.size {
            return None;
        }
        let scale = self.scale();
        let x = (view.origin.0 - self.anchor.0) * scale;
        let y = (view.origin.1 - self.anchor.1) * scale;
        let (whole_x, whole_y) = (x.round(), y.round());
        if (x - whole_x).abs() > 1e-3 || (y - whole_y).abs() > 1e-3 {
            return None;
        }
        let (w, h) = device_size(size);
        let (x, y) = (whole_x as i32, whole_y as i32);
        Some(PixelRect::new(x, y, x + w, y + h))
    }

    /// A world rectangle as the bitmap pixels it reaches into (whole
    /// pixels around it, one to spare for antialiasing).
    fn pixels_of(&self, area: &Rect) -> PixelRect {
        let scale = self.scale();
        let x = |v: f32| (f64::from(v) - self.anchor.0) * scale;
        let y = |v: f32| (f64::from(v) - self.anchor.1) * scale;
        let clamp = |v: f64| v.clamp(-1e9, 1e9) as i32;
        PixelRect::new(
            clamp((x(area.min_x) - 1.0).floor()),
            clamp((y(area.min_y) - 1.0).floor()),
            clamp((x(area.max_x) + 1.0).ceil()),
            clamp((y(area.max_y) + 1.0).ceil()),
        )
    }

    /// The world rectangle of bitmap pixels.
    fn world_of(&self, pixels: &PixelRect) -> Rect {
        let scale = self.scale();
        let x = |v: i32| (self.anchor.0 + f64::from(v) / scale) as f32;
        let y = |v: i32| (self.anchor.1 + f64::from(v) / scale) as f32;
        Rect::from_corners((x(pixels.x0), y(pixels.y0)), (x(pixels.x1), y(pixels.y1)))
    }
}

/// The canvas size in whole device pixels.
fn device_size(size: Size) -> (i32, i32) {
    let (width, height, dpr) = size;
    ((width * dpr).round() as i32, (height * dpr).round() as i32)
}

pub struct BoardLayer {
    canvas: HtmlCanvasElement,
    ctx: CanvasRenderingContext2d,
    /// Where the bitmap is (`None`: never painted, or invalid).
    frame: Option<Frame>,
    /// The view's rectangle in the bitmap at the last paint.
    visible: PixelRect,
    /// What of the bitmap is still to paint.
    coverage: Coverage<Order>,
    /// What changed since the last paint.
    damage: Vec<Damage>,
    /// Measures painting the whole view, from its first frame to its last.
    view_span: Option<super::timing::Span>,
    /// The items of the region whose painting stopped part-way.
    plan: Option<Plan>,
    /// Paints freehand strokes into copies of the bitmap's pixels.
    rasteriser: Rasteriser,
    /// The pixels of the region whose painting stopped part-way, as they
    /// were written back: resuming it needs no read of the canvas (a
    /// view's worth of pixels, each time it resumes).
    held: Option<BitmapCopy>,
    /// The images image items show.
    images: Images,
}

/// A region's items in drawing order, and how far painting them got.
struct Plan {
    region: PixelRect,
    items: Vec<(crate::protocol::StrokeId, Order)>,
    /// The first item not painted yet.
    next: usize,
    /// The drawing order of the last item painted.
    painted_to: Option<Order>,
}

impl Plan {
    /// Adds an item that reaches into the region, if painting it is still
    /// to come, in its place in drawing order.
    fn include(&mut self, scene: &Scene, frame: &Frame, id: &crate::protocol::StrokeId) {
        let (Some(bounds), Some(order)) = (scene.bounds(id), scene.order(id)) else {
            return;
        };
        let reaches = frame
            .pixels_of(&bounds)
            .intersection(&self.region)
            .is_some();
        let to_come = self.painted_to.is_none_or(|painted| order > painted);
        if reaches && to_come && !self.items[self.next..].iter().any(|(known, _)| known == id) {
            let at = self
                .items
                .partition_point(|(_, o)| *o < order)
                .max(self.next);
            self.items.insert(at, (id.clone(), order));
        }
    }
}

impl BoardLayer {
    pub fn new(images: Images) -> Result<Self, JsValue> {
        let document = web_sys::window()
            .and_then(|w| w.document())
            .ok_or_else(|| JsValue::from_str("no document"))?;
        let canvas: HtmlCanvasElement = document.create_element("canvas")?.dyn_into()?;
        let ctx = context_2d(&canvas)?;
        Ok(Self {
            canvas,
            ctx,
            frame: None,
            visible: PixelRect::new(0, 0, 0, 0),
            coverage: Coverage::default(),
            damage: Vec::new(),
            view_span: None,
            plan: None,
            rasteriser: Rasteriser::default(),
            held: None,
            images,
        })
    }

    /// What the replica's scene update leaves to repaint.
    pub fn accept(&mut self, update: SceneUpdate) {
        match update {
            SceneUpdate::Unchanged => {}
            SceneUpdate::Rebuilt => {
                self.frame = None;
                self.damage.clear();
            }
            SceneUpdate::Damaged(damage) => self.damage.extend(damage),
        }
    }

    /// The board area the bitmap holds (the view and its margins), once
    /// placed: what its painting may draw.
    pub fn area(&self) -> Option<Rect> {
        self.frame.map(|frame| frame.world_of(&frame.bitmap()))
    }

    /// Whether the view is painted (placed, and nothing in sight pending).
    pub fn view_painted(&self) -> bool {
        self.frame.is_some() && !self.in_sight_pending()
    }

    /// Whether part of the bitmap is still to paint (frames should keep
    /// coming until it is).
    pub fn has_work(&self) -> bool {
        !self.coverage.is_complete()
    }

    /// Brings the bitmap up to date where it is in sight, then paints
    /// what else is pending for at most `budget_ms`. Whether what is in
    /// sight changed (the visible canvas must be drawn again).
    pub fn paint(
        &mut self,
        layer: &Layer<'_, '_>,
        scene: &Scene,
        view: &View,
        size: Size,
        budget_ms: f64,
    ) -> bool {
        let before = (self.frame, self.visible);
        let frame = self.place(view, size);
        let moved = before != (Some(frame), self.visible);
        if moved || !self.damage.is_empty() {
            // The bitmap changes besides the region being painted, so the
            // copy no longer mirrors it. (A region that starts over is
            // never resumed from a copy either; without both checks, the
            // Playwright test of a view painted over several frames finds
            // stale pixels.)
            self.held = None;
        }
        let bitmap = frame.bitmap();
        let mut above = Vec::new();
        for damage in std::mem::take(&mut self.damage) {
            match damage {
                Damage::Area(area) => {
                    self.coverage.invalidate(&frame.pixels_of(&area), &bitmap);
                }
                Damage::Above(id) => {
                    // New on top: the region half painted gets it when its
                    // painting gets there.
                    if let Some(plan) = self.plan.as_mut() {
                        plan.include(scene, &frame, &id);
                    }
                    above.push(id);
                }
            }
        }
        // After the areas: a new item on top is painted over what is
        // painted; pending regions get it when they are painted.
        let above_in_sight = self.paint_above(layer, scene, &frame, &above);
        let in_sight = self.paint_in_sight(layer, scene, &frame);
        if budget_ms > 0.0 && !self.in_sight_pending() {
            self.paint_regions(layer, scene, &frame, budget_ms, ITEMS_PER_CLOCK_CHECK, None);
        }
        moved || above_in_sight || in_sight
    }

    /// Paints what is pending in sight, for at most [`IN_SIGHT_BUDGET_MS`];
    /// whether it painted anything.
    fn paint_in_sight(&mut self, layer: &Layer<'_, '_>, scene: &Scene, frame: &Frame) -> bool {
        if !self.coverage.sight_first(&self.visible) {
            return false;
        }
        if self.coverage.next() == Some((self.visible, None)) {
            self.view_span = Some(super::timing::span("paint-view"));
        }
        let visible = self.visible;
        self.paint_regions(
            layer,
            scene,
            frame,
            IN_SIGHT_BUDGET_MS,
            ITEMS_PER_CLOCK_CHECK_IN_SIGHT,
            Some(&visible),
        );
        if !self.in_sight_pending() {
            self.view_span = None;
        }
        true
    }

    /// Whether part of what is in sight is still to paint (it comes first).
    pub fn in_sight_pending(&self) -> bool {
        self.coverage
            .next()
            .is_some_and(|(region, _)| region.intersection(&self.visible).is_some())
    }

    /// Where the bitmap is for this view: as it was, moved along (a pan
    /// past the margin), or placed afresh around the view with nothing
    /// painted (a zoom, a resize, a pan by a fraction of a pixel).
    fn place(&mut self, view: &View, size: Size) -> Frame {
        if let Some(frame) = self.frame {
            if let Some(visible) = frame.visible(view, size) {
                let bitmap = frame.bitmap();
                if visible.intersection(&bitmap) == Some(visible) {
                    self.visible = visible;
                    return frame;
                }
                // Past the margin: move the content so that the view is in
                // the middle again; what comes in is pending.
                let (margin_x, margin_y) = margins(size);
                let (dx, dy) = (margin_x - visible.x0, margin_y - visible.y0);
                let ctx = &self.ctx;
                ctx.save();
                let _ = ctx.set_transform(1.0, 0.0, 0.0, 1.0, 0.0, 0.0);
                let _ = ctx.set_global_composite_operation("copy");
                let _ = ctx.draw_image_with_html_canvas_element(
                    &self.canvas,
                    f64::from(dx),
                    f64::from(dy),
                );
                ctx.restore();
                self.coverage.shifted(dx, dy, &bitmap);
                let scale = frame.scale();
                let moved = Frame {
                    anchor: (
                        frame.anchor.0 - f64::from(dx) / scale,
                        frame.anchor.1 - f64::from(dy) / scale,
                    ),
                    ..frame
                };
                self.frame = Some(moved);
                self.visible = visible.shifted(dx, dy);
                return moved;
            }
        }
        let (width, height) = device_size(size);
        let (margin_x, margin_y) = margins(size);
        let pixels = (width + 2 * margin_x, height + 2 * margin_y);
        if self.canvas.width() != pixels.0 as u32 || self.canvas.height() != pixels.1 as u32 {
            self.canvas.set_width(pixels.0 as u32);
            self.canvas.set_height(pixels.1 as u32);
        }
        let scale = view.zoom * size.2;
        let frame = Frame {
            zoom: view.zoom,
            size,
            anchor: (
                view.origin.0 - f64::from(margin_x) / scale,
                view.origin.1 - f64::from(margin_y) / scale,
            ),
            pixels,
        };
        self.frame = Some(frame);
        self.visible = PixelRect::new(margin_x, margin_y, margin_x + width, margin_y + height);
        let centre = (margin_x + width / 2, margin_y + height / 2);
        self.coverage = Coverage::unpainted(frame.bitmap(), TILE, centre);
        self.damage.clear();
        frame
    }

    /// Paints new items on top over the painted part of the bitmap;
    /// whether any reaches into the view.
    fn paint_above(
        &mut self,
        layer: &Layer<'_, '_>,
        scene: &Scene,
        frame: &Frame,
        ids: &[crate::protocol::StrokeId],
    ) -> bool {
        let bitmap = frame.bitmap();
        let mut above: Vec<(&Stroke, PixelRect, Order)> = ids
            .iter()
            .filter_map(|id| {
                let pixels = frame.pixels_of(&scene.bounds(id)?);
                Some((layer.get(id)?, pixels, scene.order(id)?))
            })
            .filter(|(_, pixels, _)| pixels.intersection(&bitmap).is_some())
            .collect();
        if above.is_empty() {
            return false;
        }
        let in_sight = above
            .iter()
            .any(|(_, pixels, _)| pixels.intersection(&self.visible).is_some());
        sorting::sort_by_key(&mut above, |(_, _, order)| order.key());
        // Painted so far: the bitmap without the pending regions, except
        // that the region being painted has every item up to its progress.
        // An item drawn before that progress goes there too (nothing drawn
        // later reaches into it: it is on top); one drawn after is painted
        // when the region's painting gets to it.
        let progress = self.coverage.progress();
        let (before, after): (Vec<_>, Vec<_>) = above
            .into_iter()
            .partition(|(_, _, order)| progress.is_some_and(|p| *order < p));
        for (group, with_next) in [(before, true), (after, false)] {
            let painted = self.coverage.painted(bitmap, with_next);
            for (stroke, pixels, _) in group {
                if stroke.kind == StrokeKind::Freehand {
                    for part in painted.iter().filter_map(|p| p.intersection(&pixels)) {
                        if let Some(mut copy) = BitmapCopy::read(&self.ctx, part) {
                            copy.paint(&mut self.rasteriser, frame, stroke);
                            copy.write(&self.ctx);
                        }
                    }
                } else if !painted.is_empty() {
                    let ctx = &self.ctx;
                    ctx.save();
                    clip_to(ctx, &painted);
                    set_bitmap_transform(ctx, frame);
                    render::draw_item(ctx, stroke, 1.0, frame.scale(), &self.images);
                    ctx.restore();
                }
            }
        }
        in_sight
    }

    /// Paints pending regions, nearest first, until `budget_ms` is spent
    /// (or, given `within`, until the next region is not in it), looking at
    /// the clock every `stride` items; a region not finished is resumed by
    /// the next call.
    fn paint_regions(
        &mut self,
        layer: &Layer<'_, '_>,
        scene: &Scene,
        frame: &Frame,
        budget_ms: f64,
        stride: usize,
        within: Option<&PixelRect>,
    ) {
        let Some(clock) = web_sys::window().and_then(|w| w.performance()) else {
            return;
        };
        let deadline = clock.now() + budget_ms;
        while let Some((region, progress)) = self.coverage.next() {
            if clock.now() >= deadline || within.is_some_and(|w| region.intersection(w).is_none()) {
                return;
            }
            let until = Some((&clock, deadline, stride));
            match self.paint_region(layer, scene, frame, &region, progress, until) {
                Some(stopped_at) => {
                    self.coverage.advanced(stopped_at);
                    return;
                }
                None => self.coverage.finished_next(),
            }
        }
    }

    /// Paints `region` of the bitmap: clears it unless its painting
    /// resumes after `progress`, then paints every item reaching into it
    /// in drawing order, clipped to it. Given `until` (the page's clock and
    /// a deadline on it, milliseconds) it may stop early and return the
    /// drawing order it got to; `None` when the region is done.
    fn paint_region(
        &mut self,
        layer: &Layer<'_, '_>,
        scene: &Scene,
        frame: &Frame,
        region: &PixelRect,
        progress: Option<Order>,
        until: Option<(&web_sys::Performance, f64, usize)>,
    ) -> Option<Order> {
        let ctx = self.ctx.clone();
        ctx.save();
        clip_to(&ctx, std::slice::from_ref(region));
        if progress.is_none() {
            let (w, h) = region.size();
            ctx.clear_rect(
                f64::from(region.x0),
                f64::from(region.y0),
                f64::from(w),
                f64::from(h),
            );
        }
        set_bitmap_transform(&ctx, frame);
        // The region's items are looked up when its painting starts and
        // kept while it spans frames: looking up a whole view of 100,000
        // items again every frame took longer than painting them.
        let resumes = self.plan.as_ref().is_some_and(|plan| {
            progress.is_some() && plan.region == *region && plan.painted_to == progress
        });
        if !resumes {
            self.plan = Some(Plan {
                region: *region,
                items: scene
                    .in_area_after(&frame.world_of(region), progress)
                    .into_iter()
                    .map(|(id, order)| (id.clone(), order))
                    .collect(),
                next: 0,
                painted_to: progress,
            });
        }
        let held = self
            .held
            .take()
            .filter(|held| resumes && held.rect == *region);
        let Some(plan) = self.plan.as_mut() else {
            ctx.restore();
            return None;
        };
        // Freehand strokes are rasterised into a copy of the region, taken
        // when a run of them starts (no need to read pixels just cleared,
        // or kept from where painting stopped) and written back when
        // something else is drawn or painting stops; other items are drawn
        // by the canvas.
        let mut copy: Option<BitmapCopy> = held;
        let mut cleared = progress.is_none();
        let mut recorded = false;
        let mut stopped = None;
        for (index, (id, order)) in plan.items.iter().enumerate().skip(plan.next) {
            if let Some((clock, deadline, stride)) = until {
                if index > plan.next && (index - plan.next) % stride == 0 {
                    if recorded {
                        // The canvas records drawing and rasterises it
                        // later, all at once; make it do so now, so the
                        // clock sees the cost.
                        let _ = ctx.get_image_data(0.0, 0.0, 1.0, 1.0);
                        recorded = false;
                    }
                    if clock.now() >= deadline {
                        stopped = Some(index);
                        break;
                    }
                }
            }
            plan.painted_to = Some(*order);
            let Some(stroke) = layer.get(id) else {
                continue;
            };
            if stroke.kind == StrokeKind::Freehand {
                if copy.is_none() {
                    copy = if cleared {
                        Some(BitmapCopy::cleared(*region))
                    } else {
                        BitmapCopy::read(&ctx, *region)
                    };
                }
                if let Some(copy) = copy.as_mut() {
                    copy.paint(&mut self.rasteriser, frame, stroke);
                    continue;
                }
            }
            if let Some(copy) = copy.take() {
                copy.write(&ctx);
            }
            render::draw_item(&ctx, stroke, 1.0, frame.scale(), &self.images);
            (cleared, recorded) = (false, true);
        }
        if let Some(copy) = copy {
            copy.write(&ctx);
            if stopped.is_some() {
                self.held = Some(copy);
            }
        }
        ctx.restore();
        match stopped {
            Some(index) => {
                plan.next = index;
                plan.painted_to
            }
            None => {
                self.plan = None;
                None
            }
        }
    }

    /// Copies the part of the bitmap in sight onto `ctx` (the visible board
    /// canvas), pixel for pixel.
    pub fn draw_onto(&self, ctx: &CanvasRenderingContext2d) {
        let visible = &self.visible;
        let (w, h) = visible.size();
        let (w, h) = (f64::from(w), f64::from(h));
        if w <= 0.0 || h <= 0.0 {
            return;
        }
        ctx.save();
        let _ = ctx.set_transform(1.0, 0.0, 0.0, 1.0, 0.0, 0.0);
        ctx.set_global_alpha(1.0);
        let _ = ctx.draw_image_with_html_canvas_element_and_sw_and_sh_and_dx_and_dy_and_dw_and_dh(
            &self.canvas,
            f64::from(visible.x0),
            f64::from(visible.y0),
            w,
            h,
            0.0,
            0.0,
            w,
            h,
        );
        ctx.restore();
    }
}

/// A rectangle of the bitmap copied into WebAssembly memory, where the
/// rasteriser paints freehand strokes (`crate::raster`: a software canvas
/// spends most of a stroke's time in its stroker).
struct BitmapCopy {
    rect: PixelRect,
    data: Vec<u8>,
}

impl BitmapCopy {
    /// A rectangle just cleared: no need to read it.
    fn cleared(rect: PixelRect) -> Self {
        let (w, h) = rect.size();
        Self {
            rect,
            data: vec![0; (w.max(0) * h.max(0) * 4) as usize],
        }
    }

    /// The bitmap's pixels in `rect` (the canvas rasterises what it
    /// recorded first).
    fn read(ctx: &CanvasRenderingContext2d, rect: PixelRect) -> Option<Self> {
        let (w, h) = rect.size();
        let image = ctx
            .get_image_data(
                f64::from(rect.x0),
                f64::from(rect.y0),
                f64::from(w),
                f64::from(h),
            )
            .ok()?;
        Some(Self {
            rect,
            data: image.data().0,
        })
    }

    fn paint(&mut self, rasteriser: &mut Rasteriser, frame: &Frame, stroke: &Stroke) {
        let mut pixels = Pixels {
            data: &mut self.data,
            origin: (self.rect.x0, self.rect.y0),
            size: self.rect.size(),
        };
        rasteriser.paint(
            &mut pixels,
            &frame.placement(),
            stroke,
            1.0,
            render::MIN_STEP_PX,
        );
    }

    /// Puts the pixels back where they were read (the canvas's transform
    /// and clip do not apply).
    fn write(&self, ctx: &CanvasRenderingContext2d) {
        let (w, _) = self.rect.size();
        if let Ok(image) =
            ImageData::new_with_u8_clamped_array(Clamped(self.data.as_slice()), w as u32)
        {
            let _ = ctx.put_image_data(&image, f64::from(self.rect.x0), f64::from(self.rect.y0));
        }
    }
}

/// The margin around the view, in device pixels on each side: half the
/// view, less where the bitmap would exceed its largest side.
fn margins(size: Size) -> (i32, i32) {
    let (width, height) = device_size(size);
    let margin = |side: i32| (side / 2).min((MAX_BITMAP_SIDE - side) / 2).max(0);
    (margin(width), margin(height))
}

/// Clips `ctx` to `regions` of bitmap pixels and leaves it drawing in
/// pixels (callers `save` and `restore` around it).
fn clip_to(ctx: &CanvasRenderingContext2d, regions: &[PixelRect]) {
    let _ = ctx.set_transform(1.0, 0.0, 0.0, 1.0, 0.0, 0.0);
    ctx.begin_path();
    for region in regions {
        let (w, h) = region.size();
        ctx.rect(
            f64::from(region.x0),
            f64::from(region.y0),
            f64::from(w),
            f64::from(h),
        );
    }
    ctx.clip();
}

/// World coordinates to bitmap pixels.
fn set_bitmap_transform(ctx: &CanvasRenderingContext2d, frame: &Frame) {
    set_world_transform(ctx, frame.scale(), frame.anchor);
}

/// World coordinates to canvas pixels; the device pixels a world unit
/// takes (the scale items are drawn at).
pub fn set_view_transform(ctx: &CanvasRenderingContext2d, view: &View, size: Size) -> f64 {
    let scale = size.2 * view.zoom;
    set_world_transform(ctx, scale, view.origin);
    scale
}

/// `scale` device pixels per world unit, world point `origin` at (0, 0).
fn set_world_transform(ctx: &CanvasRenderingContext2d, scale: f64, origin: (f64, f64)) {
    let _ = ctx.set_transform(scale, 0.0, 0.0, scale, -origin.0 * scale, -origin.1 * scale);
}
