//! Pointer, wheel and keyboard input: the browser adapter of
//! [`crate::gesture`].
//!
//! DOM events become the gesture machine's inputs here: positions through
//! the view into world coordinates, coalesced pointer samples, pressure, and
//! the hit testing a press needs (which item or handle is under the
//! pointer, what the eraser went over, through the replica's scene). What
//! the gesture answers becomes requests, drafts, selection and view changes
//! on the engine.
//!
//! Pan and zoom: the hand tool, space+drag, the middle button, the wheel
//! (with ctrl/⌘ it zooms around the pointer) and two fingers (pinch).

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{KeyboardEvent, MouseEvent, PointerEvent, WheelEvent};

use leptos::prelude::{GetUntracked, Set, Update};

use super::engine::{Engine, EngineHandle};
use crate::geometry::{self, Handle, Rect};
use crate::gesture::{Abandoned, Finished, Gesture, Moved, Sampled, MIN_SAMPLE_DISTANCE};
use crate::protocol::{ClientMessage, Point, Request, Stroke, StrokeId, StrokeKind};
use crate::stacking::Restack;
use crate::ui::{Tool, ERASER_RADIUS};
use crate::view::{wheel_zoom_factor, ZOOM_STEP};

/// How close (screen pixels) a click must be to pick an item or a handle.
const PICK_TOLERANCE: f64 = 6.0;

/// Fractional `offsetX`/`offsetY`: web-sys only exposes the integer
/// version without unstable APIs, so read the properties directly.
fn offset(event: &MouseEvent) -> (f64, f64) {
    let read = |axis: &str| {
        js_sys::Reflect::get(event, &JsValue::from_str(axis))
            .ok()
            .and_then(|v| v.as_f64())
            .unwrap_or(0.0)
    };
    (read("offsetX"), read("offsetY"))
}

fn pressure(event: &PointerEvent) -> f32 {
    let pressure = match event.pointer_type().as_str() {
        "mouse" => Point::DEFAULT_PRESSURE,
        _ if event.pressure() > 0.0 => event.pressure().clamp(0.0, 1.0),
        _ => Point::DEFAULT_PRESSURE,
    };
    (pressure * 1000.0).round() / 1000.0
}

/// The event's coalesced events (all pointer positions since the last
/// event, for smooth fast strokes), or the event itself.
fn coalesced(event: &PointerEvent) -> Vec<PointerEvent> {
    let has_coalesced =
        js_sys::Reflect::has(event, &JsValue::from_str("getCoalescedEvents")).unwrap_or(false);
    if has_coalesced {
        let events: Vec<PointerEvent> = event
            .get_coalesced_events()
            .iter()
            .filter_map(|e| e.dyn_into::<PointerEvent>().ok())
            .collect();
        if !events.is_empty() {
            return events;
        }
    }
    vec![event.clone()]
}

/// Whether a key event is for a focused button or link (Enter presses it).
fn on_control(event: &KeyboardEvent) -> bool {
    event
        .target()
        .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
        .is_some_and(|el| matches!(el.tag_name().as_str(), "BUTTON" | "A"))
}

/// Whether an event comes from a text field or a dialog, where keys and
/// clipboard events belong to the field, not to the board.
pub(super) fn typing_in_field(event: &web_sys::Event) -> bool {
    event
        .target()
        .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
        .is_some_and(|el| {
            matches!(el.tag_name().as_str(), "INPUT" | "TEXTAREA" | "SELECT")
                || el.closest("[role=dialog]").ok().flatten().is_some()
        })
}

impl EngineHandle {
    pub(super) fn install_listeners(&self) -> Result<(), JsValue> {
        let canvas = self.0.borrow().canvas.clone();
        let window = web_sys::window().ok_or_else(|| JsValue::from_str("no window"))?;

        type PointerHandler = fn(&mut Engine, &PointerEvent);
        let pointer_handlers: [(&str, PointerHandler); 5] = [
            ("pointerdown", Engine::on_pointer_down),
            ("pointermove", Engine::on_pointer_move),
            ("pointerup", Engine::on_pointer_up),
            ("pointercancel", Engine::on_pointer_cancel),
            ("pointerleave", Engine::on_pointer_leave),
        ];
        for (name, handler) in pointer_handlers {
            let handle = self.clone();
            let closure = Closure::<dyn FnMut(PointerEvent)>::new(move |event: PointerEvent| {
                handle.with(|engine| handler(engine, &event));
            });
            canvas.add_event_listener_with_callback(name, closure.as_ref().unchecked_ref())?;
            // The canvas lives as long as the page; so do its listeners.
            closure.forget();
        }

        let handle = self.clone();
        let on_wheel = Closure::<dyn FnMut(WheelEvent)>::new(move |event: WheelEvent| {
            handle.with(|engine| engine.on_wheel(&event));
        });
        canvas.add_event_listener_with_callback("wheel", on_wheel.as_ref().unchecked_ref())?;
        on_wheel.forget();

        let handle = self.clone();
        let on_double_click = Closure::<dyn FnMut(MouseEvent)>::new(move |event: MouseEvent| {
            handle.with(|engine| engine.on_double_click(&event));
        });
        canvas.add_event_listener_with_callback(
            "dblclick",
            on_double_click.as_ref().unchecked_ref(),
        )?;
        on_double_click.forget();

        let handle = self.clone();
        let on_resize = Closure::<dyn FnMut()>::new(move || handle.resize());
        window.add_event_listener_with_callback("resize", on_resize.as_ref().unchecked_ref())?;
        on_resize.forget();

        let handle = self.clone();
        let on_key = Closure::<dyn FnMut(KeyboardEvent)>::new(move |event: KeyboardEvent| {
            handle.on_key_down(&event);
        });
        window.add_event_listener_with_callback("keydown", on_key.as_ref().unchecked_ref())?;
        on_key.forget();

        let handle = self.clone();
        let on_key_up = Closure::<dyn FnMut(KeyboardEvent)>::new(move |event: KeyboardEvent| {
            if event.key() == " " {
                handle.with(|engine| engine.space_held = false);
            }
        });
        window.add_event_listener_with_callback("keyup", on_key_up.as_ref().unchecked_ref())?;
        on_key_up.forget();
        Ok(())
    }

    fn on_key_down(&self, event: &KeyboardEvent) {
        if typing_in_field(event) {
            return;
        }
        let handled = self.with(|engine| engine.on_key(event)).unwrap_or(false);
        if handled {
            event.prevent_default();
        }
    }
}

impl Engine {
    /// Handles a shortcut; `true` if the key meant something here.
    fn on_key(&mut self, event: &KeyboardEvent) -> bool {
        let command = event.ctrl_key() || event.meta_key();
        let key = event.key();
        // Shortcuts are ASCII letters; Unicode case mapping would bring its
        // tables into the WebAssembly for nothing.
        let lower = key.to_ascii_lowercase();
        // A view link's page only looks around (its tool stays the hand).
        let looking = matches!(
            lower.as_str(),
            "=" | "+" | "-" | "0" | "!" | "?" | "escape" | " "
        );
        // So does a page showing a past version (history).
        if (self.ui.viewer || self.replica.past().is_some()) && !looking {
            return false;
        }
        match (command, event.shift_key(), lower.as_str()) {
            (true, false, "z") => self.submit(Request::Undo),
            (true, true, "z") | (true, false, "y") => self.submit(Request::Redo),
            (true, _, "d") => self.duplicate_selection(),
            (true, _, "a") => {
                self.ui.tool.set(Tool::Select);
                let all = self
                    .display_strokes()
                    .iter()
                    .map(|(s, _)| s.id.clone())
                    .collect();
                self.select(all);
            }
            (true, _, "0") => self.reset_zoom(),
            (true, _, "]") => self.restack_selection(Restack::Forward),
            (true, _, "[") => self.restack_selection(Restack::Backward),
            (true, _, "=" | "+") => self.zoom_by(ZOOM_STEP),
            (true, _, "-") => self.zoom_by(1.0 / ZOOM_STEP),
            (true, _, _) => return false,
            (false, _, "delete" | "backspace") => self.delete_selection(),
            (false, _, "escape") if self.replica.past().is_some() => {
                self.leave_past();
            }
            (false, _, "escape") if self.replica.follow().leader().is_some() => {
                self.follow("");
            }
            (false, _, "escape") => {
                self.abandon_gesture();
                self.select(Vec::new());
                self.ui.help_open.set(false);
            }
            (false, _, "?") => self.ui.help_open.update(|open| *open = !*open),
            (false, _, "=" | "+") => self.zoom_by(ZOOM_STEP),
            (false, _, "-") => self.zoom_by(1.0 / ZOOM_STEP),
            (false, true, "!") => self.zoom_to_fit(),
            (false, _, "0") => self.reset_zoom(),
            (false, _, "]") => self.restack_selection(Restack::ToFront),
            (false, _, "[") => self.restack_selection(Restack::ToBack),
            (false, _, " ") => {
                self.space_held = true;
            }
            (false, shift, arrow @ ("arrowleft" | "arrowright" | "arrowup" | "arrowdown")) => {
                let step = if shift { 10.0 } else { 1.0 };
                let (dx, dy) = match arrow {
                    "arrowleft" => (-step, 0.0),
                    "arrowright" => (step, 0.0),
                    "arrowup" => (0.0, -step),
                    _ => (0.0, step),
                };
                // With Alt, the selection grows or shrinks from its
                // bottom-right corner instead of moving.
                return match event.alt_key() {
                    true => self.resize_selection_by(dx, dy),
                    false => self.nudge_selection(dx, dy),
                };
            }
            // Enter on the board (not on a button) places what the tool
            // makes at the view's centre: drawing from the keyboard.
            (false, false, "enter") if !on_control(event) => return self.place_at_centre(),
            (false, false, key) => match Tool::from_shortcut(key) {
                Some(tool) => self.choose_tool(tool),
                None => return false,
            },
            _ => return false,
        }
        true
    }

    // ---- pointer ----

    fn point(&self, event: &PointerEvent) -> Point {
        let (x, y) = self.world(offset(event));
        Point::new(x, y, pressure(event))
    }

    fn on_pointer_down(&mut self, event: &PointerEvent) {
        let screen = offset(event);
        if event.pointer_type() == "touch" {
            self.lift_touch(event.pointer_id());
            self.touches.push((event.pointer_id(), screen));
            if self.touches.len() == 2 {
                // A second finger: whatever the first one started becomes a pinch.
                self.abandon_gesture();
                let (mid, distance) = self.pinch_span();
                self.gesture = Gesture::Pinching {
                    last_mid: mid,
                    last_distance: distance,
                };
                return;
            }
        }
        if !matches!(self.gesture, Gesture::Idle) {
            return; // One gesture at a time.
        }
        let middle = event.button() == 1;
        if event.pointer_type() == "mouse" && event.button() != 0 && !middle {
            return;
        }
        event.prevent_default();
        let _ = self.canvas.set_pointer_capture(event.pointer_id());
        if let Some(editor) = self.editor.take() {
            // Clicking outside the text editor commits it, and does nothing else.
            self.commit_text(editor);
            if self.ui.tool.get_untracked() == Tool::Text {
                return;
            }
        }
        let pointer_id = event.pointer_id();
        let tool = self.ui.tool.get_untracked();
        if middle || self.space_held || tool == Tool::Hand {
            self.gesture = Gesture::Panning {
                pointer_id,
                last: screen,
            };
            return;
        }
        let point = self.point(event);
        match tool {
            Tool::Pen => {
                let stroke = self.new_stroke(StrokeKind::Freehand, vec![point]);
                self.gesture = Gesture::Drawing {
                    pointer_id,
                    stroke,
                    previewed: 0,
                };
            }
            Tool::Eraser => {
                self.gesture = Gesture::Erasing {
                    pointer_id,
                    last: point,
                    hits: Vec::new(),
                };
                self.erase_along(&[point]);
            }
            Tool::Rectangle | Tool::Ellipse | Tool::Line | Tool::Arrow => {
                let kind = tool.shape_kind().unwrap_or(StrokeKind::Rectangle);
                let stroke = self.new_stroke(kind, vec![point, point]);
                self.gesture = Gesture::Shaping {
                    pointer_id,
                    start: (point.x, point.y),
                    stroke,
                };
            }
            Tool::Text => {
                // The editor opens on release, so that it keeps the focus.
                self.gesture = Gesture::PlacingText {
                    pointer_id,
                    at: (point.x, point.y),
                };
            }
            Tool::Select => self.begin_select(pointer_id, (point.x, point.y), event.shift_key()),
            Tool::Laser => {
                // Not a gesture: the laser changes nothing, it only sends
                // where it points (`flush_cursor`) and leaves a trail.
                self.lasering = Some(pointer_id);
                self.laser
                    .push(point.x, point.y, js_sys::Date::now(), false);
                self.cursor_unsent = Some((point.x, point.y));
            }
            Tool::Hand => {}
        }
        self.dirty = true;
    }

    /// The topmost shown item under a world point.
    fn item_at(&mut self, at: (f32, f32)) -> Option<Stroke> {
        let tolerance = (PICK_TOLERANCE / self.view.zoom) as f32;
        self.sync_board_layer();
        self.shown_in(&Rect::from_corners(at, at).expand(tolerance))
            .into_iter()
            .rev()
            .find(|s| geometry::hits(s, at, tolerance))
            .cloned()
    }

    /// The selection's resize handle under `at` (world), with the
    /// selection's box.
    fn handle_at(&self, at: (f32, f32)) -> Option<(Handle, Rect)> {
        let tolerance = (PICK_TOLERANCE / self.view.zoom) as f32 + 4.0 / self.view.zoom as f32;
        let from = self.selection_box()?;
        let padded = from.expand(4.0 / self.view.zoom as f32);
        Handle::ALL
            .into_iter()
            .find(|h| {
                let (x, y) = h.position(&padded);
                (x - at.0).abs() <= tolerance && (y - at.1).abs() <= tolerance
            })
            .map(|handle| (handle, from))
    }

    /// Over a resize handle, the pointer shows the way it resizes; the
    /// style sheet's cursor for the tool otherwise.
    fn show_handle_cursor(&mut self, at: (f32, f32)) {
        let cursor = match self.handle_at(at) {
            Some((Handle::TopLeft | Handle::BottomRight, _)) => "nwse-resize",
            Some((Handle::TopRight | Handle::BottomLeft, _)) => "nesw-resize",
            None => "",
        };
        if cursor != self.canvas_cursor {
            self.canvas_cursor = cursor;
            let _ = self.canvas.style().set_property("cursor", cursor);
        }
    }

    fn begin_select(&mut self, pointer_id: i32, at: (f32, f32), shift: bool) {
        if let Some((handle, from)) = self.handle_at(at) {
            self.gesture = Gesture::resizing(pointer_id, handle, from, self.selected_strokes());
            return;
        }
        match self.item_at(at) {
            Some(item) => {
                let mut selection = self.selection().to_vec();
                if shift && selection.contains(&item.id) {
                    selection.retain(|id| id != &item.id);
                    self.select(selection);
                    return;
                }
                if !selection.contains(&item.id) {
                    if !shift {
                        selection.clear();
                    }
                    selection.push(item.id.clone());
                    self.select(selection);
                }
                self.gesture = Gesture::moving(pointer_id, at, self.selected_strokes());
            }
            None => {
                if !shift {
                    self.select(Vec::new());
                }
                self.gesture = Gesture::Marquee {
                    pointer_id,
                    start: at,
                    end: at,
                    adding: shift,
                };
            }
        }
    }

    /// A shape of the tool's kind (160 × 100 screen pixels), or a text
    /// editor, at the view's centre; a shape is then selected, with the
    /// select tool, so the arrow keys move it and Alt+arrows resize it.
    fn place_at_centre(&mut self) -> bool {
        let tool = self.ui.tool.get_untracked();
        let (width, height, _) = self.size;
        let (x, y) = self.world((width / 2.0, height / 2.0));
        if tool == Tool::Text {
            self.open_text_editor_at((x, y));
            return true;
        }
        let Some(kind) = tool.shape_kind() else {
            return false;
        };
        let (half_w, half_h) = (
            (80.0 / self.view.zoom) as f32,
            (50.0 / self.view.zoom) as f32,
        );
        let corners = vec![
            Point::new(x - half_w, y - half_h, Point::DEFAULT_PRESSURE),
            Point::new(x + half_w, y + half_h, Point::DEFAULT_PRESSURE),
        ];
        let stroke = self.new_stroke(kind, corners);
        let id = stroke.id.clone();
        self.submit(Request::AddStroke(stroke));
        self.ui.tool.set(Tool::Select);
        self.select(vec![id]);
        true
    }

    /// Grows (or shrinks) the selection by screen pixels from its
    /// bottom-right corner, as dragging that handle would.
    fn resize_selection_by(&mut self, dx: f64, dy: f64) -> bool {
        let Some(from) = self.selection_box() else {
            return false;
        };
        let zoom = self.view.zoom as f32;
        let mut to = from;
        to.max_x = (from.max_x + dx as f32 / zoom).max(from.min_x + 1.0);
        to.max_y = (from.max_y + dy as f32 / zoom).max(from.min_y + 1.0);
        let resized: Vec<Stroke> = self
            .selected_strokes()
            .iter()
            .map(|s| geometry::resized(s, &from, &to))
            .collect();
        self.submit_batched(resized, true);
        true
    }

    fn lift_laser(&mut self, pointer_id: i32) {
        if self.lasering == Some(pointer_id) {
            self.lasering = None;
        }
    }

    fn lift_touch(&mut self, pointer_id: i32) {
        self.touches.retain(|(id, _)| *id != pointer_id);
    }

    fn pinch_span(&self) -> ((f64, f64), f64) {
        let mut points = self.touches.iter().map(|(_, at)| at);
        let (Some(a), Some(b)) = (points.next(), points.next()) else {
            return ((0.0, 0.0), 1.0);
        };
        let mid = ((a.0 + b.0) / 2.0, (a.1 + b.1) / 2.0);
        let distance = ((a.0 - b.0).powi(2) + (a.1 - b.1).powi(2)).sqrt().max(1.0);
        (mid, distance)
    }

    fn on_pointer_move(&mut self, event: &PointerEvent) {
        let screen = offset(event);
        self.hover = Some(screen);
        let world = self.world(screen);
        self.cursor_unsent = Some(world);
        if self.ui.tool.get_untracked() == Tool::Eraser {
            self.dirty = true;
        }
        let finger = self
            .touches
            .iter_mut()
            .find(|(id, _)| *id == event.pointer_id());
        if let Some((_, at)) = finger {
            *at = screen;
            let (mid, distance) = self.pinch_span();
            if let Some(((dx, dy), factor)) = self.gesture.pinched(mid, distance) {
                let zoom = self.view.zoom * factor;
                self.set_view(|view| {
                    view.pan_by(dx, dy);
                    view.zoom_at(zoom, mid);
                });
                return;
            }
        }
        if matches!(self.gesture, Gesture::Idle) && self.ui.tool.get_untracked() == Tool::Select {
            self.show_handle_cursor(world);
        }
        if self.lasering == Some(event.pointer_id()) {
            self.laser.push(world.0, world.1, js_sys::Date::now(), true);
            self.dirty = true;
        }
        if self.gesture.pointer() != Some(event.pointer_id()) {
            return;
        }
        match &self.gesture {
            Gesture::Drawing { .. } => {
                for sample in coalesced(event) {
                    let point = self.point(&sample);
                    self.add_sample(point);
                }
            }
            Gesture::Erasing { .. } => {
                let path: Vec<Point> = coalesced(event).iter().map(|e| self.point(e)).collect();
                self.erase_along(&path);
            }
            _ => match self.gesture.pointer_moved(world, screen, event.shift_key()) {
                Moved::Draft => self.draft_dirty = true,
                Moved::Pan(dx, dy) => self.set_view(|view| view.pan_by(dx, dy)),
                Moved::Redraw | Moved::Nothing => {}
            },
        }
        self.dirty = true;
    }

    fn add_sample(&mut self, point: Point) {
        let min_distance = (MIN_SAMPLE_DISTANCE / self.view.zoom) as f32;
        match self.gesture.add_sample(point, min_distance) {
            Sampled::Skipped => {}
            Sampled::Added => self.dirty = true,
            Sampled::Full => {
                // Split very long strokes: commit this part, continue seamlessly.
                let Some(pointer_id) = self.gesture.pointer() else {
                    return;
                };
                self.finish_gesture();
                let stroke = self.new_stroke(StrokeKind::Freehand, vec![point]);
                self.gesture = Gesture::continue_drawing(pointer_id, stroke);
            }
        }
    }

    fn erase_along(&mut self, path: &[Point]) {
        let (Some(last), Some(to)) = (self.gesture.eraser_at(), path.last().copied()) else {
            return;
        };
        let mut swept = vec![last];
        swept.extend_from_slice(path);
        let radius = ERASER_RADIUS / self.view.zoom as f32;
        let Some(reach) = geometry::bounds(&swept)
            .map(|(x0, y0, x1, y1)| Rect::from_corners((x0, y0), (x1, y1)).expand(radius))
        else {
            return;
        };
        self.sync_board_layer();
        let hits: Vec<StrokeId> = self
            .shown_in(&reach)
            .into_iter()
            .filter(|stroke| geometry::path_touches_stroke(&swept, radius, stroke))
            .map(|stroke| stroke.id.clone())
            .collect();
        if self.gesture.erased(to, hits) {
            self.dirty = true;
        }
    }

    fn on_pointer_up(&mut self, event: &PointerEvent) {
        self.lift_touch(event.pointer_id());
        self.lift_laser(event.pointer_id());
        if matches!(self.gesture, Gesture::Pinching { .. }) {
            if self.touches.len() < 2 {
                self.gesture = Gesture::Idle;
            }
            return;
        }
        if self.gesture.pointer() == Some(event.pointer_id()) {
            self.finish_gesture();
        }
        self.dirty = true;
    }

    fn on_pointer_cancel(&mut self, event: &PointerEvent) {
        self.lift_touch(event.pointer_id());
        self.lift_laser(event.pointer_id());
        if self.gesture.pointer() == Some(event.pointer_id()) {
            self.abandon_gesture();
        }
    }

    fn on_pointer_leave(&mut self, _event: &PointerEvent) {
        self.hover = None;
        self.dirty = true;
    }

    fn on_wheel(&mut self, event: &WheelEvent) {
        event.prevent_default();
        let anchor = offset(event);
        // Lines (Firefox) and pages are converted to pixels.
        let unit = match event.delta_mode() {
            1 => 16.0,
            2 => self.size.1,
            _ => 1.0,
        };
        let (dx, dy) = (event.delta_x() * unit, event.delta_y() * unit);
        if event.ctrl_key() || event.meta_key() {
            // Pinch on a trackpad also arrives as ctrl+wheel.
            let zoom = self.view.zoom * wheel_zoom_factor(dy);
            self.set_view(|view| view.zoom_at(zoom, anchor));
        } else if event.shift_key() && dx == 0.0 {
            self.set_view(|view| view.pan_by(-dy, 0.0));
        } else {
            self.set_view(|view| view.pan_by(-dx, -dy));
        }
    }

    fn on_double_click(&mut self, event: &MouseEvent) {
        if self.ui.tool.get_untracked() != Tool::Select {
            return;
        }
        let at = self.world(offset(event));
        match self.item_at(at) {
            Some(item) if item.kind == StrokeKind::Text => {
                self.select(Vec::new());
                self.open_text_editor_for(item);
            }
            Some(_) => {}
            None => {
                self.ui.tool.set(Tool::Text);
                self.open_text_editor_at(at);
            }
        }
    }

    /// Commits the gesture in progress.
    fn finish_gesture(&mut self) {
        let drafts = self.gesture.drafts();
        match self.gesture.finish(self.view.zoom) {
            Finished::Nothing => {}
            Finished::Add(stroke) => self.submit(Request::AddStroke(stroke)),
            Finished::Erase(hits) => self.submit(Request::Erase(hits)),
            Finished::Update(strokes) => self.submit_batched(strokes, true),
            Finished::Select { area, adding } => {
                let mut selection = if adding {
                    self.selection().to_vec()
                } else {
                    Vec::new()
                };
                for (stroke, _) in self.display_strokes() {
                    let inside =
                        geometry::visual_bounds(&stroke).is_some_and(|b| area.contains_rect(&b));
                    if inside && !selection.contains(&stroke.id) {
                        selection.push(stroke.id.clone());
                    }
                }
                self.select(selection);
            }
            Finished::PlaceText(at) => match self.item_at(at) {
                Some(text) if text.kind == StrokeKind::Text => self.open_text_editor_for(text),
                _ => self.open_text_editor_at(at),
            },
        }
        if drafts {
            // After the request: the room relays `draft_end` after its
            // operation, so nothing flickers back.
            self.end_draft();
        }
        self.dirty = true;
    }

    /// Drops the gesture in progress without changing the board.
    pub(super) fn abandon_gesture(&mut self) {
        match self.gesture.abandon() {
            Abandoned::PreviewEnd(stroke) => self.send(&ClientMessage::PreviewEnd { stroke }),
            Abandoned::DraftEnd => self.end_draft(),
            Abandoned::Nothing => {}
        }
        self.dirty = true;
    }
}
