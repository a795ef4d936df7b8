//! Plane geometry for hit testing: does the eraser's path touch a stroke?
//!
//! Pure functions over [`Point`]s, shared by the client (which decides what the
//! eraser removes) and unit tests. A stroke is treated as the polyline through
//! its points, thickened by half its width at the largest pressure factor, so
//! the eraser removes what the user can see under it.

use crate::protocol::{Point, Stroke};

/// Largest factor pressure applies to a stroke's nominal width (see the renderer).
pub const MAX_PRESSURE_FACTOR: f32 = 1.5;

/// Scales a stroke's nominal width by pen pressure: 0 → 0.5×, 0.5 → 1×, 1 → 1.5×.
pub fn pressure_width(width: f32, pressure: f32) -> f32 {
    width * (0.5 + pressure.clamp(0.0, 1.0))
}

/// Axis-aligned bounds `(min_x, min_y, max_x, max_y)` of some points.
pub fn bounds(points: &[Point]) -> Option<(f32, f32, f32, f32)> {
    let first = points.first()?;
    Some(points.iter().fold(
        (first.x, first.y, first.x, first.y),
        |(x0, y0, x1, y1), p| (x0.min(p.x), y0.min(p.y), x1.max(p.x), y1.max(p.y)),
    ))
}

/// Squared distance from `p` to the segment `a`–`b`.
pub fn distance_sq_point_segment(p: (f32, f32), a: (f32, f32), b: (f32, f32)) -> f32 {
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let length_sq = dx * dx + dy * dy;
    let t = if length_sq == 0.0 {
        0.0
    } else {
        (((p.0 - a.0) * dx + (p.1 - a.1) * dy) / length_sq).clamp(0.0, 1.0)
    };
    let (cx, cy) = (a.0 + t * dx, a.1 + t * dy);
    (p.0 - cx) * (p.0 - cx) + (p.1 - cy) * (p.1 - cy)
}

fn orientation(a: (f32, f32), b: (f32, f32), c: (f32, f32)) -> f32 {
    (b.0 - a.0) * (c.1 - a.1) - (b.1 - a.1) * (c.0 - a.0)
}

fn segments_cross(a: (f32, f32), b: (f32, f32), c: (f32, f32), d: (f32, f32)) -> bool {
    let (o1, o2) = (orientation(a, b, c), orientation(a, b, d));
    let (o3, o4) = (orientation(c, d, a), orientation(c, d, b));
    (o1 * o2 < 0.0) && (o3 * o4 < 0.0)
}

/// Squared distance between segments `a`–`b` and `c`–`d`.
pub fn distance_sq_segments(a: (f32, f32), b: (f32, f32), c: (f32, f32), d: (f32, f32)) -> f32 {
    if segments_cross(a, b, c, d) {
        return 0.0;
    }
    distance_sq_point_segment(a, c, d)
        .min(distance_sq_point_segment(b, c, d))
        .min(distance_sq_point_segment(c, a, b))
        .min(distance_sq_point_segment(d, a, b))
}

/// Consecutive point pairs; a single point is a segment of length zero.
fn segments(points: &[Point]) -> impl Iterator<Item = ((f32, f32), (f32, f32))> + '_ {
    let single =
        (points.len() == 1).then(|| ((points[0].x, points[0].y), (points[0].x, points[0].y)));
    single.into_iter().chain(
        points
            .windows(2)
            .map(|w| ((w[0].x, w[0].y), (w[1].x, w[1].y))),
    )
}

/// Whether a circle of `radius` swept along `path` touches the stroke as drawn.
pub fn path_touches_stroke(path: &[Point], radius: f32, stroke: &Stroke) -> bool {
    let reach = radius + stroke.style.width * MAX_PRESSURE_FACTOR / 2.0;
    let (Some(pb), Some(sb)) = (bounds(path), bounds(&stroke.points)) else {
        return false;
    };
    let overlaps = pb.0 - reach <= sb.2
        && sb.0 <= pb.2 + reach
        && pb.1 - reach <= sb.3
        && sb.1 <= pb.3 + reach;
    if !overlaps {
        return false;
    }
    let reach_sq = reach * reach;
    segments(path).any(|(a, b)| {
        segments(&stroke.points).any(|(c, d)| distance_sq_segments(a, b, c, d) <= reach_sq)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{Color, StrokeId, StrokeStyle};

    fn stroke(points: &[(f32, f32)], width: f32) -> Stroke {
        Stroke {
            id: StrokeId::parse("s").unwrap(),
            style: StrokeStyle {
                color: Color::parse("#000000").unwrap(),
                width,
            },
            points: points.iter().map(|&(x, y)| Point::new(x, y, 0.5)).collect(),
        }
    }

    fn path(points: &[(f32, f32)]) -> Vec<Point> {
        points.iter().map(|&(x, y)| Point::new(x, y, 0.5)).collect()
    }

    #[test]
    fn point_segment_distance() {
        assert_eq!(
            distance_sq_point_segment((5.0, 3.0), (0.0, 0.0), (10.0, 0.0)),
            9.0
        );
        assert_eq!(
            distance_sq_point_segment((-3.0, 4.0), (0.0, 0.0), (10.0, 0.0)),
            25.0
        );
        assert_eq!(
            distance_sq_point_segment((1.0, 1.0), (0.0, 0.0), (0.0, 0.0)),
            2.0
        );
    }

    #[test]
    fn crossing_segments_touch_even_with_zero_radius() {
        let s = stroke(&[(0.0, 0.0), (10.0, 10.0)], 0.5);
        assert!(path_touches_stroke(
            &path(&[(0.0, 10.0), (10.0, 0.0)]),
            0.0,
            &s
        ));
    }

    #[test]
    fn near_miss_depends_on_width_and_radius() {
        let s = stroke(&[(0.0, 0.0), (100.0, 0.0)], 4.0);
        // Stroke reaches 3 units from its centre line (4 * 1.5 / 2).
        assert!(path_touches_stroke(&path(&[(50.0, 5.0)]), 2.5, &s));
        assert!(!path_touches_stroke(&path(&[(50.0, 6.0)]), 2.5, &s));
        assert!(!path_touches_stroke(
            &path(&[(150.0, 0.0), (150.0, 50.0)]),
            10.0,
            &s
        ));
    }

    #[test]
    fn single_point_strokes_are_dots() {
        let dot = stroke(&[(10.0, 10.0)], 2.0);
        assert!(path_touches_stroke(
            &path(&[(0.0, 10.0), (20.0, 10.0)]),
            1.0,
            &dot
        ));
        assert!(!path_touches_stroke(
            &path(&[(0.0, 20.0), (20.0, 20.0)]),
            1.0,
            &dot
        ));
    }

    #[test]
    fn pressure_scales_width() {
        assert_eq!(pressure_width(4.0, 0.5), 4.0);
        assert_eq!(pressure_width(4.0, 0.0), 2.0);
        assert_eq!(pressure_width(4.0, 1.0), 6.0);
    }
}
