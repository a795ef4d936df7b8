//! The board layer's bitmap: the board as the server confirmed it, painted
//! once into an offscreen canvas and repainted only where something changed
//! (see `crate::scene` for what it holds and why).
//!
//! The replica keeps the scene and, every frame, works out the damage from
//! the ids operations changed and those something live stands in for
//! (`Replica::sync_scene`); this file paints it: a new item on top is
//! painted over the bitmap, anything else clears and repaints its rectangle. A pan moves the
//! bitmap and paints the strips that came into view; a zoom or resize
//! repaints what is in sight, culled through the scene's R-tree.
//! Each frame the engine copies the bitmap onto the visible canvas and
//! paints the live strokes over it.

use wasm_bindgen::{JsCast, JsValue};
use web_sys::{CanvasRenderingContext2d, HtmlCanvasElement};

use super::render::{self, context_2d};
use crate::geometry::Rect;
use crate::replica::SceneUpdate;
use crate::scene::{Damage, Layer, Scene};
use crate::view::View;

/// More damaged rectangles than this in one frame are repainted as their union.
const MAX_SEPARATE_REPAINTS: usize = 16;

/// Canvas size in CSS pixels and the device pixel ratio.
pub type Size = (f64, f64, f64);

pub struct BoardLayer {
    canvas: HtmlCanvasElement,
    ctx: CanvasRenderingContext2d,
    /// The view and size the bitmap was painted for (`None`: never / invalid).
    painted_for: Option<(View, Size)>,
    /// What changed since the last paint.
    damage: Vec<Damage>,
}

impl BoardLayer {
    pub fn new() -> Result<Self, JsValue> {
        let document = web_sys::window()
            .and_then(|w| w.document())
            .ok_or_else(|| JsValue::from_str("no document"))?;
        let canvas: HtmlCanvasElement = document.create_element("canvas")?.dyn_into()?;
        let ctx = context_2d(&canvas)?;
        Ok(Self {
            canvas,
            ctx,
            painted_for: None,
            damage: Vec::new(),
        })
    }

    /// What the replica's scene update leaves to repaint.
    pub fn accept(&mut self, update: SceneUpdate) {
        match update {
            SceneUpdate::Unchanged => {}
            SceneUpdate::Rebuilt => {
                self.painted_for = None;
                self.damage.clear();
            }
            SceneUpdate::Damaged(damage) => self.damage.extend(damage),
        }
    }

    /// Repaints the bitmap where it changed since the last paint, or all of
    /// what is in sight when the view or the size changed.
    pub fn paint(&mut self, layer: &Layer<'_, '_>, scene: &Scene, view: &View, size: Size) {
        let (width, height, dpr) = size;
        let (pixels_w, pixels_h) = ((width * dpr).round() as u32, (height * dpr).round() as u32);
        if self.canvas.width() != pixels_w || self.canvas.height() != pixels_h {
            self.canvas.set_width(pixels_w);
            self.canvas.set_height(pixels_h);
            self.painted_for = None;
        }
        let visible = view.visible((width, height));
        let damage = std::mem::take(&mut self.damage);
        // Where items were painted again in this call: a new item on top is
        // painted over the bitmap only outside these, or it would be doubled.
        let mut repainted = Vec::new();
        if self.painted_for != Some((*view, size)) {
            let strips = self
                .painted_for
                .and_then(|(before, at)| self.shift(layer, scene, &before, view, size, at));
            self.painted_for = Some((*view, size));
            match strips {
                // Damage from before the move is still to repaint below.
                Some(strips) => repainted = strips,
                None => {
                    let _span = super::timing::span("paint-view");
                    self.repaint(layer, scene, view, size, &visible, true);
                    return;
                }
            }
        }
        let mut areas = Vec::new();
        let mut above = Vec::new();
        for damage in damage {
            match damage {
                Damage::Area(area) if area.intersects(&visible) => areas.push(area),
                Damage::Above(id) => above.push(id),
                Damage::Area(_) => {}
            }
        }
        let mut areas = merged(areas);
        if areas.len() > MAX_SEPARATE_REPAINTS {
            areas = areas
                .into_iter()
                .reduce(|a, b| a.union(&b))
                .into_iter()
                .collect();
        }
        for area in &areas {
            repainted.push(self.repaint(layer, scene, view, size, area, false));
        }
        let mut over: Vec<(&crate::protocol::Stroke, Rect)> = above
            .iter()
            .filter_map(|id| Some((layer.get(id)?, scene.bounds(id)?)))
            .filter(|(_, bounds)| bounds.intersects(&visible))
            .collect();
        // A new item reaching into a repainted area was drawn there by the
        // repaint, but not beyond it: its whole bounds are repainted too
        // (painting it over the bitmap would double it where it was drawn,
        // and skipping it would leave the rest missing). Those repaints can
        // reach further new items; repeat until none does.
        loop {
            let (reaching, rest): (Vec<_>, Vec<_>) = over
                .into_iter()
                .partition(|(_, bounds)| repainted.iter().any(|area| area.intersects(bounds)));
            over = rest;
            if reaching.is_empty() {
                break;
            }
            for (_, bounds) in reaching {
                repainted.push(self.repaint(layer, scene, view, size, &bounds, false));
            }
        }
        let mut over: Vec<&crate::protocol::Stroke> =
            over.into_iter().map(|(stroke, _)| stroke).collect();
        if !over.is_empty() {
            self.ctx.save();
            set_view_transform(&self.ctx, view, size);
            over.sort_by(|a, b| a.z.total_cmp(&b.z));
            for stroke in over {
                render::draw_item(&self.ctx, stroke, 1.0);
            }
            self.ctx.restore();
        }
    }

    /// A pan: moves the bitmap by whole device pixels and repaints only the
    /// strips that came into view; returns the areas repainted. `None`
    /// (nothing done) when the zoom or size changed or the move is not a
    /// whole number of pixels.
    fn shift(
        &self,
        layer: &Layer<'_, '_>,
        scene: &Scene,
        before: &View,
        view: &View,
        size: Size,
        at: Size,
    ) -> Option<Vec<Rect>> {
        let (width, height, dpr) = size;
        if at != size || before.zoom != view.zoom {
            return None;
        }
        let scale = view.zoom * dpr;
        let dx = (before.origin.0 - view.origin.0) * scale;
        let dy = (before.origin.1 - view.origin.1) * scale;
        let (whole_x, whole_y) = (dx.round(), dy.round());
        let exact = (dx - whole_x).abs() < 1e-3 && (dy - whole_y).abs() < 1e-3;
        if !exact || whole_x.abs() >= width * dpr || whole_y.abs() >= height * dpr {
            return None;
        }
        let ctx = &self.ctx;
        ctx.save();
        let _ = ctx.set_transform(1.0, 0.0, 0.0, 1.0, 0.0, 0.0);
        ctx.set_global_composite_operation("copy").ok();
        let _ = ctx.draw_image_with_html_canvas_element(&self.canvas, whole_x, whole_y);
        ctx.restore();
        // The strips that came into view, in world coordinates.
        let visible = view.visible((width, height));
        let (shift_x, shift_y) = ((whole_x / scale) as f32, (whole_y / scale) as f32);
        let mut strips = Vec::new();
        if shift_x > 0.0 {
            strips.push(Rect {
                max_x: visible.min_x + shift_x,
                ..visible
            });
        } else if shift_x < 0.0 {
            strips.push(Rect {
                min_x: visible.max_x + shift_x,
                ..visible
            });
        }
        if shift_y > 0.0 {
            strips.push(Rect {
                max_y: visible.min_y + shift_y,
                ..visible
            });
        } else if shift_y < 0.0 {
            strips.push(Rect {
                min_y: visible.max_y + shift_y,
                ..visible
            });
        }
        Some(
            strips
                .iter()
                .map(|strip| self.repaint(layer, scene, view, size, strip, false))
                .collect(),
        )
    }

    /// Clears `area` (world coordinates) of the bitmap and paints every item
    /// reaching into it, bottom first; returns the area actually repainted
    /// (widened to whole device pixels). `whole`: the area is the whole view.
    fn repaint(
        &self,
        layer: &Layer<'_, '_>,
        scene: &Scene,
        view: &View,
        size: Size,
        area: &Rect,
        whole: bool,
    ) -> Rect {
        let ctx = &self.ctx;
        let (width, height, dpr) = size;
        ctx.save();
        let _ = ctx.set_transform(dpr, 0.0, 0.0, dpr, 0.0, 0.0);
        let area = if whole {
            ctx.clear_rect(0.0, 0.0, width, height);
            *area
        } else {
            // Whole device pixels around the area, one to spare for
            // antialiasing; every item reaching into them is painted again,
            // so they end up exactly as a full repaint would leave them.
            let a = view.to_screen((f64::from(area.min_x), f64::from(area.min_y)));
            let b = view.to_screen((f64::from(area.max_x), f64::from(area.max_y)));
            let (x0, y0) = (
                (a.0 * dpr - 1.0).floor() / dpr,
                (a.1 * dpr - 1.0).floor() / dpr,
            );
            let (x1, y1) = (
                (b.0 * dpr + 1.0).ceil() / dpr,
                (b.1 * dpr + 1.0).ceil() / dpr,
            );
            ctx.begin_path();
            ctx.rect(x0, y0, x1 - x0, y1 - y0);
            ctx.clip();
            ctx.clear_rect(x0, y0, x1 - x0, y1 - y0);
            let (w0, w1) = (view.to_world((x0, y0)), view.to_world((x1, y1)));
            Rect::from_corners((w0.0 as f32, w0.1 as f32), (w1.0 as f32, w1.1 as f32))
        };
        set_view_transform(ctx, view, size);
        for id in scene.in_area(&area) {
            if let Some(stroke) = layer.get(id) {
                render::draw_item(ctx, stroke, 1.0);
            }
        }
        ctx.restore();
        area
    }

    /// Copies the bitmap onto `ctx` (the visible board canvas), pixel for pixel.
    pub fn draw_onto(&self, ctx: &CanvasRenderingContext2d) {
        ctx.save();
        let _ = ctx.set_transform(1.0, 0.0, 0.0, 1.0, 0.0, 0.0);
        ctx.set_global_alpha(1.0);
        let _ = ctx.draw_image_with_html_canvas_element(&self.canvas, 0.0, 0.0);
        ctx.restore();
    }
}

/// World coordinates to canvas pixels.
pub fn set_view_transform(ctx: &CanvasRenderingContext2d, view: &View, size: Size) {
    let scale = size.2 * view.zoom;
    let _ = ctx.set_transform(
        scale,
        0.0,
        0.0,
        scale,
        -view.origin.0 * scale,
        -view.origin.1 * scale,
    );
}

/// Overlapping rectangles joined, so that no pixel is repainted twice.
fn merged(mut areas: Vec<Rect>) -> Vec<Rect> {
    let mut joined = true;
    while joined {
        joined = false;
        let mut out: Vec<Rect> = Vec::with_capacity(areas.len());
        for area in areas {
            if let Some(existing) = out.iter_mut().find(|o| o.intersects(&area)) {
                *existing = existing.union(&area);
                joined = true;
            } else {
                out.push(area);
            }
        }
        areas = out;
    }
    areas
}
