//! The laser pointer's trail: where someone pointed in the last second,
//! fading as it ages. Live only: it travels as `cursor` messages marked
//! `laser` and is never stored.
//!
//! A trail is a list of timed points, oldest first. Each segment between
//! two points is drawn with the opacity of its newer end's age (1 when just
//! made, 0 after [`LASER_FADE_MS`]); points older than that are dropped.
//! Pure and shared, so the fading is tested natively; the browser draws
//! what [`Trail::segments`] gives.

use std::collections::VecDeque;

/// A laser trail's point is gone this long after it was made (ms).
pub const LASER_FADE_MS: f64 = 1_000.0;

/// Points kept at most (a minute of frames would be far more than a
/// second's worth; this bounds a trail fed faster than it fades).
const MAX_POINTS: usize = 256;

/// Where someone's laser has been: x, y, when (milliseconds, on whatever
/// clock the caller passes in), and whether the point continues the one
/// before it (the laser was held down in between) or starts a new stroke
/// of light.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Trail {
    points: VecDeque<(f32, f32, f64, bool)>,
}

impl Trail {
    /// Adds the laser's position at `now`; `continues` joins it to the
    /// previous point (the button stayed down).
    pub fn push(&mut self, x: f32, y: f32, now: f64, continues: bool) {
        self.prune(now);
        if self.points.len() == MAX_POINTS {
            self.points.pop_front();
        }
        self.points.push_back((x, y, now, continues));
    }

    /// Drops the points that have faded out by `now`.
    pub fn prune(&mut self, now: f64) {
        while self
            .points
            .front()
            .is_some_and(|&(_, _, at, _)| now - at >= LASER_FADE_MS)
        {
            self.points.pop_front();
        }
    }

    /// The segments still shown at `now`: from, to, and opacity (0..=1).
    pub fn segments(&self, now: f64) -> impl Iterator<Item = ((f32, f32), (f32, f32), f32)> + '_ {
        // A segment joins a point to the one before it; the first point
        // kept has none before it, whatever it was joined to.
        self.points
            .iter()
            .zip(self.points.iter().skip(1))
            .filter(|(_, &(_, _, _, joined))| joined)
            .filter_map(move |(&(x0, y0, _, _), &(x1, y1, at, _))| {
                let opacity = (1.0 - (now - at) / LASER_FADE_MS) as f32;
                (opacity > 0.0).then_some(((x0, y0), (x1, y1), opacity))
            })
    }

    /// When the last point fades out: frames are due until then.
    pub fn fades_out_at(&self) -> f64 {
        self.points
            .back()
            .map_or(f64::NEG_INFINITY, |&(_, _, at, _)| at + LASER_FADE_MS)
    }

    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trail_fades_within_a_second_and_then_is_gone() {
        let mut trail = Trail::default();
        trail.push(0.0, 0.0, 0.0, true);
        trail.push(10.0, 0.0, 100.0, true);
        trail.push(20.0, 0.0, 200.0, true);
        let at = |now| trail.segments(now).collect::<Vec<_>>();
        assert_eq!(
            at(200.0),
            [
                ((0.0, 0.0), (10.0, 0.0), 0.9),
                ((10.0, 0.0), (20.0, 0.0), 1.0)
            ]
        );
        // Older segments are fainter; each fades out a second after its end.
        assert_eq!(
            at(700.0),
            [
                ((0.0, 0.0), (10.0, 0.0), 0.4),
                ((10.0, 0.0), (20.0, 0.0), 0.5)
            ]
        );
        assert_eq!(at(1_150.0), [((10.0, 0.0), (20.0, 0.0), 0.05)]);
        assert!(at(1_200.0).is_empty());
        assert_eq!(trail.fades_out_at(), 1_200.0);
        trail.prune(1_200.0);
        assert!(trail.is_empty());
        assert_eq!(trail.fades_out_at(), f64::NEG_INFINITY);
    }

    #[test]
    fn a_new_press_starts_a_new_stroke_of_light() {
        let mut trail = Trail::default();
        trail.push(0.0, 0.0, 0.0, true);
        trail.push(10.0, 0.0, 10.0, true);
        trail.push(500.0, 500.0, 20.0, false);
        trail.push(510.0, 500.0, 30.0, true);
        let segments: Vec<_> = trail.segments(30.0).map(|(a, b, _)| (a, b)).collect();
        assert_eq!(
            segments,
            [((0.0, 0.0), (10.0, 0.0)), ((500.0, 500.0), (510.0, 500.0))]
        );
    }

    #[test]
    fn a_trail_fed_faster_than_it_fades_stays_bounded() {
        let mut trail = Trail::default();
        for i in 0..10_000 {
            trail.push(i as f32, 0.0, f64::from(i) * 0.01, true);
        }
        assert_eq!(trail.points.len(), MAX_POINTS);
        assert_eq!(trail.segments(100.0).count(), MAX_POINTS - 1);
    }
}
