//! What the pointer is doing: a gesture as a pure state machine.
//!
//! A gesture starts on a press, follows the pointer's moves and ends on a
//! release (commit) or a cancel / Escape (abandon). While it runs, the tab
//! shows [`Gesture::live_strokes`] in place of the stored strokes and sends
//! them to everyone else as a `draft` (or, for the pen, as `preview`
//! points), so others see shapes being dragged out and items being moved
//! while it happens. Only the commit becomes a durable, undoable request.
//!
//! Inputs arrive in world coordinates (the browser adapter, `client::input`,
//! converts DOM events through the view and does the hit testing a press
//! needs); each step answers with what it changed ([`Moved`]) and the end
//! with what to do ([`Finished`], [`Abandoned`]). Nothing here calls out or
//! knows the browser, so every rule (sample spacing, long strokes split,
//! shift constraints, accidental clicks dropped) is unit-tested natively.

use crate::geometry::{self, Handle, Rect};
use crate::protocol::{limits, ClientMessage, Point, Stroke, StrokeId, StrokeKind};

/// Samples closer than this to the previous one (in screen pixels) are skipped.
pub const MIN_SAMPLE_DISTANCE: f64 = 0.75;
/// Long pen strokes are committed in parts of this many points, so that
/// each `add_stroke` frame stays well below the frame size limit (a point
/// takes about 21 bytes of JSON) and the point limit.
pub const SPLIT_STROKE_AT: usize = 2_000;
/// Shapes smaller than this (screen pixels) on both axes are dropped as
/// accidental clicks.
pub const MIN_SHAPE_SIZE: f64 = 3.0;

/// What the pointer is doing.
#[derive(Debug, Clone, PartialEq)]
pub enum Gesture {
    Idle,
    /// Drawing a freehand stroke; `previewed` points were sent already.
    Drawing {
        pointer_id: i32,
        stroke: Stroke,
        previewed: usize,
    },
    Erasing {
        pointer_id: i32,
        last: Point,
        hits: Vec<StrokeId>,
    },
    /// Dragging out a rectangle, ellipse, line or arrow.
    Shaping {
        pointer_id: i32,
        start: (f32, f32),
        stroke: Stroke,
    },
    Panning {
        pointer_id: i32,
        last: (f64, f64),
    },
    /// The text tool was pressed here; releasing opens the editor (on the
    /// text under the pointer, or for a new text).
    PlacingText {
        pointer_id: i32,
        at: (f32, f32),
    },
    /// Two fingers: pan with their midpoint, zoom with their distance.
    Pinching {
        last_mid: (f64, f64),
        last_distance: f64,
    },
    Moving {
        pointer_id: i32,
        start: (f32, f32),
        originals: Vec<Stroke>,
        current: Vec<Stroke>,
    },
    Resizing {
        pointer_id: i32,
        handle: Handle,
        from: Rect,
        originals: Vec<Stroke>,
        current: Vec<Stroke>,
    },
    Marquee {
        pointer_id: i32,
        start: (f32, f32),
        end: (f32, f32),
        /// Shift: add to the selection instead of replacing it.
        adding: bool,
    },
}

/// What one pointer move changed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Moved {
    /// Not this gesture's pointer, or nothing to do.
    Nothing,
    /// What is shown changed (the marquee).
    Redraw,
    /// The live strokes changed: redraw and send the draft again.
    Draft,
    /// Pan the view by this many screen pixels.
    Pan(f64, f64),
}

/// What a pen sample did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Sampled {
    /// Too close to the previous sample, or not drawing.
    Skipped,
    Added,
    /// Added, and the stroke is as long as a stroke may be: commit it
    /// ([`Gesture::finish`]) and go on with [`Gesture::continue_drawing`].
    Full,
}

/// What a gesture leaves to do when it ends with a release.
#[derive(Debug, Clone, PartialEq)]
pub enum Finished {
    Nothing,
    /// A pen stroke or a shape to add.
    Add(Stroke),
    /// What the eraser went over.
    Erase(Vec<StrokeId>),
    /// Items moved or resized: their new state.
    Update(Vec<Stroke>),
    /// Select the items inside `area` (added to the selection when `adding`).
    Select {
        area: Rect,
        adding: bool,
    },
    /// Open the text editor here (on a text under it, or for a new one).
    PlaceText((f32, f32)),
}

/// What a gesture leaves to tell everyone else when it is dropped.
#[derive(Debug, Clone, PartialEq)]
pub enum Abandoned {
    Nothing,
    /// The pen's preview went out: end it.
    PreviewEnd(StrokeId),
    /// A draft may be out: end it.
    DraftEnd,
}

impl Gesture {
    /// The pointer that drives the gesture (none for idle and pinching).
    pub fn pointer(&self) -> Option<i32> {
        match self {
            Gesture::Idle | Gesture::Pinching { .. } => None,
            Gesture::Drawing { pointer_id, .. }
            | Gesture::Erasing { pointer_id, .. }
            | Gesture::Shaping { pointer_id, .. }
            | Gesture::Panning { pointer_id, .. }
            | Gesture::PlacingText { pointer_id, .. }
            | Gesture::Moving { pointer_id, .. }
            | Gesture::Resizing { pointer_id, .. }
            | Gesture::Marquee { pointer_id, .. } => Some(*pointer_id),
        }
    }

    /// Starts moving or resizing `selected` (the selection as shown).
    pub fn moving(pointer_id: i32, start: (f32, f32), selected: Vec<Stroke>) -> Self {
        Gesture::Moving {
            pointer_id,
            start,
            current: selected.clone(),
            originals: selected,
        }
    }

    pub fn resizing(pointer_id: i32, handle: Handle, from: Rect, selected: Vec<Stroke>) -> Self {
        Gesture::Resizing {
            pointer_id,
            handle,
            from,
            current: selected.clone(),
            originals: selected,
        }
    }

    /// Strokes in progress, shown in place of (or on top of) stored ones.
    pub fn live_strokes(&self) -> Vec<&Stroke> {
        match self {
            Gesture::Drawing { stroke, .. } | Gesture::Shaping { stroke, .. } => vec![stroke],
            Gesture::Moving { current, .. } | Gesture::Resizing { current, .. } => {
                current.iter().collect()
            }
            _ => Vec::new(),
        }
    }

    /// Strokes the gesture removes from view (the eraser's hits).
    pub fn hidden(&self) -> &[StrokeId] {
        match self {
            Gesture::Erasing { hits, .. } => hits,
            _ => &[],
        }
    }

    pub fn is_transforming(&self) -> bool {
        matches!(self, Gesture::Moving { .. } | Gesture::Resizing { .. })
    }

    pub fn marquee(&self) -> Option<Rect> {
        match self {
            Gesture::Marquee { start, end, .. } => Some(Rect::from_corners(*start, *end)),
            _ => None,
        }
    }

    pub fn has_unsent_preview(&self) -> bool {
        matches!(self, Gesture::Drawing { stroke, previewed, .. } if *previewed < stroke.points.len())
    }

    /// The pen's new points as `preview` messages, marked as sent.
    pub fn take_preview(&mut self) -> Vec<ClientMessage> {
        let Gesture::Drawing {
            stroke, previewed, ..
        } = self
        else {
            return Vec::new();
        };
        let fresh = &stroke.points[*previewed..];
        let messages = fresh
            .chunks(limits::MAX_PREVIEW_POINTS)
            .map(|chunk| ClientMessage::Preview {
                stroke: stroke.id.clone(),
                style: stroke.style.clone(),
                points: chunk.to_vec(),
            })
            .collect();
        *previewed = stroke.points.len();
        messages
    }

    /// A pen sample (world coordinates), kept if it is at least
    /// `min_distance` (world units) from the previous one.
    pub fn add_sample(&mut self, point: Point, min_distance: f32) -> Sampled {
        let Gesture::Drawing { stroke, .. } = self else {
            return Sampled::Skipped;
        };
        let far_enough = stroke.points.last().is_none_or(|last| {
            let (dx, dy) = (point.x - last.x, point.y - last.y);
            dx * dx + dy * dy >= min_distance * min_distance
        });
        if !far_enough {
            return Sampled::Skipped;
        }
        stroke.points.push(point);
        if stroke.points.len() >= SPLIT_STROKE_AT {
            Sampled::Full
        } else {
            Sampled::Added
        }
    }

    /// After a [`Sampled::Full`] stroke was finished: the next part, a new
    /// stroke starting at the last sample, seamlessly.
    pub fn continue_drawing(pointer_id: i32, stroke: Stroke) -> Self {
        Gesture::Drawing {
            pointer_id,
            stroke,
            previewed: 0,
        }
    }

    /// The eraser's previous position, while erasing.
    pub fn eraser_at(&self) -> Option<Point> {
        match self {
            Gesture::Erasing { last, .. } => Some(*last),
            _ => None,
        }
    }

    /// The eraser moved to `to` and went over `hits`; whether any was new.
    pub fn erased(&mut self, to: Point, hits: Vec<StrokeId>) -> bool {
        let Gesture::Erasing {
            last, hits: all, ..
        } = self
        else {
            return false;
        };
        *last = to;
        let mut new = false;
        for hit in hits {
            if !all.contains(&hit) {
                all.push(hit);
                new = true;
            }
        }
        new
    }

    /// The gesture's pointer moved to `world` (`screen`: the same place in
    /// screen pixels, for panning). Pen and eraser samples go through
    /// [`Self::add_sample`] and [`Self::erased`] instead.
    pub fn pointer_moved(&mut self, world: (f32, f32), screen: (f64, f64), shift: bool) -> Moved {
        match self {
            Gesture::Shaping { start, stroke, .. } => {
                let end = if shift {
                    geometry::constrain(stroke.kind, *start, world)
                } else {
                    world
                };
                stroke.points[1] = Point::new(end.0, end.1, Point::DEFAULT_PRESSURE);
                Moved::Draft
            }
            Gesture::Panning { last, .. } => {
                let (dx, dy) = (screen.0 - last.0, screen.1 - last.1);
                *last = screen;
                Moved::Pan(dx, dy)
            }
            Gesture::Moving {
                start,
                originals,
                current,
                ..
            } => {
                let (mut dx, mut dy) = (world.0 - start.0, world.1 - start.1);
                if shift {
                    // Shift keeps the move horizontal or vertical.
                    if dx.abs() > dy.abs() {
                        dy = 0.0;
                    } else {
                        dx = 0.0;
                    }
                }
                *current = originals.iter().map(|s| s.translated(dx, dy)).collect();
                Moved::Draft
            }
            Gesture::Resizing {
                handle,
                from,
                originals,
                current,
                ..
            } => {
                // Texts keep their proportions (their size is one number).
                let keep_aspect = shift || originals.iter().any(|s| s.kind == StrokeKind::Text);
                let to = geometry::resized_box(from, *handle, world, keep_aspect);
                *current = originals
                    .iter()
                    .map(|s| geometry::resized(s, from, &to))
                    .collect();
                Moved::Draft
            }
            Gesture::Marquee { end, .. } => {
                *end = world;
                Moved::Redraw
            }
            Gesture::Idle
            | Gesture::Drawing { .. }
            | Gesture::Erasing { .. }
            | Gesture::Pinching { .. }
            | Gesture::PlacingText { .. } => Moved::Nothing,
        }
    }

    /// Two fingers moved to `mid`, `distance` apart: the pan (screen
    /// pixels) and zoom factor to apply around `mid`.
    pub fn pinched(&mut self, mid: (f64, f64), distance: f64) -> Option<((f64, f64), f64)> {
        let Gesture::Pinching {
            last_mid,
            last_distance,
        } = self
        else {
            return None;
        };
        let change = (
            (mid.0 - last_mid.0, mid.1 - last_mid.1),
            distance / *last_distance,
        );
        *last_mid = mid;
        *last_distance = distance;
        Some(change)
    }

    /// Ends the gesture with a release at zoom `zoom`; the gesture is idle
    /// afterwards.
    pub fn finish(&mut self, zoom: f64) -> Finished {
        match std::mem::replace(self, Gesture::Idle) {
            Gesture::Drawing { stroke, .. } => Finished::Add(stroke),
            Gesture::Erasing { hits, .. } if !hits.is_empty() => Finished::Erase(hits),
            Gesture::Shaping { stroke, .. } => {
                let (a, b) = (stroke.points[0], stroke.points[1]);
                let size = f64::from((a.x - b.x).abs()).max(f64::from((a.y - b.y).abs())) * zoom;
                if size >= MIN_SHAPE_SIZE {
                    Finished::Add(stroke)
                } else {
                    Finished::Nothing
                }
            }
            Gesture::Moving {
                originals, current, ..
            }
            | Gesture::Resizing {
                originals, current, ..
            } if originals != current => Finished::Update(current),
            Gesture::Marquee {
                start, end, adding, ..
            } => Finished::Select {
                area: Rect::from_corners(start, end),
                adding,
            },
            Gesture::PlacingText { at, .. } => Finished::PlaceText(at),
            _ => Finished::Nothing,
        }
    }

    /// Whether ending this gesture must end a draft (shapes, moves, resizes).
    pub fn drafts(&self) -> bool {
        matches!(
            self,
            Gesture::Shaping { .. } | Gesture::Moving { .. } | Gesture::Resizing { .. }
        )
    }

    /// Drops the gesture without changing the board; the gesture is idle
    /// afterwards.
    pub fn abandon(&mut self) -> Abandoned {
        let drafts = self.drafts();
        match std::mem::replace(self, Gesture::Idle) {
            Gesture::Drawing {
                stroke, previewed, ..
            } if previewed > 0 => Abandoned::PreviewEnd(stroke.id),
            _ if drafts => Abandoned::DraftEnd,
            _ => Abandoned::Nothing,
        }
    }
}

#[cfg(test)]
mod tests;
