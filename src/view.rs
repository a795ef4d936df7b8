//! The view transform: which part of the infinite board the canvas shows.
//!
//! The board lives in world coordinates (what the protocol carries); the
//! canvas shows the world scaled by `zoom` with `origin` at its top-left
//! corner. Pan and zoom are local to this tab, so people looking at different
//! parts of a board, at different zoom levels, still share one board.

use crate::geometry::Rect;

/// Zoom bounds and the factor one +/- step applies.
pub const MIN_ZOOM: f64 = 0.1;
pub const MAX_ZOOM: f64 = 8.0;
pub const ZOOM_STEP: f64 = 1.2;

/// A ctrl/⌘+wheel event zooms by `e^(-delta_y × WHEEL_ZOOM_RATE)`, its
/// delta (CSS pixels) capped at `WHEEL_DELTA_CAP` = ln([`ZOOM_STEP`]) /
/// `WHEEL_ZOOM_RATE` (written out: `ln` is not `const`, and brings its
/// code into the WebAssembly).
const WHEEL_ZOOM_RATE: f64 = 0.01;
const WHEEL_DELTA_CAP: f64 = 18.232_155_679_395_46;

/// The zoom factor of one ctrl/⌘+wheel event (a trackpad's pinch arrives
/// so too). A trackpad sends many small deltas, which follow the fingers
/// as they are; a mouse sends one big delta a notch (100 px in Chromium,
/// which uncapped zoomed 100 % to 272 %), capped to one zoom step, as the
/// buttons and keys take.
pub fn wheel_zoom_factor(delta_y: f64) -> f64 {
    (-delta_y.clamp(-WHEEL_DELTA_CAP, WHEEL_DELTA_CAP) * WHEEL_ZOOM_RATE).exp()
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct View {
    /// World coordinates of the canvas' top-left corner.
    pub origin: (f64, f64),
    /// Screen pixels (CSS) per world unit.
    pub zoom: f64,
}

impl Default for View {
    fn default() -> Self {
        Self {
            origin: (0.0, 0.0),
            zoom: 1.0,
        }
    }
}

impl View {
    pub fn to_world(&self, (x, y): (f64, f64)) -> (f64, f64) {
        (self.origin.0 + x / self.zoom, self.origin.1 + y / self.zoom)
    }

    pub fn to_screen(&self, (x, y): (f64, f64)) -> (f64, f64) {
        (
            (x - self.origin.0) * self.zoom,
            (y - self.origin.1) * self.zoom,
        )
    }

    /// Moves the view by a screen-space distance (content follows the pointer).
    pub fn pan_by(&mut self, dx: f64, dy: f64) {
        self.origin.0 -= dx / self.zoom;
        self.origin.1 -= dy / self.zoom;
    }

    /// Zooms to `zoom` keeping the world point under `anchor` (screen) in place.
    pub fn zoom_at(&mut self, zoom: f64, anchor: (f64, f64)) {
        let zoom = zoom.clamp(MIN_ZOOM, MAX_ZOOM);
        let fixed = self.to_world(anchor);
        self.zoom = zoom;
        self.origin = (fixed.0 - anchor.0 / zoom, fixed.1 - anchor.1 / zoom);
    }

    /// The world rectangle the canvas of `size` (CSS pixels) shows.
    pub fn visible(&self, size: (f64, f64)) -> Rect {
        let (x0, y0) = self.origin;
        let (x1, y1) = self.to_world(size);
        Rect::from_corners((x0 as f32, y0 as f32), (x1 as f32, y1 as f32))
    }

    /// The view that shows `content` whole and centred in a canvas of `size`,
    /// with a margin, never zoomed in beyond 100 %.
    pub fn fitting(content: &Rect, size: (f64, f64)) -> Self {
        const MARGIN: f64 = 48.0;
        Self::centred_on(content, size, MARGIN, 1.0)
    }

    /// The view that shows `area` (someone else's view) whole and centred
    /// in a canvas of `size`, at the zoom that makes it just fit.
    pub fn showing(area: &Rect, size: (f64, f64)) -> Self {
        Self::centred_on(area, size, 0.0, MAX_ZOOM)
    }

    /// This view if it shows `area` whole; else the view centred on it, at
    /// this zoom or, if it does not fit, zoomed out until it does (the item
    /// list brings an item into view with it).
    pub fn bringing_into_view(&self, area: &Rect, size: (f64, f64)) -> Self {
        const MARGIN: f64 = 48.0;
        if self.visible(size).contains_rect(area) {
            return *self;
        }
        Self::centred_on(area, size, MARGIN, self.zoom)
    }

    fn centred_on(content: &Rect, size: (f64, f64), margin: f64, most_zoom: f64) -> Self {
        let width = f64::from(content.width()).max(1.0);
        let height = f64::from(content.height()).max(1.0);
        // Not `clamp`: with a bound that is not a constant, its check of the
        // bounds formats `f64`s for its panic message, which brings the
        // standard library's float formatting into the WebAssembly.
        let zoom = ((size.0 - 2.0 * margin) / width)
            .min((size.1 - 2.0 * margin) / height)
            .min(most_zoom)
            .max(MIN_ZOOM);
        let (cx, cy) = content.center();
        Self {
            origin: (
                f64::from(cx) - size.0 / 2.0 / zoom,
                f64::from(cy) - size.1 / 2.0 / zoom,
            ),
            zoom,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zooming_keeps_the_anchor_in_place() {
        let mut view = View::default();
        view.pan_by(-100.0, 50.0);
        let anchor = (300.0, 200.0);
        let before = view.to_world(anchor);
        view.zoom_at(2.5, anchor);
        let after = view.to_world(anchor);
        assert!((before.0 - after.0).abs() < 1e-9 && (before.1 - after.1).abs() < 1e-9);
        assert_eq!(view.to_screen(after), anchor);
        view.zoom_at(1000.0, anchor);
        assert_eq!(view.zoom, MAX_ZOOM);
    }

    #[test]
    fn a_wheel_notch_zooms_one_step_and_a_pinch_follows_the_fingers() {
        let close = |a: f64, b: f64| (a - b).abs() < 1e-9;
        assert!(close(WHEEL_DELTA_CAP, ZOOM_STEP.ln() / WHEEL_ZOOM_RATE));
        // A mouse notch, as Chromium (100 px) and Firefox (3 lines) send it.
        assert!(close(wheel_zoom_factor(-100.0), ZOOM_STEP));
        assert!(close(wheel_zoom_factor(100.0), 1.0 / ZOOM_STEP));
        assert!(close(wheel_zoom_factor(-48.0), ZOOM_STEP));
        // Two notches: two steps, not 739 %.
        assert!(close(
            wheel_zoom_factor(-100.0).powi(2),
            ZOOM_STEP * ZOOM_STEP
        ));
        // A pinch's small deltas are not capped: ten of 2 px make about 1.22×.
        assert!(close(wheel_zoom_factor(-2.0), (0.02f64).exp()));
        assert!(close(wheel_zoom_factor(-2.0).powi(10), (0.2f64).exp()));
        assert!(close(wheel_zoom_factor(0.0), 1.0));
    }

    #[test]
    fn fitting_centres_the_content() {
        let content = Rect::from_corners((1000.0, 1000.0), (3000.0, 2000.0));
        let view = View::fitting(&content, (800.0, 600.0));
        let (cx, cy) = view.to_screen((2000.0, 1500.0));
        assert!((cx - 400.0).abs() < 1e-6 && (cy - 300.0).abs() < 1e-6);
        assert!(view.visible((800.0, 600.0)).contains_rect(&content));
    }

    #[test]
    fn bringing_into_view_moves_only_when_needed_and_keeps_the_zoom_if_it_fits() {
        let mut view = View::default();
        view.zoom_at(2.0, (0.0, 0.0));
        let size = (800.0, 600.0);
        let in_sight = Rect::from_corners((10.0, 10.0), (50.0, 50.0));
        assert_eq!(view.bringing_into_view(&in_sight, size), view);
        let far = Rect::from_corners((5000.0, 5000.0), (5100.0, 5050.0));
        let moved = view.bringing_into_view(&far, size);
        assert_eq!(moved.zoom, 2.0);
        let (cx, cy) = moved.to_screen((5050.0, 5025.0));
        assert!((cx - 400.0).abs() < 1e-6 && (cy - 300.0).abs() < 1e-6);
        let huge = Rect::from_corners((0.0, 0.0), (4000.0, 100.0));
        let zoomed_out = view.bringing_into_view(&huge, size);
        assert!(zoomed_out.zoom < 0.2);
        assert!(zoomed_out.visible(size).contains_rect(&huge));
    }

    #[test]
    fn showing_someones_view_fits_it_edge_to_edge() {
        // A leader's 1600 × 900 view on an 800 × 600 follower: half the
        // zoom, the whole width, centred vertically.
        let area = Rect::from_corners((100.0, 50.0), (1700.0, 950.0));
        let view = View::showing(&area, (800.0, 600.0));
        assert!((view.zoom - 0.5).abs() < 1e-9);
        let (cx, cy) = view.to_screen((900.0, 500.0));
        assert!((cx - 400.0).abs() < 1e-6 && (cy - 300.0).abs() < 1e-6);
        assert!(view.visible((800.0, 600.0)).contains_rect(&area));
        // A tiny area is shown at most at the highest zoom.
        let dot = Rect::from_corners((0.0, 0.0), (2.0, 2.0));
        assert_eq!(View::showing(&dot, (800.0, 600.0)).zoom, MAX_ZOOM);
    }
}
