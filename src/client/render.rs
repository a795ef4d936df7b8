//! Drawing strokes on a 2D canvas.
//!
//! Strokes are smoothed with quadratic Bézier curves through the midpoints of
//! consecutive samples, which removes the polygonal look of raw pointer input
//! without lagging behind the pen. Strokes with uniform pressure (mice) are
//! one path, so joins are seamless; strokes with varying pressure (pens) are
//! drawn piece by piece, each piece as wide as the pressure at its sample.

use web_sys::CanvasRenderingContext2d;

use crate::geometry::pressure_width;
use crate::protocol::{Point, StrokeStyle};

fn midpoint(a: &Point, b: &Point) -> (f64, f64) {
    (f64::from(a.x + b.x) / 2.0, f64::from(a.y + b.y) / 2.0)
}

/// Draws one stroke in board coordinates (the caller sets the transform).
pub fn draw_stroke(
    ctx: &CanvasRenderingContext2d,
    style: &StrokeStyle,
    points: &[Point],
    alpha: f64,
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
        let _ = ctx.arc(
            f64::from(first.x),
            f64::from(first.y),
            radius,
            0.0,
            std::f64::consts::TAU,
        );
        ctx.fill();
        return;
    }

    let uniform = points.iter().all(|p| p.pressure == first.pressure);
    if uniform {
        ctx.set_line_width(f64::from(pressure_width(style.width, first.pressure)));
        ctx.begin_path();
        ctx.move_to(f64::from(first.x), f64::from(first.y));
        for pair in points[1..].windows(2) {
            let (mx, my) = midpoint(&pair[0], &pair[1]);
            ctx.quadratic_curve_to(f64::from(pair[0].x), f64::from(pair[0].y), mx, my);
        }
        let last = points[points.len() - 1];
        ctx.line_to(f64::from(last.x), f64::from(last.y));
        ctx.stroke();
        return;
    }

    let mut start = (f64::from(first.x), f64::from(first.y));
    for i in 1..points.len() {
        let control = points[i];
        let end = match points.get(i + 1) {
            Some(next) => midpoint(&control, next),
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
    let _ = ctx.arc(x, y, radius, 0.0, std::f64::consts::TAU);
    ctx.fill();
    ctx.stroke();
}
