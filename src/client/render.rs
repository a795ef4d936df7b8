//! Drawing board items and overlays on a 2D canvas.
//!
//! Items are drawn in world coordinates (the caller sets the view
//! transform); overlays (selection box, handles, marquee, other people's
//! cursors) in screen coordinates, so they keep their size at any zoom.
//!
//! Freehand strokes are smoothed with quadratic Bézier curves through the midpoints of
//! consecutive samples, which removes the polygonal look of raw pointer input
//! without lagging behind the pen. Strokes with uniform pressure (mice) are
//! one path, so joins are seamless; strokes with varying pressure (pens) are
//! drawn piece by piece, each piece as wide as the pressure at its sample.
//! Zoomed out, samples closer than [`MIN_STEP_PX`] on screen are skipped
//! (`geometry::thinned`): the canvas's cost is per curve, not per pixel.

use std::f64::consts::TAU;

use wasm_bindgen::{JsCast, JsValue};
use web_sys::{CanvasRenderingContext2d, HtmlCanvasElement};

use super::images::Images;
use crate::decimal::Decimal;
use crate::exchange::TEXT_FONT;
use crate::geometry::{self, pressure_width, Rect, TEXT_LINE_HEIGHT};
use crate::protocol::{Point, Stroke, StrokeKind, StrokeStyle};

/// What makes an image look as it is on a canvas the dark theme shows
/// inverted (the style sheet's `invert(93%) hue-rotate(180deg)`).
const INVERTED: &str = "invert(100%) hue-rotate(180deg)";
/// Selection and marquee colour.
const ACCENT: &str = "#6965db";
/// Side of a resize handle, in screen pixels.
pub const HANDLE_SIZE: f64 = 9.0;
/// Level of detail: a freehand stroke's samples closer than this many
/// device pixels to the last one drawn are skipped.
pub const MIN_STEP_PX: f64 = 2.0;

/// The canvas' 2D context.
pub fn context_2d(canvas: &HtmlCanvasElement) -> Result<CanvasRenderingContext2d, JsValue> {
    canvas
        .get_context("2d")?
        .ok_or_else(|| JsValue::from_str("no 2d context"))?
        .dyn_into::<CanvasRenderingContext2d>()
        .map_err(JsValue::from)
}

/// Draws any item; `alpha` multiplies the item's own opacity, `scale` is
/// the device pixels a board unit takes (the level of detail). An image
/// item whose image is not loaded yet (`images`) is drawn as a grey box.
pub fn draw_item(
    ctx: &CanvasRenderingContext2d,
    stroke: &Stroke,
    alpha: f64,
    scale: f64,
    images: &Images,
) {
    let alpha = alpha * f64::from(stroke.opacity);
    if stroke.kind == StrokeKind::Freehand {
        draw_stroke(ctx, &stroke.style, &stroke.points, alpha, scale);
        return;
    }
    let Some(shape) = geometry::shape_box(stroke) else {
        return;
    };
    ctx.set_global_alpha(alpha);
    ctx.set_stroke_style_str(stroke.style.color.as_str());
    ctx.set_line_width(f64::from(stroke.style.width));
    ctx.set_line_cap("round");
    ctx.set_line_join("round");
    let (x0, y0) = (f64::from(shape.min_x), f64::from(shape.min_y));
    let (w, h) = (f64::from(shape.width()), f64::from(shape.height()));
    let image = stroke.image.as_ref().and_then(|id| images.loaded(id));
    match stroke.kind {
        StrokeKind::Image if image.is_some() => {
            if let Some(image) = image {
                if images.inverted() {
                    ctx.set_filter(INVERTED);
                }
                let _ = ctx.draw_image_with_image_bitmap_and_dw_and_dh(&image, x0, y0, w, h);
                ctx.set_filter("none");
            }
        }
        // Until its image is loaded, an image item is the grey box clients
        // older than protocol version 5 show.
        StrokeKind::Rectangle | StrokeKind::Ellipse | StrokeKind::Image => {
            ctx.begin_path();
            if stroke.kind != StrokeKind::Ellipse {
                ctx.rect(x0, y0, w, h);
            } else {
                let _ = ctx.ellipse(x0 + w / 2.0, y0 + h / 2.0, w / 2.0, h / 2.0, 0.0, 0.0, TAU);
            }
            if let Some(fill) = crate::exchange::fill_of(stroke) {
                ctx.set_fill_style_str(fill);
                ctx.fill();
            }
            ctx.stroke();
        }
        StrokeKind::Line | StrokeKind::Arrow => {
            let (a, b) = (stroke.points[0], stroke.points[stroke.points.len() - 1]);
            ctx.begin_path();
            ctx.move_to(f64::from(a.x), f64::from(a.y));
            ctx.line_to(f64::from(b.x), f64::from(b.y));
            if stroke.kind == StrokeKind::Arrow {
                for (x, y) in geometry::arrow_head((a.x, a.y), (b.x, b.y), stroke.style.width) {
                    ctx.move_to(f64::from(x), f64::from(y));
                    ctx.line_to(f64::from(b.x), f64::from(b.y));
                }
            }
            ctx.stroke();
        }
        StrokeKind::Text => {
            let size = f64::from(stroke.font_size.unwrap_or(16.0));
            ctx.set_fill_style_str(stroke.style.color.as_str());
            ctx.set_font(&format!("{}px {TEXT_FONT}", Decimal(size)));
            ctx.set_text_baseline("top");
            let line_height = size * f64::from(TEXT_LINE_HEIGHT);
            // Centre the glyphs in their line box, as the editor does.
            let inset = (line_height - size) / 2.0;
            for (i, line) in stroke.text.as_deref().unwrap_or("").split('\n').enumerate() {
                let _ = ctx.fill_text(line, x0, y0 + inset + i as f64 * line_height);
            }
        }
        StrokeKind::Freehand => {}
    }
}

/// The selection box with its resize handles, in screen coordinates.
pub fn draw_selection(ctx: &CanvasRenderingContext2d, screen: &Rect, handles: bool) {
    ctx.set_global_alpha(1.0);
    ctx.set_stroke_style_str(ACCENT);
    ctx.set_line_width(1.0);
    let pad = 4.0;
    ctx.stroke_rect(
        f64::from(screen.min_x) - pad,
        f64::from(screen.min_y) - pad,
        f64::from(screen.width()) + 2.0 * pad,
        f64::from(screen.height()) + 2.0 * pad,
    );
    if !handles {
        return;
    }
    ctx.set_fill_style_str("#ffffff");
    for handle in geometry::Handle::ALL {
        let (x, y) = handle.position(screen);
        let half = HANDLE_SIZE / 2.0;
        ctx.fill_rect(
            f64::from(x) - half,
            f64::from(y) - half,
            HANDLE_SIZE,
            HANDLE_SIZE,
        );
        ctx.stroke_rect(
            f64::from(x) - half,
            f64::from(y) - half,
            HANDLE_SIZE,
            HANDLE_SIZE,
        );
    }
}

/// The marquee being dragged, in screen coordinates.
pub fn draw_marquee(ctx: &CanvasRenderingContext2d, screen: &Rect) {
    ctx.set_global_alpha(1.0);
    ctx.set_fill_style_str("rgba(105, 101, 219, 0.08)");
    ctx.set_stroke_style_str(ACCENT);
    ctx.set_line_width(1.0);
    let (x, y, w, h) = (
        f64::from(screen.min_x),
        f64::from(screen.min_y),
        f64::from(screen.width()),
        f64::from(screen.height()),
    );
    ctx.fill_rect(x, y, w, h);
    ctx.stroke_rect(x, y, w, h);
}

/// Segments of a laser trail drawn as one path, at one opacity: joined
/// inside a path, a translucent line shows no beads where its pieces
/// overlap, and a short run looks as smooth as a fade.
const TRAIL_RUN: usize = 6;

/// Someone else's selection (screen boxes of its items): each item outlined
/// in their colour, dashed, and their name above the first.
pub fn draw_others_selection(
    ctx: &CanvasRenderingContext2d,
    boxes: &[Rect],
    color: &str,
    name: &str,
) {
    let Some(first) = boxes.first() else {
        return;
    };
    ctx.set_global_alpha(1.0);
    ctx.set_stroke_style_str(color);
    ctx.set_line_width(2.0);
    let dash = js_sys::Array::of2(&6.0.into(), &4.0.into());
    let _ = ctx.set_line_dash(&dash);
    let pad = 5.0;
    for screen in boxes {
        ctx.stroke_rect(
            f64::from(screen.min_x) - pad,
            f64::from(screen.min_y) - pad,
            f64::from(screen.width()) + 2.0 * pad,
            f64::from(screen.height()) + 2.0 * pad,
        );
    }
    let _ = ctx.set_line_dash(&js_sys::Array::new());
    draw_label(
        ctx,
        f64::from(first.min_x) - pad,
        f64::from(first.min_y) - pad - 20.0,
        color,
        name,
    );
}

/// A piece of a laser trail on screen: from, to, opacity.
pub type TrailSegment = ((f64, f64), (f64, f64), f32);

/// A laser trail's segments, in the person's colour.
pub fn draw_trail(ctx: &CanvasRenderingContext2d, segments: &[TrailSegment], color: &str) {
    ctx.set_line_cap("round");
    ctx.set_line_join("round");
    ctx.set_line_width(5.0);
    ctx.set_stroke_style_str(color);
    let mut start = 0;
    while start < segments.len() {
        let mut end = start + 1;
        while end < segments.len()
            && end - start < TRAIL_RUN
            && segments[end].0 == segments[end - 1].1
        {
            end += 1;
        }
        let run = &segments[start..end];
        ctx.set_global_alpha(f64::from(run[run.len() - 1].2));
        ctx.begin_path();
        ctx.move_to(run[0].0 .0, run[0].0 .1);
        for &(_, (x, y), _) in run {
            ctx.line_to(x, y);
        }
        ctx.stroke();
        start = end;
    }
    ctx.set_global_alpha(1.0);
}

/// Someone else's pointer with their name, in screen coordinates.
pub fn draw_cursor(ctx: &CanvasRenderingContext2d, x: f64, y: f64, color: &str, name: &str) {
    ctx.set_global_alpha(1.0);
    ctx.set_fill_style_str(color);
    ctx.set_stroke_style_str("#ffffff");
    ctx.set_line_width(1.5);
    // The classic arrow pointer, tip at (x, y).
    ctx.begin_path();
    ctx.move_to(x, y);
    for (dx, dy) in [
        (0.0, 17.0),
        (4.6, 13.2),
        (7.4, 19.6),
        (10.2, 18.4),
        (7.5, 12.2),
        (13.0, 12.2),
    ] {
        ctx.line_to(x + dx, y + dy);
    }
    ctx.close_path();
    ctx.fill();
    ctx.stroke();
    draw_label(ctx, x + 12.0, y + 20.0, color, name);
}

/// A person's name in white on their colour, its top-left at (x, y).
fn draw_label(ctx: &CanvasRenderingContext2d, x: f64, y: f64, color: &str, name: &str) {
    if name.is_empty() {
        return;
    }
    ctx.set_fill_style_str(color);
    ctx.set_font(&format!("600 12px {TEXT_FONT}"));
    ctx.set_text_baseline("middle");
    let width = ctx.measure_text(name).map(|m| m.width()).unwrap_or(60.0);
    ctx.begin_path();
    let _ = ctx.round_rect_with_f64(x, y, width + 12.0, 20.0, 6.0);
    ctx.fill();
    ctx.set_fill_style_str("#ffffff");
    let _ = ctx.fill_text(name, x + 6.0, y + 10.5);
}

fn midpoint(a: &Point, b: &Point) -> (f64, f64) {
    (f64::from(a.x + b.x) / 2.0, f64::from(a.y + b.y) / 2.0)
}

/// Draws one freehand stroke in board coordinates, at `scale` device pixels
/// a board unit.
pub fn draw_stroke(
    ctx: &CanvasRenderingContext2d,
    style: &StrokeStyle,
    points: &[Point],
    alpha: f64,
    scale: f64,
) {
    let Some(first) = points.first() else {
        return;
    };
    ctx.set_global_alpha(alpha);
    ctx.set_stroke_style_str(style.color.as_str());
    ctx.set_fill_style_str(style.color.as_str());
    ctx.set_line_cap("round");
    ctx.set_line_join("round");

    if points.len() == 1 {
        let radius = f64::from(pressure_width(style.width, first.pressure)) / 2.0;
        ctx.begin_path();
        let _ = ctx.arc(f64::from(first.x), f64::from(first.y), radius, 0.0, TAU);
        ctx.fill();
        return;
    }

    let min_step = (MIN_STEP_PX / scale) as f32;
    let uniform = points.iter().all(|p| p.pressure == first.pressure);
    if uniform {
        // One curve from each kept sample's predecessor's midpoint to its
        // own, with the sample as control point; a line to the last.
        let mut kept = geometry::thinned(points, min_step).skip(1);
        ctx.set_line_width(f64::from(pressure_width(style.width, first.pressure)));
        ctx.begin_path();
        ctx.move_to(f64::from(first.x), f64::from(first.y));
        let mut control = kept.next().unwrap_or(first);
        for next in kept {
            let (mx, my) = midpoint(control, next);
            ctx.quadratic_curve_to(f64::from(control.x), f64::from(control.y), mx, my);
            control = next;
        }
        ctx.line_to(f64::from(control.x), f64::from(control.y));
        ctx.stroke();
        return;
    }

    let points: Vec<&Point> = geometry::thinned(points, min_step).collect();
    let mut start = (f64::from(first.x), f64::from(first.y));
    for i in 1..points.len() {
        let control = points[i];
        let end = match points.get(i + 1) {
            Some(next) => midpoint(control, next),
            None => (f64::from(control.x), f64::from(control.y)),
        };
        let pressure = (points[i - 1].pressure + control.pressure) / 2.0;
        ctx.set_line_width(f64::from(pressure_width(style.width, pressure)));
        ctx.begin_path();
        ctx.move_to(start.0, start.1);
        ctx.quadratic_curve_to(f64::from(control.x), f64::from(control.y), end.0, end.1);
        ctx.stroke();
        start = end;
    }
}

/// The eraser's outline under the pointer.
pub fn draw_eraser_cursor(ctx: &CanvasRenderingContext2d, x: f64, y: f64, radius: f64) {
    ctx.set_global_alpha(1.0);
    ctx.set_line_width(1.0);
    ctx.set_stroke_style_str("#868e96");
    ctx.set_fill_style_str("rgba(134, 142, 150, 0.12)");
    ctx.begin_path();
    let _ = ctx.arc(x, y, radius, 0.0, TAU);
    ctx.fill();
    ctx.stroke();
}
