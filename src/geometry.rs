//! Plane geometry: hit testing, bounds, and the maths of shaping and resizing.
//!
//! Pure functions over [`Point`]s and [`Stroke`]s, shared by the client (what
//! the eraser removes, what a click selects, where a resize handle takes a
//! shape) and unit tests. Every kind of stroke is reduced to its outline, a
//! set of segments thickened by half its line width at the largest pressure
//! factor, plus, for filled shapes and texts, the area inside; so the eraser
//! and the selection act on what the user can see.

use serde::{Deserialize, Serialize};

use crate::protocol::{Point, Stroke, StrokeKind};

/// Largest factor pressure applies to a stroke's nominal width (see the renderer).
pub const MAX_PRESSURE_FACTOR: f32 = 1.5;
/// Text layout: a line is this many font sizes high...
pub const TEXT_LINE_HEIGHT: f32 = 1.25;
/// ...and a character this many font sizes wide on average. The renderer
/// measures real glyphs; hit testing uses this estimate, which errs wide.
pub const TEXT_CHAR_WIDTH: f32 = 0.6;
/// Segments used to approximate an ellipse.
const ELLIPSE_SEGMENTS: usize = 48;
/// Length of an arrow head's sides relative to the line width, and its minimum.
const ARROW_HEAD_FACTOR: f32 = 4.0;
const MIN_ARROW_HEAD: f32 = 12.0;

/// Scales a stroke's nominal width by pen pressure: 0 → 0.5×, 0.5 → 1×, 1 → 1.5×.
pub fn pressure_width(width: f32, pressure: f32) -> f32 {
    width * (0.5 + pressure.clamp(0.0, 1.0))
}

/// An axis-aligned rectangle; `min` is the top-left corner. On the wire (a
/// `hello`'s `view`) an object with these four fields.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Rect {
    pub min_x: f32,
    pub min_y: f32,
    pub max_x: f32,
    pub max_y: f32,
}

impl Rect {
    /// The rectangle spanned by two corners given in any order.
    pub fn from_corners(a: (f32, f32), b: (f32, f32)) -> Self {
        Self {
            min_x: a.0.min(b.0),
            min_y: a.1.min(b.1),
            max_x: a.0.max(b.0),
            max_y: a.1.max(b.1),
        }
    }

    pub fn width(&self) -> f32 {
        self.max_x - self.min_x
    }

    pub fn height(&self) -> f32 {
        self.max_y - self.min_y
    }

    pub fn center(&self) -> (f32, f32) {
        (
            (self.min_x + self.max_x) / 2.0,
            (self.min_y + self.max_y) / 2.0,
        )
    }

    pub fn union(&self, other: &Rect) -> Rect {
        Rect {
            min_x: self.min_x.min(other.min_x),
            min_y: self.min_y.min(other.min_y),
            max_x: self.max_x.max(other.max_x),
            max_y: self.max_y.max(other.max_y),
        }
    }

    pub fn expand(&self, by: f32) -> Rect {
        Rect {
            min_x: self.min_x - by,
            min_y: self.min_y - by,
            max_x: self.max_x + by,
            max_y: self.max_y + by,
        }
    }

    pub fn contains_point(&self, (x, y): (f32, f32)) -> bool {
        (self.min_x..=self.max_x).contains(&x) && (self.min_y..=self.max_y).contains(&y)
    }

    pub fn contains_rect(&self, other: &Rect) -> bool {
        self.contains_point((other.min_x, other.min_y))
            && self.contains_point((other.max_x, other.max_y))
    }

    pub fn intersects(&self, other: &Rect) -> bool {
        self.min_x <= other.max_x
            && other.min_x <= self.max_x
            && self.min_y <= other.max_y
            && other.min_y <= self.max_y
    }
}

/// Axis-aligned bounds `(min_x, min_y, max_x, max_y)` of some points.
pub fn bounds(points: &[Point]) -> Option<(f32, f32, f32, f32)> {
    let first = points.first()?;
    Some(points.iter().fold(
        (first.x, first.y, first.x, first.y),
        |(x0, y0, x1, y1), p| (x0.min(p.x), y0.min(p.y), x1.max(p.x), y1.max(p.y)),
    ))
}

/// Level of detail: the points of a freehand stroke worth drawing when a
/// step shorter than `min_step` (board units) cannot be seen. Keeps the
/// first and the last point and every point at least `min_step` from the
/// one kept before it. Zoomed out, a stroke shrinks to a few pixels but
/// keeps all its points, and each curve through them costs the canvas about
/// as much as at full size.
pub fn thinned(points: &[Point], min_step: f32) -> impl Iterator<Item = &Point> {
    let min_step_sq = min_step * min_step;
    let last = points.len().saturating_sub(1);
    let mut kept: Option<&Point> = None;
    points.iter().enumerate().filter_map(move |(i, p)| {
        let far_enough =
            kept.is_none_or(|k| (p.x - k.x).powi(2) + (p.y - k.y).powi(2) >= min_step_sq);
        (far_enough || i == last).then(|| {
            kept = Some(p);
            p
        })
    })
}

/// The estimated box of a text item with its top-left corner at `(x, y)`.
pub fn text_box(x: f32, y: f32, text: &str, font_size: f32) -> Rect {
    let lines = text.split('\n');
    let (count, longest) = lines.fold((0usize, 0usize), |(count, longest), line| {
        (count + 1, longest.max(line.chars().count()))
    });
    Rect {
        min_x: x,
        min_y: y,
        max_x: x + longest.max(1) as f32 * TEXT_CHAR_WIDTH * font_size,
        max_y: y + count.max(1) as f32 * TEXT_LINE_HEIGHT * font_size,
    }
}

/// The box of a stroke's points, or for a text the box its lines take.
pub fn shape_box(stroke: &Stroke) -> Option<Rect> {
    let first = stroke.points.first()?;
    if stroke.kind == StrokeKind::Text {
        let text = stroke.text.as_deref().unwrap_or("");
        let size = stroke.font_size.unwrap_or(16.0);
        return Some(text_box(first.x, first.y, text, size));
    }
    let (x0, y0, x1, y1) = bounds(&stroke.points)?;
    Some(Rect::from_corners((x0, y0), (x1, y1)))
}

/// How far a stroke's ink reaches beyond its outline.
fn ink_reach(stroke: &Stroke) -> f32 {
    match stroke.kind {
        StrokeKind::Text => 0.0,
        StrokeKind::Freehand => stroke.style.width * MAX_PRESSURE_FACTOR / 2.0,
        StrokeKind::Arrow => stroke.style.width / 2.0 + arrow_head_length(stroke.style.width),
        _ => stroke.style.width / 2.0,
    }
}

/// Everything a stroke paints, for selection boxes and "zoom to fit".
pub fn visual_bounds(stroke: &Stroke) -> Option<Rect> {
    shape_box(stroke).map(|r| r.expand(ink_reach(stroke)))
}

/// Bounds of several strokes together.
pub fn union_bounds<'a>(strokes: impl IntoIterator<Item = &'a Stroke>) -> Option<Rect> {
    strokes
        .into_iter()
        .filter_map(visual_bounds)
        .reduce(|a, b| a.union(&b))
}

/// Length of an arrow head's sides for a line of `width`.
pub fn arrow_head_length(width: f32) -> f32 {
    (width * ARROW_HEAD_FACTOR).max(MIN_ARROW_HEAD)
}

/// cos and sin of the angle between an arrow's shaft and each side of its
/// head (π / 7). The browser's geometry uses no trigonometric functions:
/// their code (with its reduction of large angles) is 6 KB of the
/// WebAssembly bundle, which has a size budget (docs/benchmarks.md).
const ARROW_SPREAD: (f32, f32) = (0.900_968_9, 0.433_883_73);
/// cos and sin of the angle between two of an ellipse's points
/// (2π / [`ELLIPSE_SEGMENTS`]).
const ELLIPSE_STEP: (f32, f32) = (0.991_444_9, 0.130_526_19);

/// `(x, y)` turned by the angle whose cos and sin are `turn`.
fn rotated((x, y): (f32, f32), (cos, sin): (f32, f32)) -> (f32, f32) {
    (x * cos - y * sin, x * sin + y * cos)
}

/// The two outer points of the head of an arrow from `start` to `end`.
pub fn arrow_head(start: (f32, f32), end: (f32, f32), width: f32) -> [(f32, f32); 2] {
    let (dx, dy) = (end.0 - start.0, end.1 - start.1);
    let length = (dx * dx + dy * dy).sqrt();
    // Pointing back from the tip along the shaft (along x for no shaft).
    let back = if length > 0.0 {
        (-dx / length, -dy / length)
    } else {
        (-1.0, 0.0)
    };
    let side = arrow_head_length(width);
    let (cos, sin) = ARROW_SPREAD;
    [(cos, sin), (cos, -sin)].map(|turn| {
        let (x, y) = rotated(back, turn);
        (end.0 + side * x, end.1 + side * y)
    })
}

/// Points around the ellipse inscribed in `rect`, closed (last = first).
pub fn ellipse_points(rect: &Rect) -> Vec<(f32, f32)> {
    let (cx, cy) = rect.center();
    let (rx, ry) = (rect.width() / 2.0, rect.height() / 2.0);
    let mut unit = (1.0, 0.0);
    let mut points = Vec::with_capacity(ELLIPSE_SEGMENTS + 1);
    for _ in 0..ELLIPSE_SEGMENTS {
        points.push((cx + rx * unit.0, cy + ry * unit.1));
        unit = rotated(unit, ELLIPSE_STEP);
    }
    points.push((cx + rx, cy));
    points
}

type Segment = ((f32, f32), (f32, f32));

fn polyline(points: &[(f32, f32)]) -> Vec<Segment> {
    if let [only] = points {
        return vec![(*only, *only)];
    }
    points.windows(2).map(|w| (w[0], w[1])).collect()
}

fn rect_corners(r: &Rect) -> Vec<(f32, f32)> {
    vec![
        (r.min_x, r.min_y),
        (r.max_x, r.min_y),
        (r.max_x, r.max_y),
        (r.min_x, r.max_y),
        (r.min_x, r.min_y),
    ]
}

/// The segments a stroke is drawn along.
pub fn outline(stroke: &Stroke) -> Vec<Segment> {
    let xy: Vec<(f32, f32)> = stroke.points.iter().map(|p| (p.x, p.y)).collect();
    let Some(shape) = shape_box(stroke) else {
        return Vec::new();
    };
    match stroke.kind {
        StrokeKind::Freehand | StrokeKind::Line => polyline(&xy),
        StrokeKind::Rectangle | StrokeKind::Text | StrokeKind::Image => {
            polyline(&rect_corners(&shape))
        }
        StrokeKind::Ellipse => polyline(&ellipse_points(&shape)),
        StrokeKind::Arrow => {
            let (start, end) = (xy[0], xy[xy.len() - 1]);
            let mut segments = vec![(start, end)];
            segments.extend(arrow_head(start, end, stroke.style.width).map(|p| (p, end)));
            segments
        }
    }
}

/// Whether `p` lies in the area a filled shape or a text covers.
fn inside_area(stroke: &Stroke, p: (f32, f32)) -> bool {
    let Some(shape) = shape_box(stroke) else {
        return false;
    };
    match stroke.kind {
        StrokeKind::Text | StrokeKind::Image => shape.contains_point(p),
        StrokeKind::Rectangle if stroke.fill.is_some() => shape.contains_point(p),
        StrokeKind::Ellipse if stroke.fill.is_some() => {
            let (cx, cy) = shape.center();
            let (rx, ry) = (shape.width() / 2.0, shape.height() / 2.0);
            if rx <= 0.0 || ry <= 0.0 {
                return false;
            }
            let (dx, dy) = ((p.0 - cx) / rx, (p.1 - cy) / ry);
            dx * dx + dy * dy <= 1.0
        }
        _ => false,
    }
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

/// Whether a circle of `radius` swept along `path` touches the stroke as drawn.
pub fn path_touches_stroke(path: &[Point], radius: f32, stroke: &Stroke) -> bool {
    let reach = radius + ink_reach(stroke);
    let (Some(pb), Some(sb)) = (bounds(path), visual_bounds(stroke)) else {
        return false;
    };
    let path_box = Rect::from_corners((pb.0, pb.1), (pb.2, pb.3)).expand(radius);
    if !path_box.intersects(&sb) {
        return false;
    }
    let path_xy: Vec<(f32, f32)> = path.iter().map(|p| (p.x, p.y)).collect();
    if path_xy.iter().any(|&p| inside_area(stroke, p)) {
        return true;
    }
    let reach_sq = reach * reach;
    let edges = outline(stroke);
    polyline(&path_xy).into_iter().any(|(a, b)| {
        edges
            .iter()
            .any(|&(c, d)| distance_sq_segments(a, b, c, d) <= reach_sq)
    })
}

/// Whether a click at `p` with `tolerance` (in board units) picks the stroke.
pub fn hits(stroke: &Stroke, p: (f32, f32), tolerance: f32) -> bool {
    path_touches_stroke(&[Point::new(p.0, p.1, 0.5)], tolerance, stroke)
}

/// Where the second point of a shape goes when shift is held: rectangles
/// and ellipses become squares and circles, lines and arrows snap to
/// multiples of 45°.
pub fn constrain(kind: StrokeKind, start: (f32, f32), end: (f32, f32)) -> (f32, f32) {
    let (dx, dy) = (end.0 - start.0, end.1 - start.1);
    match kind {
        StrokeKind::Rectangle | StrokeKind::Ellipse => {
            let side = dx.abs().max(dy.abs());
            (start.0 + side.copysign(dx), start.1 + side.copysign(dy))
        }
        StrokeKind::Line | StrokeKind::Arrow => {
            // The nearest multiple of 45°: along an axis when the other
            // side is under tan(22.5°) of it, else diagonal, same length.
            const TAN_22_5: f32 = 0.414_213_57;
            let length = (dx * dx + dy * dy).sqrt();
            let (ux, uy) = if dy.abs() <= TAN_22_5 * dx.abs() {
                (1f32.copysign(dx), 0.0)
            } else if dx.abs() <= TAN_22_5 * dy.abs() {
                (0.0, 1f32.copysign(dy))
            } else {
                let half = std::f32::consts::FRAC_1_SQRT_2;
                (half.copysign(dx), half.copysign(dy))
            };
            (start.0 + length * ux, start.1 + length * uy)
        }
        StrokeKind::Freehand | StrokeKind::Text | StrokeKind::Image => end,
    }
}

/// A corner handle of a selection box.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handle {
    TopLeft,
    TopRight,
    BottomRight,
    BottomLeft,
}

impl Handle {
    pub const ALL: [Handle; 4] = [
        Handle::TopLeft,
        Handle::TopRight,
        Handle::BottomRight,
        Handle::BottomLeft,
    ];

    /// Where the handle sits on `rect`.
    pub fn position(self, rect: &Rect) -> (f32, f32) {
        match self {
            Handle::TopLeft => (rect.min_x, rect.min_y),
            Handle::TopRight => (rect.max_x, rect.min_y),
            Handle::BottomRight => (rect.max_x, rect.max_y),
            Handle::BottomLeft => (rect.min_x, rect.max_y),
        }
    }

    /// The corner that stays put while this handle is dragged.
    pub fn opposite(self) -> Handle {
        match self {
            Handle::TopLeft => Handle::BottomRight,
            Handle::TopRight => Handle::BottomLeft,
            Handle::BottomRight => Handle::TopLeft,
            Handle::BottomLeft => Handle::TopRight,
        }
    }
}

/// Smallest side a resized selection keeps, so shapes never collapse.
pub const MIN_RESIZE_SIDE: f32 = 2.0;

/// The box a selection takes when `handle` of `from` is dragged to
/// `pointer`; with `keep_aspect` it keeps its proportions.
pub fn resized_box(from: &Rect, handle: Handle, pointer: (f32, f32), keep_aspect: bool) -> Rect {
    let anchor = handle.opposite().position(from);
    let mut dx = pointer.0 - anchor.0;
    let mut dy = pointer.1 - anchor.1;
    if keep_aspect && from.width() > 0.0 && from.height() > 0.0 {
        let scale = (dx.abs() / from.width()).max(dy.abs() / from.height());
        dx = from.width() * scale * if dx < 0.0 { -1.0 } else { 1.0 };
        dy = from.height() * scale * if dy < 0.0 { -1.0 } else { 1.0 };
    }
    let dx = dx.abs().max(MIN_RESIZE_SIDE).copysign(dx);
    let dy = dy.abs().max(MIN_RESIZE_SIDE).copysign(dy);
    Rect::from_corners(anchor, (anchor.0 + dx, anchor.1 + dy))
}

/// A stroke mapped from box `from` to box `to`: points scale with the box,
/// a text's font size with its height; line widths stay as they are.
pub fn resized(stroke: &Stroke, from: &Rect, to: &Rect) -> Stroke {
    let sx = if from.width() > 0.0 {
        to.width() / from.width()
    } else {
        1.0
    };
    let sy = if from.height() > 0.0 {
        to.height() / from.height()
    } else {
        1.0
    };
    let mut out = stroke.clone();
    for p in &mut out.points {
        p.x = to.min_x + (p.x - from.min_x) * sx;
        p.y = to.min_y + (p.y - from.min_y) * sy;
    }
    if let Some(size) = out.font_size.as_mut() {
        *size = (*size * sy).clamp(
            crate::protocol::limits::MIN_FONT_SIZE,
            crate::protocol::limits::MAX_FONT_SIZE,
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{Color, StrokeId, StrokeStyle};

    #[test]
    fn thinning_keeps_the_ends_and_steps_of_at_least_the_minimum() {
        let points: Vec<Point> = [0.0, 0.5, 1.0, 2.5, 2.6, 3.0, 3.1]
            .iter()
            .map(|&x| Point::new(x, 0.0, 0.5))
            .collect();
        let xs = |min_step| thinned(&points, min_step).map(|p| p.x).collect::<Vec<_>>();
        assert_eq!(
            xs(0.0),
            vec![0.0, 0.5, 1.0, 2.5, 2.6, 3.0, 3.1],
            "no thinning"
        );
        assert_eq!(
            xs(1.0),
            vec![0.0, 1.0, 2.5, 3.1],
            "the last point always stays"
        );
        assert_eq!(xs(10.0), vec![0.0, 3.1]);
        assert_eq!(thinned(&points[..1], 5.0).count(), 1);
        assert_eq!(thinned(&[], 5.0).count(), 0);
    }

    fn stroke(points: &[(f32, f32)], width: f32) -> Stroke {
        shape(StrokeKind::Freehand, points, width)
    }

    fn shape(kind: StrokeKind, points: &[(f32, f32)], width: f32) -> Stroke {
        Stroke::new(
            StrokeId::parse("s").unwrap(),
            kind,
            StrokeStyle {
                color: Color::parse("#000000").unwrap(),
                width,
            },
            points.iter().map(|&(x, y)| Point::new(x, y, 0.5)).collect(),
        )
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

    #[test]
    fn rectangles_are_hit_on_their_outline_unless_filled() {
        let mut rect = shape(StrokeKind::Rectangle, &[(0.0, 0.0), (100.0, 50.0)], 2.0);
        assert!(hits(&rect, (100.0, 25.0), 2.0));
        assert!(hits(&rect, (50.0, 51.5), 1.0));
        assert!(
            !hits(&rect, (50.0, 25.0), 2.0),
            "an empty rectangle's inside is not ink"
        );
        rect.fill = Some(Color::parse("#ff0000").unwrap());
        assert!(hits(&rect, (50.0, 25.0), 0.0));
        assert!(!hits(&rect, (150.0, 25.0), 2.0));
    }

    #[test]
    fn ellipses_are_hit_on_their_curve_and_filled_inside() {
        let mut ellipse = shape(StrokeKind::Ellipse, &[(0.0, 0.0), (100.0, 50.0)], 2.0);
        assert!(hits(&ellipse, (100.0, 25.0), 1.0));
        assert!(hits(&ellipse, (50.0, 0.0), 1.0));
        assert!(
            !hits(&ellipse, (2.0, 2.0), 1.0),
            "the box's corner is outside the curve"
        );
        assert!(!hits(&ellipse, (50.0, 25.0), 1.0));
        ellipse.fill = Some(Color::parse("#00ff00").unwrap());
        assert!(hits(&ellipse, (50.0, 25.0), 0.0));
        assert!(!hits(&ellipse, (3.0, 3.0), 0.0));
    }

    #[test]
    fn lines_and_arrows_are_hit_along_their_length_and_head() {
        let line = shape(StrokeKind::Line, &[(0.0, 0.0), (100.0, 0.0)], 2.0);
        assert!(hits(&line, (50.0, 2.0), 1.5));
        assert!(!hits(&line, (50.0, 5.0), 1.5));
        let arrow = shape(StrokeKind::Arrow, &[(0.0, 0.0), (100.0, 0.0)], 2.0);
        let [left, right] = arrow_head((0.0, 0.0), (100.0, 0.0), 2.0);
        assert!(left.0 < 100.0 && right.0 < 100.0 && left.1 * right.1 < 0.0);
        assert!(hits(&arrow, left, 0.5));
        assert!(!hits(&line, left, 0.5), "a plain line has no head");
    }

    #[test]
    fn texts_are_hit_anywhere_in_their_box() {
        let mut text = shape(StrokeKind::Text, &[(10.0, 10.0)], 2.0);
        text.text = Some("hello\nworld!".into());
        text.font_size = Some(20.0);
        let bounds = shape_box(&text).unwrap();
        assert_eq!(bounds.width(), 6.0 * TEXT_CHAR_WIDTH * 20.0);
        assert_eq!(bounds.height(), 2.0 * TEXT_LINE_HEIGHT * 20.0);
        assert!(hits(&text, (20.0, 40.0), 0.0));
        assert!(!hits(&text, (10.0, 80.0), 0.0));
    }

    #[test]
    fn selection_bounds_cover_every_stroke_and_its_ink() {
        let a = shape(StrokeKind::Rectangle, &[(0.0, 0.0), (10.0, 10.0)], 2.0);
        let b = shape(StrokeKind::Line, &[(20.0, 30.0), (40.0, 5.0)], 4.0);
        let all = union_bounds([&a, &b]).unwrap();
        assert_eq!(all, Rect::from_corners((-1.0, -1.0), (42.0, 32.0)));
        assert!(union_bounds(std::iter::empty()).is_none());
    }

    #[test]
    fn turns_are_the_angles_they_stand_for() {
        let close = |a: f32, b: f32| (a - b).abs() < 1e-6;
        let spread = std::f32::consts::PI / 7.0;
        assert!(close(ARROW_SPREAD.0, spread.cos()) && close(ARROW_SPREAD.1, spread.sin()));
        let step = std::f32::consts::TAU / ELLIPSE_SEGMENTS as f32;
        assert!(close(ELLIPSE_STEP.0, step.cos()) && close(ELLIPSE_STEP.1, step.sin()));
        // An arrow's head: each side as long as arrow_head_length, at π / 7
        // from the shaft, whichever way the arrow points.
        for end in [(100.0, 0.0), (-30.0, 40.0), (0.0, -7.0)] {
            for (x, y) in arrow_head((0.0, 0.0), end, 2.0) {
                let (sx, sy) = (x - end.0, y - end.1);
                let side = (sx * sx + sy * sy).sqrt();
                assert!((side - arrow_head_length(2.0)).abs() < 1e-3);
                let shaft = (end.0 * end.0 + end.1 * end.1).sqrt();
                let cos = -(sx * end.0 + sy * end.1) / (side * shaft);
                assert!((cos - spread.cos()).abs() < 1e-4, "{cos}");
            }
        }
        // An ellipse's points lie on it, all the way round.
        let rect = Rect::from_corners((0.0, 0.0), (40.0, 20.0));
        let points = ellipse_points(&rect);
        assert_eq!(points.len(), ELLIPSE_SEGMENTS + 1);
        assert_eq!(points[0], points[ELLIPSE_SEGMENTS]);
        for (i, (x, y)) in points.iter().enumerate() {
            let t = i as f32 * step;
            assert!((x - (20.0 + 20.0 * t.cos())).abs() < 1e-3, "{i}");
            assert!((y - (10.0 + 10.0 * t.sin())).abs() < 1e-3, "{i}");
        }
    }

    #[test]
    fn shift_makes_squares_and_45_degree_lines() {
        assert_eq!(
            constrain(StrokeKind::Rectangle, (0.0, 0.0), (10.0, -4.0)),
            (10.0, -10.0)
        );
        let (x, y) = constrain(StrokeKind::Line, (0.0, 0.0), (10.0, 9.0));
        assert!((x - y).abs() < 1e-4 && x > 0.0);
        let (x, y) = constrain(StrokeKind::Arrow, (0.0, 0.0), (10.0, 1.0));
        assert!(y.abs() < 1e-4 && (x - 10.05).abs() < 0.01);
        let (x, y) = constrain(StrokeKind::Line, (5.0, 5.0), (4.0, -15.0));
        assert!((x - 5.0).abs() < 1e-4 && (y + 15.025).abs() < 0.01);
        let (x, y) = constrain(StrokeKind::Line, (0.0, 0.0), (-10.0, 8.0));
        assert!((x + y).abs() < 1e-4 && x < 0.0);
    }

    #[test]
    fn resizing_keeps_the_opposite_corner_and_scales_points() {
        let from = Rect::from_corners((0.0, 0.0), (100.0, 50.0));
        let to = resized_box(&from, Handle::BottomRight, (200.0, 150.0), false);
        assert_eq!(to, Rect::from_corners((0.0, 0.0), (200.0, 150.0)));
        let proportional = resized_box(&from, Handle::BottomRight, (200.0, 60.0), true);
        assert_eq!(proportional, Rect::from_corners((0.0, 0.0), (200.0, 100.0)));
        let flipped = resized_box(&from, Handle::TopLeft, (150.0, 80.0), false);
        assert_eq!(flipped, Rect::from_corners((100.0, 50.0), (150.0, 80.0)));
        let collapsed = resized_box(&from, Handle::TopLeft, (100.0, 50.0), false);
        assert!(collapsed.width() >= MIN_RESIZE_SIDE && collapsed.height() >= MIN_RESIZE_SIDE);

        let line = shape(StrokeKind::Line, &[(0.0, 0.0), (100.0, 50.0)], 2.0);
        let scaled = resized(&line, &from, &to);
        assert_eq!((scaled.points[1].x, scaled.points[1].y), (200.0, 150.0));
        assert_eq!(scaled.style.width, 2.0);
        let mut text = shape(StrokeKind::Text, &[(0.0, 0.0)], 2.0);
        text.text = Some("hi".into());
        text.font_size = Some(20.0);
        assert_eq!(resized(&text, &from, &to).font_size, Some(60.0));
    }
}
