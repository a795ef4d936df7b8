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
        let width = f64::from(content.width()).max(1.0);
        let height = f64::from(content.height()).max(1.0);
        let zoom = ((size.0 - 2.0 * MARGIN) / width)
            .min((size.1 - 2.0 * MARGIN) / height)
            .clamp(MIN_ZOOM, 1.0);
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
    fn fitting_centres_the_content() {
        let content = Rect::from_corners((1000.0, 1000.0), (3000.0, 2000.0));
        let view = View::fitting(&content, (800.0, 600.0));
        let (cx, cy) = view.to_screen((2000.0, 1500.0));
        assert!((cx - 400.0).abs() < 1e-6 && (cy - 300.0).abs() < 1e-6);
        assert!(view.visible((800.0, 600.0)).contains_rect(&content));
    }
}
