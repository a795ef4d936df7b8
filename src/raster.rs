//! Freehand strokes rasterised in WebAssembly, into pixels the board
//! layer's canvas only copies.
//!
//! Opening a big board is mostly painting the strokes in view, and a
//! software canvas spends about 40 µs on each 20-point stroke, nearly all of
//! it in Skia's stroker (round joins and caps; see docs/benchmarks.md, "What
//! a stroke costs"). A stroke with round joins and caps is exactly the set
//! of points within half its width of its centre line, so this module draws
//! it as that: the centre line (the same quadratic curves through the
//! samples' midpoints that `client::render::draw_stroke` gives the canvas)
//! is flattened into segments, and each pixel near a segment is covered by
//! how much of it lies within the radius ([`coverage`], a box filter across
//! the line). Each segment covers its band, the pixels whose centres project
//! onto it, by their distance across it (linear along a row: no square
//! roots); where the line turns gently, the bands run on past the joint to
//! meet (a miter join, within 0.05 px of the round one); discs, a square
//! root a pixel, make the caps and the sharper joins. A stroke's coverage
//! is the most any of its parts gives a pixel, so where they overlap
//! nothing is blended twice; then the stroke is blended over the pixels
//! once, in its colour and opacity.
//!
//! Pixels are straight-alpha RGBA, as `ImageData` holds them, and are a
//! rectangle of a larger bitmap: every pixel is computed from its place in
//! the bitmap, not in the rectangle, so a stroke painted through any
//! rectangle gives the same pixels. Pure and synchronous; the browser side
//! (`client::board_layer`) moves pixels in and out of the canvas.

use crate::coverage::PixelRect;
use crate::geometry::{self, pressure_width};
use crate::protocol::{Point, Stroke};

/// Flattening tolerance: a curve's segments stay within this many pixels
/// of it.
const TOLERANCE_PX: f32 = 0.5;
/// Most segments one curve is flattened into.
const MAX_SEGMENTS: f32 = 64.0;

/// A rectangle of a bitmap's pixels: straight-alpha RGBA rows.
pub struct Pixels<'a> {
    pub data: &'a mut [u8],
    /// The bitmap pixel of the rectangle's top-left corner.
    pub origin: (i32, i32),
    /// Width and height in pixels (`data` holds four bytes for each).
    pub size: (i32, i32),
}

/// Where board units land in the bitmap: `scale` pixels a unit, with board
/// point `anchor` at the bitmap's top-left corner.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Placement {
    pub scale: f64,
    pub anchor: (f64, f64),
}

impl Placement {
    fn pixel(&self, point: &Point) -> (f32, f32) {
        (
            ((f64::from(point.x) - self.anchor.0) * self.scale) as f32,
            ((f64::from(point.y) - self.anchor.1) * self.scale) as f32,
        )
    }
}

/// A straight piece of a stroke's centre line, in bitmap pixels, with the
/// stroke's half width there.
#[derive(Debug, Clone, Copy)]
struct Segment {
    from: (f32, f32),
    to: (f32, f32),
    radius: f32,
    /// How far the band reaches past the start and past the end, closing
    /// the gap a gentle turn leaves on its outside (a miter join).
    past: (f32, f32),
}

/// Rasterises strokes; keeps its scratch memory between strokes.
#[derive(Default)]
pub struct Rasteriser {
    /// One stroke's coverage (0–255) over its box within the pixels.
    coverage: Vec<u8>,
    segments: Vec<Segment>,
    /// One stroke's samples kept at this level of detail, in pixels, with
    /// their pressure.
    kept: Vec<((f32, f32), f32)>,
}

impl Rasteriser {
    /// Paints a freehand stroke over `pixels`, its opacity multiplied by
    /// `alpha`; samples closer than `min_step_px` to the last one kept are
    /// skipped (the level of detail of `client::render`).
    pub fn paint(
        &mut self,
        pixels: &mut Pixels<'_>,
        at: &Placement,
        stroke: &Stroke,
        alpha: f32,
        min_step_px: f64,
    ) {
        let [r, g, b, a] = stroke.style.color.rgba();
        let alpha = alpha * stroke.opacity.clamp(0.0, 1.0) * f32::from(a) / 255.0;
        if alpha <= 0.0 || !at.scale.is_finite() || at.scale <= 0.0 {
            return;
        }
        self.segments.clear();
        centre_line(
            &mut self.segments,
            &mut self.kept,
            at,
            &stroke.points,
            stroke.style.width,
            (min_step_px / at.scale) as f32,
        );
        let Some(area) = self.cover(pixels) else {
            return;
        };
        blend(pixels, &area, &self.coverage, [r, g, b], alpha);
    }

    /// Fills `self.coverage` over the box the segments reach within
    /// `pixels` (bitmap pixels, `x0, y0, x1, y1`), which it returns.
    fn cover(&mut self, pixels: &Pixels<'_>) -> Option<PixelRect> {
        let (ox, oy) = pixels.origin;
        let reach = self
            .segments
            .iter()
            .fold(PixelRect::new(0, 0, 0, 0), |reach, segment| {
                reach.union(&segment.reach())
            });
        let area = reach.intersection(&PixelRect::new(
            ox,
            oy,
            ox + pixels.size.0,
            oy + pixels.size.1,
        ))?;
        let (width, height) = area.size();
        self.coverage.clear();
        self.coverage.resize(width as usize * height as usize, 0);
        // Round caps at both ends; at each turn, a round join where a
        // miter would stick out visibly (or the width changes), otherwise
        // the bands run on past the joint to meet.
        let segments = &mut self.segments;
        if let (Some(first), Some(last)) = (segments.first(), segments.last()) {
            disc(first.from, first.radius, &area, &mut self.coverage);
            disc(last.to, last.radius, &area, &mut self.coverage);
        }
        for i in 1..segments.len() {
            let Some([s, t]) = segments.get_mut(i - 1..=i) else {
                continue;
            };
            match miter(s, t) {
                Some(past) => (s.past.1, t.past.0) = (past, past),
                None => disc(s.to, s.radius.max(t.radius), &area, &mut self.coverage),
            }
        }
        for segment in segments.iter() {
            segment.cover_band(&area, &mut self.coverage);
        }
        Some(area)
    }
}

/// A float pixel coordinate as a whole one, kept far from `i32`'s ends.
fn whole(v: f32) -> i32 {
    v.clamp(-1e9, 1e9) as i32
}

impl Segment {
    /// How far from the centre line a pixel's centre may be and still be
    /// covered (the box filter reaches half a pixel past the edge).
    fn reach_radius(&self) -> f32 {
        self.radius + 0.5
    }

    /// The pixels the segment may cover (a band run past an end reaches
    /// less than a tenth further: see `miter`).
    fn reach(&self) -> PixelRect {
        let r = self.reach_radius() * 1.1;
        let (a, b) = (self.from, self.to);
        PixelRect::new(
            whole((a.0.min(b.0) - r).floor()),
            whole((a.1.min(b.1) - r).floor()),
            whole((a.0.max(b.0) + r).ceil()) + 1,
            whole((a.1.max(b.1) + r).ceil()) + 1,
        )
    }

    /// Raises `covered` (over `area`) to what the segment's band gives:
    /// the pixels whose centre projects onto the segment, by their
    /// distance across it (linear along a row: no square roots).
    fn cover_band(&self, area: &PixelRect, covered: &mut [u8]) {
        let Some(reach) = self.reach().intersection(area) else {
            return;
        };
        let r = self.reach_radius();
        let top = r * 255.0 + 0.5;
        let peak = (peak_coverage(self.radius) * 255.0) as i32;
        let (ax, ay) = self.from;
        let (dx, dy) = (self.to.0 - ax, self.to.1 - ay);
        let length = (dx * dx + dy * dy).sqrt();
        if length <= 0.0 {
            return;
        }
        let (ux, uy) = (dx / length, dy / length);
        // Across: n = (-uy, ux).
        let (nx, ny) = (-uy, ux);
        let (per_ux, per_nx) = (1.0 / ux, 1.0 / nx);
        for y in reach.y0..reach.y1 {
            let ry = y as f32 + 0.5 - ay;
            // x (from the pixel centre, less ax) along within 0..length...
            let (mut lo, mut hi) = (f32::NEG_INFINITY, f32::INFINITY);
            let along = ry * uy;
            let (start, end) = (-self.past.0, length + self.past.1);
            if ux.abs() > 1e-6 {
                let (a, b) = ((start - along) * per_ux, (end - along) * per_ux);
                let (a, b) = if a < b { (a, b) } else { (b, a) };
                lo = a;
                hi = b;
            } else if along < start || along > end {
                continue;
            }
            // ...and across within the reach.
            let across = ry * ny;
            if nx.abs() > 1e-6 {
                let (a, b) = ((-r - across) * per_nx, (r - across) * per_nx);
                let (a, b) = if a < b { (a, b) } else { (b, a) };
                if a > lo {
                    lo = a;
                }
                if b < hi {
                    hi = b;
                }
            } else if across <= -r || across >= r {
                continue;
            }
            let Some((x0, cells)) = row_span(covered, area, y, lo + ax, hi + ax) else {
                continue;
            };
            let mut distance = (x0 as f32 + 0.5 - ax) * nx + across;
            for cell in cells.iter_mut() {
                raise(cell, top - distance.abs() * 255.0, peak);
                distance += nx;
            }
        }
    }
}

/// How far two consecutive segments' bands must run past their joint to
/// meet on the outside of the turn (a miter join), if the miter's tip
/// sticks out past the round join's arc by at most [`MAX_MITER_PX`] (the
/// radius times (1 / cos(turn / 2) - 1)); `None`: a round join is needed.
fn miter(s: &Segment, t: &Segment) -> Option<f32> {
    if s.radius != t.radius {
        return None;
    }
    let (ax, ay) = (s.to.0 - s.from.0, s.to.1 - s.from.1);
    let (bx, by) = (t.to.0 - t.from.0, t.to.1 - t.from.1);
    let lengths = ((ax * ax + ay * ay) * (bx * bx + by * by)).sqrt();
    if lengths <= 0.0 {
        return None;
    }
    // cos(turn / 2) from cos(turn).
    let cos = (ax * bx + ay * by) / lengths;
    let half_cos = ((1.0 + cos) / 2.0).sqrt();
    let reach = s.reach_radius();
    if half_cos <= 0.0 || reach * (1.0 / half_cos - 1.0) > MAX_MITER_PX {
        return None;
    }
    // tan(turn / 2) = sin / cos of the half turn.
    Some(reach * (1.0 - half_cos * half_cos).sqrt() / half_cos)
}

/// How far a miter join may stick out past a round one, in pixels.
const MAX_MITER_PX: f32 = 0.05;

/// Raises `covered` to a disc's coverage (a round cap or join).
fn disc(centre: (f32, f32), radius: f32, area: &PixelRect, covered: &mut [u8]) {
    let r = radius + 0.5;
    let top = r * 255.0 + 0.5;
    let peak = (peak_coverage(radius) * 255.0) as i32;
    let (cx, cy) = centre;
    let y0 = whole((cy - r).floor()).max(area.y0);
    let y1 = (whole((cy + r).ceil()) + 1).min(area.y1);
    for y in y0..y1 {
        let ry = y as f32 + 0.5 - cy;
        let chord = r * r - ry * ry;
        if chord <= 0.0 {
            continue;
        }
        let half = chord.sqrt();
        let Some((x0, cells)) = row_span(covered, area, y, cx - half, cx + half) else {
            continue;
        };
        let first = x0 as f32 + 0.5 - cx;
        let ry2 = ry * ry;
        for (i, cell) in cells.iter_mut().enumerate() {
            let px = first + i as f32;
            raise(cell, top - (px * px + ry2).sqrt() * 255.0, peak);
        }
    }
}

/// The cells of row `y` whose pixel centres are within `from..=to` (bitmap
/// x), and the first one's x.
fn row_span<'a>(
    covered: &'a mut [u8],
    area: &PixelRect,
    y: i32,
    from: f32,
    to: f32,
) -> Option<(i32, &'a mut [u8])> {
    let x0 = whole((from - 0.5).ceil()).max(area.x0);
    let x1 = (whole((to - 0.5).floor()) + 1).min(area.x1);
    if x0 >= x1 {
        return None;
    }
    let row = (y - area.y0) as usize * area.size().0 as usize;
    let cells = covered.get_mut(row + (x0 - area.x0) as usize..row + (x1 - area.x0) as usize)?;
    Some((x0, cells))
}

/// Raises a cell's coverage to `value` 255ths, at most `peak` (below zero
/// is nothing).
#[inline(always)]
fn raise(cell: &mut u8, value: f32, peak: i32) {
    let value = value as i32;
    let value = if value > peak { peak } else { value };
    if value > i32::from(*cell) {
        *cell = value as u8;
    }
}

/// How much of a pixel whose centre is `distance` from the centre line a
/// line of half width `radius` covers: the overlap of the pixel's span
/// across the line with the line's, which is exact for a straight edge
/// along the pixel grid and comes to `radius + 0.5 - distance`, at most 1
/// (a line thinner than a pixel covers as much as it is wide).
pub fn coverage(distance: f32, radius: f32) -> f32 {
    within(radius + 0.5 - distance, 0.0, peak_coverage(radius))
}

/// The most a line of half width `radius` covers a pixel.
fn peak_coverage(radius: f32) -> f32 {
    within(2.0 * radius, 0.0, 1.0)
}

/// `value` kept within `low..=high` by comparisons: the hot loops' clamps
/// (WebAssembly's `min` and `max` also order NaNs and signed zeros, which
/// costs a browser several instructions each).
#[inline(always)]
fn within(value: f32, low: f32, high: f32) -> f32 {
    if value < low {
        low
    } else if value > high {
        high
    } else {
        value
    }
}

/// The stroke's centre line as segments in bitmap pixels: the path
/// `client::render::draw_stroke` gives the canvas (a curve from each kept
/// sample's predecessor's midpoint to its own midpoint with the next, the
/// sample as control point), each curve as wide as the pressure there.
fn centre_line(
    segments: &mut Vec<Segment>,
    kept: &mut Vec<((f32, f32), f32)>,
    at: &Placement,
    points: &[Point],
    width: f32,
    min_step: f32,
) {
    let Some(first) = points.first() else {
        return;
    };
    let radius = |pressure: f32| pressure_width(width, pressure) * at.scale as f32 / 2.0;
    let start = at.pixel(first);
    if points.len() == 1 {
        segments.push(Segment {
            from: start,
            to: start,
            radius: radius(first.pressure),
            past: (0.0, 0.0),
        });
        return;
    }
    kept.clear();
    kept.extend(geometry::thinned(points, min_step).map(|p| (at.pixel(p), p.pressure)));
    let mut start = start;
    let mut before = first.pressure;
    for (i, &(c, pressure)) in kept.iter().enumerate().skip(1) {
        let end = match kept.get(i + 1) {
            Some(&(n, _)) => ((c.0 + n.0) / 2.0, (c.1 + n.1) / 2.0),
            None => c,
        };
        flatten(segments, start, c, end, radius((before + pressure) / 2.0));
        (start, before) = (end, pressure);
    }
}

/// The quadratic curve from `a` to `b` with control point `c` as segments
/// within [`TOLERANCE_PX`] of it.
fn flatten(segments: &mut Vec<Segment>, a: (f32, f32), c: (f32, f32), b: (f32, f32), radius: f32) {
    // Straight pieces of a quadratic stray from it by at most a quarter of
    // |a - 2c + b| over the square of their number.
    let (bx, by) = (a.0 - 2.0 * c.0 + b.0, a.1 - 2.0 * c.1 + b.1);
    let bend = (bx * bx + by * by).sqrt();
    let count = (bend / (4.0 * TOLERANCE_PX))
        .sqrt()
        .ceil()
        .clamp(1.0, MAX_SEGMENTS) as usize;
    let mut from = a;
    for k in 1..=count {
        let t = k as f32 / count as f32;
        let u = 1.0 - t;
        let to = (
            u * u * a.0 + 2.0 * u * t * c.0 + t * t * b.0,
            u * u * a.1 + 2.0 * u * t * c.1 + t * t * b.1,
        );
        segments.push(Segment {
            from,
            to,
            radius,
            past: (0.0, 0.0),
        });
        from = to;
    }
}

/// Blends `color` at `alpha` times each pixel's coverage over `pixels`
/// (straight alpha: the "source over" rule, divided back by the result's
/// alpha).
fn blend(pixels: &mut Pixels<'_>, area: &PixelRect, coverage: &[u8], color: [u8; 3], alpha: f32) {
    let (ox, oy) = pixels.origin;
    let stride = pixels.size.0 as usize * 4;
    let width = area.size().0 as usize;
    let color = color.map(f32::from);
    for (row, covered) in coverage.chunks_exact(width).enumerate() {
        let y = area.y0 + row as i32 - oy;
        let start = y as usize * stride + (area.x0 - ox) as usize * 4;
        let Some(line) = pixels.data.get_mut(start..start + width * 4) else {
            continue;
        };
        for (pixel, &cover) in line.chunks_exact_mut(4).zip(covered) {
            if cover == 0 {
                continue;
            }
            // Alphas in 255ths.
            let source = f32::from(cover) * alpha;
            let below = f32::from(pixel[3]) * (1.0 - source / 255.0);
            let total = source + below;
            let per_total = 1.0 / total;
            for (channel, &value) in pixel[..3].iter_mut().zip(&color) {
                *channel = ((value * source + f32::from(*channel) * below) * per_total + 0.5) as u8;
            }
            pixel[3] = (total + 0.5) as u8;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{Color, StrokeId, StrokeStyle};

    const WHITE_ON_NOTHING: [u8; 4] = [0, 0, 0, 0];

    fn stroke(points: &[(f32, f32)], width: f32, color: &str) -> Stroke {
        let style = StrokeStyle {
            color: Color::parse(color).unwrap(),
            width,
        };
        let points = points
            .iter()
            .map(|&(x, y)| Point {
                x,
                y,
                pressure: Point::DEFAULT_PRESSURE,
            })
            .collect();
        Stroke::freehand(StrokeId::parse("s").unwrap(), style, points)
    }

    /// Paints `strokes` onto a `w` × `h` bitmap (1 pixel a unit) through
    /// the rectangle at `origin` of `size`; returns the whole bitmap.
    fn paint_through(
        strokes: &[Stroke],
        (w, h): (i32, i32),
        origin: (i32, i32),
        size: (i32, i32),
    ) -> Vec<u8> {
        let mut bitmap = vec![0u8; (w * h * 4) as usize];
        let mut part = vec![0u8; (size.0 * size.1 * 4) as usize];
        let mut rasteriser = Rasteriser::default();
        let at = Placement {
            scale: 1.0,
            anchor: (0.0, 0.0),
        };
        for stroke in strokes {
            let mut pixels = Pixels {
                data: &mut part,
                origin,
                size,
            };
            rasteriser.paint(&mut pixels, &at, stroke, 1.0, 0.0);
        }
        for y in 0..size.1 {
            for x in 0..size.0 {
                let from = ((y * size.0 + x) * 4) as usize;
                let to = (((origin.1 + y) * w + origin.0 + x) * 4) as usize;
                bitmap[to..to + 4].copy_from_slice(&part[from..from + 4]);
            }
        }
        bitmap
    }

    fn pixel(bitmap: &[u8], width: i32, x: i32, y: i32) -> [u8; 4] {
        let at = ((y * width + x) * 4) as usize;
        [bitmap[at], bitmap[at + 1], bitmap[at + 2], bitmap[at + 3]]
    }

    #[test]
    fn coverage_is_the_share_of_the_pixel_across_the_line() {
        assert_eq!(coverage(0.0, 2.0), 1.0);
        assert_eq!(coverage(1.5, 2.0), 1.0);
        assert_eq!(coverage(2.0, 2.0), 0.5);
        assert_eq!(coverage(2.5, 2.0), 0.0);
        // Thinner than a pixel: covers as much as it is wide.
        assert_eq!(coverage(0.0, 0.25), 0.5);
        assert_eq!(coverage(0.5, 0.25), 0.25);
    }

    #[test]
    fn a_horizontal_stroke_covers_its_width_and_its_round_caps() {
        // Width 4 (pressure 0.5 keeps it), from x 10 to 30 along y 10.
        let line = stroke(&[(10.0, 10.0), (30.0, 10.0)], 4.0, "#ff0000");
        let bitmap = paint_through(&[line], (40, 20), (0, 0), (40, 20));
        // Solid inside, in the stroke's colour.
        assert_eq!(pixel(&bitmap, 40, 20, 9), [255, 0, 0, 255]);
        assert_eq!(pixel(&bitmap, 40, 20, 11), [255, 0, 0, 255]);
        // Rows 8..12 are covered; the pixel centres at 7.5 and 12.5 are 2.5
        // from the line: nothing.
        assert_eq!(pixel(&bitmap, 40, 20, 7)[3], 0);
        assert_eq!(pixel(&bitmap, 40, 20, 12)[3], 0);
        // The cap is round: it reaches 2 past the end along the line (the
        // pixel centred 1.6 from the end is mostly covered, the one 2.5
        // away not at all) and less far diagonally (a square cap would
        // cover the pixel at (31, 8) fully).
        assert_eq!(pixel(&bitmap, 40, 30, 9)[3], 255);
        assert_eq!(pixel(&bitmap, 40, 31, 9)[3], 234);
        assert_eq!(pixel(&bitmap, 40, 31, 8)[3], 97);
        assert_eq!(pixel(&bitmap, 40, 32, 9)[3], 0);
    }

    #[test]
    fn overlapping_segments_of_one_stroke_blend_once() {
        // Half-transparent, doubling back over itself: the overlap is no
        // darker than the rest.
        let mut zigzag = stroke(
            &[(5.0, 10.0), (30.0, 10.0), (5.0, 10.5), (30.0, 10.0)],
            6.0,
            "#0000ff80",
        );
        zigzag.opacity = 1.0;
        let bitmap = paint_through(&[zigzag], (40, 20), (0, 0), (40, 20));
        let alpha = pixel(&bitmap, 40, 17, 10)[3];
        assert!((127..=129).contains(&alpha), "alpha {alpha}");
    }

    #[test]
    fn a_stroke_over_another_blends_source_over() {
        let red = stroke(&[(0.0, 5.0), (20.0, 5.0)], 6.0, "#ff0000");
        let mut blue = stroke(&[(0.0, 5.0), (20.0, 5.0)], 6.0, "#0000ff");
        blue.opacity = 0.5;
        let bitmap = paint_through(&[red, blue], (20, 10), (0, 0), (20, 10));
        let [r, g, b, a] = pixel(&bitmap, 20, 10, 5);
        assert_eq!((g, a), (0, 255));
        assert!(
            (126..=129).contains(&r) && (126..=129).contains(&b),
            "{r} {b}"
        );
    }

    #[test]
    fn any_rectangle_of_the_bitmap_gets_the_same_pixels() {
        let wave = stroke(
            &[
                (3.0, 20.0),
                (12.0, 4.0),
                (25.0, 30.0),
                (33.0, 9.0),
                (44.0, 22.0),
            ],
            3.0,
            "#2f9e44",
        );
        let whole = paint_through(std::slice::from_ref(&wave), (48, 36), (0, 0), (48, 36));
        assert!(whole.chunks_exact(4).filter(|p| p[3] > 0).count() > 100);
        let part = paint_through(&[wave], (48, 36), (10, 7), (21, 15));
        for y in 7..22 {
            for x in 10..31 {
                assert_eq!(
                    pixel(&part, 48, x, y),
                    pixel(&whole, 48, x, y),
                    "at {x}, {y}"
                );
            }
        }
        // And nothing outside the rectangle.
        assert_eq!(pixel(&part, 48, 3, 20), WHITE_ON_NOTHING);
    }

    #[test]
    fn a_stroke_covers_what_its_round_capped_segments_cover_together() {
        // Against the distance to the nearest segment, pixel by pixel: a
        // curvy stroke with a change of width (round joins drawn) and a
        // wide gentle arc (bands run on past each joint, as a miter).
        let mut wave = stroke(
            &[
                (3.0, 20.0),
                (12.0, 4.0),
                (25.0, 30.0),
                (33.0, 9.0),
                (44.0, 22.0),
                (20.0, 25.0),
            ],
            5.0,
            "#000000",
        );
        wave.points[3].pressure = 0.9;
        let arc: Vec<(f32, f32)> = (0..12)
            .map(|i| (4.0 + i as f32 * 4.0, 30.0 - (i as f32 - 5.5).powi(2) * 0.6))
            .collect();
        let arc = stroke(&arc, 14.0, "#000000");
        for line in [wave, arc] {
            let bitmap = paint_through(std::slice::from_ref(&line), (56, 44), (0, 0), (56, 44));
            let at = Placement {
                scale: 1.0,
                anchor: (0.0, 0.0),
            };
            let mut segments = Vec::new();
            let width = line.style.width;
            centre_line(
                &mut segments,
                &mut Vec::new(),
                &at,
                &line.points,
                width,
                0.0,
            );
            let mut inked = 0;
            for y in 0..44 {
                for x in 0..56 {
                    let (px, py) = (x as f32 + 0.5, y as f32 + 0.5);
                    let expected = segments
                        .iter()
                        .map(|s| {
                            let (dx, dy) = (s.to.0 - s.from.0, s.to.1 - s.from.1);
                            let length_sq = (dx * dx + dy * dy).max(1e-12);
                            let t = (((px - s.from.0) * dx + (py - s.from.1) * dy) / length_sq)
                                .clamp(0.0, 1.0);
                            let (ex, ey) = (px - s.from.0 - t * dx, py - s.from.1 - t * dy);
                            coverage((ex * ex + ey * ey).sqrt(), s.radius)
                        })
                        .fold(0.0, f32::max);
                    let actual = f32::from(pixel(&bitmap, 56, x, y)[3]) / 255.0;
                    assert!(
                        (actual - expected).abs() <= 0.06,
                        "at {x}, {y}: {actual} for {expected}"
                    );
                    inked += usize::from(actual > 0.0);
                }
            }
            assert!(inked > 300, "{inked}");
        }
    }

    #[test]
    fn a_single_sample_is_a_dot_and_strokes_far_away_or_invisible_paint_nothing() {
        let dot = stroke(&[(10.0, 10.0)], 4.0, "#000000");
        let bitmap = paint_through(&[dot], (20, 20), (0, 0), (20, 20));
        assert_eq!(pixel(&bitmap, 20, 10, 10), [0, 0, 0, 255]);
        assert_eq!(pixel(&bitmap, 20, 13, 10)[3], 0);
        let far = stroke(&[(1e9, -1e9), (f32::MAX, 5.0)], 4.0, "#000000");
        let mut clear = stroke(&[(0.0, 0.0), (20.0, 20.0)], 4.0, "#000000");
        clear.opacity = 0.0;
        let bitmap = paint_through(&[far, clear], (20, 20), (0, 0), (20, 20));
        assert!(bitmap.iter().all(|&v| v == 0));
    }
}
