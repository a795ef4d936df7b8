//! The board engine in the browser: input, local state, sync and drawing.
//!
//! The engine keeps the board as the server last confirmed it ([`Board`], the
//! same state machine the server runs) plus the operations sent or queued
//! but not yet confirmed (`pending`). What the user sees is the confirmed
//! board with the pending operations laid over it, so drawing never waits for
//! the network and keeps working while disconnected.
//!
//! Timing: pointer events only record samples; a `requestAnimationFrame`
//! callback sends at most one preview batch per frame and redraws the canvas
//! when something changed.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::rc::Rc;

use futures_channel::mpsc::UnboundedSender;
use leptos::prelude::{GetUntracked, Set};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{CanvasRenderingContext2d, HtmlCanvasElement, KeyboardEvent, PointerEvent};

use super::render;
use super::storage;
use crate::board::Board;
use crate::protocol::{
    limits, BoardId, ClientMessage, ErrorCode, OpId, Operation, Point, ServerMessage, Stroke,
    StrokeId, StrokeStyle, UserId, PROTOCOL_VERSION,
};
use crate::ui::{BoardUi, ConnectionStatus, Tool, ERASER_RADIUS};

/// Samples closer than this to the previous one (in board units) are skipped.
const MIN_SAMPLE_DISTANCE: f32 = 0.75;
/// Strokes are split into parts of this many points, so that each part's
/// `add_stroke` frame stays well below the frame size limit (a point takes
/// about 21 bytes of JSON) and the point limit.
const SPLIT_STROKE_AT: usize = 2_000;
/// Pending strokes are drawn slightly translucent until the server stores them.
const UNCONFIRMED_ALPHA: f64 = 0.85;

/// A durable request not yet confirmed by the server.
struct Pending {
    op_id: OpId,
    message: ClientMessage,
}

/// A stroke someone else is drawing right now.
struct RemotePreview {
    style: StrokeStyle,
    points: Vec<Point>,
}

/// The local stroke being drawn.
struct Drawing {
    pointer_id: i32,
    stroke: Stroke,
    /// How many points were already sent as previews.
    previewed: usize,
}

/// The eraser being dragged.
struct Erasing {
    pointer_id: i32,
    last: Point,
    hits: Vec<StrokeId>,
}

pub struct Engine {
    board_id: BoardId,
    user: UserId,
    canvas: HtmlCanvasElement,
    ctx: CanvasRenderingContext2d,
    ui: BoardUi,
    board: Board,
    pending: Vec<Pending>,
    previews: HashMap<StrokeId, RemotePreview>,
    drawing: Option<Drawing>,
    erasing: Option<Erasing>,
    hover: Option<(f32, f32)>,
    socket: Option<UnboundedSender<String>>,
    welcomed: bool,
    id_prefix: String,
    next_id: u64,
    dirty: bool,
    frame_requested: bool,
    stopped: bool,
    size: (f64, f64, f64),
}

/// Shared ownership of the engine for event listeners and the socket task.
#[derive(Clone)]
pub struct EngineHandle(Rc<RefCell<Engine>>);

fn offset(event: &PointerEvent, axis: &str) -> f32 {
    // `offsetX` is fractional in current browsers; web-sys only exposes the
    // integer version without unstable APIs, so read the property directly.
    js_sys::Reflect::get(event, &JsValue::from_str(axis))
        .ok()
        .and_then(|v| v.as_f64())
        .unwrap_or(0.0) as f32
}

fn quantize(v: f32) -> f32 {
    (v * 100.0).round() / 100.0
}

fn sample(event: &PointerEvent) -> Point {
    let pressure = match event.pointer_type().as_str() {
        "mouse" => Point::DEFAULT_PRESSURE,
        _ if event.pressure() > 0.0 => event.pressure().clamp(0.0, 1.0),
        _ => Point::DEFAULT_PRESSURE,
    };
    let pressure = (pressure * 1000.0).round() / 1000.0;
    Point::new(
        quantize(offset(event, "offsetX")),
        quantize(offset(event, "offsetY")),
        pressure,
    )
}

/// The event's coalesced samples (all pointer positions since the last
/// event, for smooth fast strokes), or the event itself.
fn samples(event: &PointerEvent) -> Vec<Point> {
    let has_coalesced =
        js_sys::Reflect::has(event, &JsValue::from_str("getCoalescedEvents")).unwrap_or(false);
    if has_coalesced {
        let events = event.get_coalesced_events();
        let points: Vec<Point> = events
            .iter()
            .filter_map(|e| e.dyn_into::<PointerEvent>().ok())
            .map(|e| sample(&e))
            .collect();
        if !points.is_empty() {
            return points;
        }
    }
    vec![sample(event)]
}

fn far_enough(last: Option<&Point>, next: &Point) -> bool {
    last.is_none_or(|last| {
        let (dx, dy) = (next.x - last.x, next.y - last.y);
        dx * dx + dy * dy >= MIN_SAMPLE_DISTANCE * MIN_SAMPLE_DISTANCE
    })
}

/// "nothing to undo" → "Nothing to undo", for notices.
fn sentence_case(message: &str) -> String {
    let mut chars = message.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

impl EngineHandle {
    /// Sets up the canvas, listeners and the connection loop.
    pub fn start(
        board_id: BoardId,
        canvas: HtmlCanvasElement,
        ui: BoardUi,
    ) -> Result<Self, JsValue> {
        let ctx = canvas
            .get_context("2d")?
            .ok_or_else(|| JsValue::from_str("no 2d context"))?
            .dyn_into::<CanvasRenderingContext2d>()?;
        let engine = Engine {
            board_id,
            user: storage::user_id(),
            canvas,
            ctx,
            ui,
            board: Board::new(),
            pending: Vec::new(),
            previews: HashMap::new(),
            drawing: None,
            erasing: None,
            hover: None,
            socket: None,
            welcomed: false,
            id_prefix: storage::random_hex(6),
            next_id: 0,
            dirty: true,
            frame_requested: false,
            stopped: false,
            size: (0.0, 0.0, 1.0),
        };
        let handle = EngineHandle(Rc::new(RefCell::new(engine)));
        handle.install_listeners()?;
        handle.resize();
        wasm_bindgen_futures::spawn_local(super::socket::run(handle.clone()));
        Ok(handle)
    }

    fn install_listeners(&self) -> Result<(), JsValue> {
        let canvas = self.0.borrow().canvas.clone();
        let window = web_sys::window().ok_or_else(|| JsValue::from_str("no window"))?;

        let on_pointer = |handler: fn(&mut Engine, &PointerEvent)| {
            let handle = self.clone();
            Closure::<dyn FnMut(PointerEvent)>::new(move |event: PointerEvent| {
                handle.with(|engine| handler(engine, &event));
            })
        };
        for (name, handler) in [
            (
                "pointerdown",
                Engine::on_pointer_down as fn(&mut Engine, &PointerEvent),
            ),
            ("pointermove", Engine::on_pointer_move),
            ("pointerup", Engine::on_pointer_up),
            ("pointercancel", Engine::on_pointer_up),
            ("pointerleave", Engine::on_pointer_leave),
        ] {
            let closure = on_pointer(handler);
            canvas.add_event_listener_with_callback(name, closure.as_ref().unchecked_ref())?;
            // The canvas lives as long as the page; so do its listeners.
            closure.forget();
        }

        let handle = self.clone();
        let on_resize = Closure::<dyn FnMut()>::new(move || handle.resize());
        window.add_event_listener_with_callback("resize", on_resize.as_ref().unchecked_ref())?;
        on_resize.forget();

        let handle = self.clone();
        let on_key = Closure::<dyn FnMut(KeyboardEvent)>::new(move |event: KeyboardEvent| {
            handle.on_key(&event);
        });
        window.add_event_listener_with_callback("keydown", on_key.as_ref().unchecked_ref())?;
        on_key.forget();
        Ok(())
    }

    /// Runs `f` on the engine unless it was stopped, then schedules a frame if needed.
    pub(super) fn with<R>(&self, f: impl FnOnce(&mut Engine) -> R) -> Option<R> {
        let result = {
            let mut engine = self.0.borrow_mut();
            if engine.stopped {
                return None;
            }
            f(&mut engine)
        };
        self.schedule_frame();
        Some(result)
    }

    fn schedule_frame(&self) {
        let mut engine = self.0.borrow_mut();
        let wants_frame = engine.dirty
            || engine
                .drawing
                .as_ref()
                .is_some_and(|d| d.previewed < d.stroke.points.len());
        if engine.frame_requested || !wants_frame || engine.stopped {
            return;
        }
        engine.frame_requested = true;
        drop(engine);
        let handle = self.clone();
        let callback = Closure::once_into_js(move || {
            let mut engine = handle.0.borrow_mut();
            engine.frame_requested = false;
            engine.on_frame();
        });
        if let Some(window) = web_sys::window() {
            let _ = window.request_animation_frame(callback.unchecked_ref());
        }
    }

    fn resize(&self) {
        self.with(Engine::resize);
    }

    fn on_key(&self, event: &KeyboardEvent) {
        let in_field = event
            .target()
            .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
            .is_some_and(|el| matches!(el.tag_name().as_str(), "INPUT" | "TEXTAREA"));
        if in_field {
            return;
        }
        let command = event.ctrl_key() || event.meta_key();
        let key = event.key().to_lowercase();
        match (command, event.shift_key(), key.as_str()) {
            (true, false, "z") => self.undo(),
            (true, true, "z") | (true, false, "y") => self.redo(),
            (false, _, "p") => self.0.borrow().ui.tool.set(Tool::Pen),
            (false, _, "e") => self.0.borrow().ui.tool.set(Tool::Eraser),
            _ => return,
        }
        event.prevent_default();
    }

    pub fn undo(&self) {
        self.with(|e| e.submit(crate::protocol::Request::Undo));
    }

    pub fn redo(&self) {
        self.with(|e| e.submit(crate::protocol::Request::Redo));
    }

    pub fn clear(&self) {
        self.with(|e| e.submit(crate::protocol::Request::Clear));
    }

    /// Ends the connection loop; called when the page unmounts.
    pub fn stop(&self) {
        let mut engine = self.0.borrow_mut();
        engine.stopped = true;
        engine.socket = None;
    }

    pub(super) fn is_stopped(&self) -> bool {
        self.0.borrow().stopped
    }

    pub(super) fn ws_url(&self) -> String {
        let location = web_sys::window().map(|w| w.location());
        let secure = location
            .as_ref()
            .and_then(|l| l.protocol().ok())
            .is_some_and(|p| p == "https:");
        let host = location
            .and_then(|l| l.host().ok())
            .unwrap_or_else(|| "localhost:8000".into());
        let scheme = if secure { "wss" } else { "ws" };
        format!("{scheme}://{host}/ws/{}", self.0.borrow().board_id)
    }

    /// A new connection: say hello; the rest waits for `welcome`.
    pub(super) fn attach(&self, socket: UnboundedSender<String>) {
        self.with(|engine| engine.attach(socket));
    }

    /// The connection ended.
    pub(super) fn detach(&self) {
        self.with(|engine| {
            engine.socket = None;
            engine.welcomed = false;
            engine.ui.status.set(ConnectionStatus::Reconnecting);
        });
    }

    /// Whether the current connection should be dropped (a gap was detected).
    pub(super) fn is_attached(&self) -> bool {
        self.0.borrow().socket.is_some()
    }

    pub(super) fn was_welcomed(&self) -> bool {
        self.0.borrow().welcomed
    }

    pub(super) fn on_frame_text(&self, text: &str) {
        match ServerMessage::decode(text) {
            Ok(message) => {
                self.with(|engine| engine.on_message(message));
            }
            Err(error) => leptos::logging::warn!("undecodable frame from server: {error}"),
        }
    }
}

impl Engine {
    fn new_id(&mut self) -> String {
        self.next_id += 1;
        format!("{}{:x}", self.id_prefix, self.next_id)
    }

    fn send(&self, message: &ClientMessage) {
        if let Some(socket) = &self.socket {
            let _ = socket.unbounded_send(message.encode());
        }
    }

    fn attach(&mut self, socket: UnboundedSender<String>) {
        let hello = ClientMessage::Hello {
            protocol: PROTOCOL_VERSION,
            user: self.user.clone(),
            last_seq: self.welcomed_before().then(|| self.board.seq()),
        };
        let _ = socket.unbounded_send(hello.encode());
        self.socket = Some(socket);
    }

    /// Whether our board copy came from this server at some point (so a
    /// reconnect can ask for just what it missed).
    fn welcomed_before(&self) -> bool {
        self.board.seq() > 0
    }

    fn resize(&mut self) {
        let Some(window) = web_sys::window() else {
            return;
        };
        let dpr = window.device_pixel_ratio().max(1.0);
        let width = f64::from(self.canvas.client_width());
        let height = f64::from(self.canvas.client_height());
        if self.size != (width, height, dpr) {
            self.size = (width, height, dpr);
            self.canvas.set_width((width * dpr).round() as u32);
            self.canvas.set_height((height * dpr).round() as u32);
        }
        self.dirty = true;
    }

    fn submit(&mut self, request: crate::protocol::Request) {
        let op_id = OpId::from_trusted(self.new_id());
        let message = ClientMessage::from_request(op_id.clone(), request);
        if self.welcomed {
            self.send(&message);
        }
        self.pending.push(Pending { op_id, message });
        self.ui.unsaved.set(self.pending.len());
        self.dirty = true;
    }

    fn confirm(&mut self, op_id: &OpId) {
        let before = self.pending.len();
        self.pending.retain(|p| &p.op_id != op_id);
        if self.pending.len() != before {
            self.ui.unsaved.set(self.pending.len());
            self.dirty = true;
        }
    }

    // ---- input ----

    fn on_pointer_down(&mut self, event: &PointerEvent) {
        if event.pointer_type() == "mouse" && event.button() != 0 {
            return;
        }
        if self.drawing.is_some() || self.erasing.is_some() {
            return; // A second finger while drawing: ignore it.
        }
        event.prevent_default();
        let _ = self.canvas.set_pointer_capture(event.pointer_id());
        let point = sample(event);
        match self.ui.tool.get_untracked() {
            Tool::Pen => {
                let style = StrokeStyle {
                    color: crate::protocol::Color::parse(&self.ui.color.get_untracked())
                        .unwrap_or_else(|_| {
                            crate::protocol::Color::parse(crate::ui::PALETTE[0].0)
                                .expect("palette colours are valid")
                        }),
                    width: self.ui.width.get_untracked(),
                };
                self.begin_stroke(event.pointer_id(), style, point);
            }
            Tool::Eraser => {
                self.erasing = Some(Erasing {
                    pointer_id: event.pointer_id(),
                    last: point,
                    hits: Vec::new(),
                });
                self.erase_along(&[point]);
            }
        }
        self.dirty = true;
    }

    fn begin_stroke(&mut self, pointer_id: i32, style: StrokeStyle, first: Point) {
        let id = StrokeId::from_trusted(self.new_id());
        self.drawing = Some(Drawing {
            pointer_id,
            stroke: Stroke {
                id,
                style,
                points: vec![first],
            },
            previewed: 0,
        });
    }

    fn on_pointer_move(&mut self, event: &PointerEvent) {
        let point = sample(event);
        self.hover = Some((point.x, point.y));
        if self.ui.tool.get_untracked() == Tool::Eraser {
            self.dirty = true;
        }
        if self
            .drawing
            .as_ref()
            .is_some_and(|d| d.pointer_id == event.pointer_id())
        {
            for point in samples(event) {
                self.add_sample(point);
            }
        } else if self
            .erasing
            .as_ref()
            .is_some_and(|e| e.pointer_id == event.pointer_id())
        {
            let path = samples(event);
            self.erase_along(&path);
        }
    }

    fn add_sample(&mut self, point: Point) {
        let Some(drawing) = self.drawing.as_mut() else {
            return;
        };
        if !far_enough(drawing.stroke.points.last(), &point) {
            return;
        }
        drawing.stroke.points.push(point);
        self.dirty = true;
        if drawing.stroke.points.len() >= SPLIT_STROKE_AT {
            // Split very long strokes: commit this part, continue seamlessly.
            let (pointer_id, style) = (drawing.pointer_id, drawing.stroke.style.clone());
            self.finish_stroke();
            self.begin_stroke(pointer_id, style, point);
        }
    }

    fn erase_along(&mut self, path: &[Point]) {
        let Some(erasing) = self.erasing.as_ref() else {
            return;
        };
        let mut swept = vec![erasing.last];
        swept.extend_from_slice(path);
        let hits: Vec<StrokeId> = self
            .visible_strokes()
            .into_iter()
            .filter(|(stroke, _)| {
                crate::geometry::path_touches_stroke(&swept, ERASER_RADIUS, stroke)
            })
            .map(|(stroke, _)| stroke.id.clone())
            .collect();
        let Some(erasing) = self.erasing.as_mut() else {
            return;
        };
        erasing.last = *path.last().unwrap_or(&erasing.last);
        for hit in hits {
            if !erasing.hits.contains(&hit) {
                erasing.hits.push(hit);
                self.dirty = true;
            }
        }
    }

    fn on_pointer_up(&mut self, event: &PointerEvent) {
        if self
            .drawing
            .as_ref()
            .is_some_and(|d| d.pointer_id == event.pointer_id())
        {
            self.finish_stroke();
        }
        if self
            .erasing
            .as_ref()
            .is_some_and(|e| e.pointer_id == event.pointer_id())
        {
            if let Some(erasing) = self.erasing.take() {
                if !erasing.hits.is_empty() {
                    self.submit(crate::protocol::Request::Erase(erasing.hits));
                }
            }
        }
        self.dirty = true;
    }

    fn on_pointer_leave(&mut self, _event: &PointerEvent) {
        self.hover = None;
        self.dirty = true;
    }

    fn finish_stroke(&mut self) {
        if let Some(drawing) = self.drawing.take() {
            self.submit(crate::protocol::Request::AddStroke(drawing.stroke));
        }
    }

    // ---- sync ----

    fn on_message(&mut self, message: ServerMessage) {
        match message {
            ServerMessage::Welcome {
                snapshot,
                ops,
                presence,
                ..
            } => {
                if let Some(snapshot) = snapshot {
                    self.board = Board::from_snapshot(snapshot);
                }
                for op in ops {
                    self.apply(op);
                }
                self.previews.clear();
                self.welcomed = true;
                self.ui.status.set(ConnectionStatus::Connected);
                self.ui.presence.set(presence);
                // Everything not yet confirmed goes (again) in its original
                // order; the server recognises resends by their op ids.
                for pending in &self.pending {
                    self.send(&pending.message);
                }
                self.dirty = true;
            }
            ServerMessage::Op { op } => {
                if op.seq > self.board.seq() + 1 {
                    // A gap: reconnect and let the server fill it.
                    leptos::logging::warn!("missed operations before {}; resynchronising", op.seq);
                    self.socket = None;
                } else {
                    self.apply(op);
                }
            }
            ServerMessage::Ack { op_id, .. } => self.confirm(&op_id),
            ServerMessage::Preview {
                stroke,
                style,
                points,
                ..
            } => {
                if !self.board.contains(&stroke) {
                    self.previews
                        .entry(stroke)
                        .or_insert_with(|| RemotePreview {
                            style,
                            points: Vec::new(),
                        })
                        .points
                        .extend(points);
                    self.dirty = true;
                }
            }
            ServerMessage::PreviewEnd { stroke, .. } => {
                self.dirty |= self.previews.remove(&stroke).is_some();
            }
            ServerMessage::Presence { count } => self.ui.presence.set(count),
            ServerMessage::Error {
                code,
                message,
                op_id,
            } => self.on_error(code, message, op_id),
        }
    }

    fn apply(&mut self, op: Operation) {
        if op.seq <= self.board.seq() {
            return;
        }
        self.board.apply(&op);
        if let crate::protocol::Change::AddStroke { stroke } = &op.change {
            self.previews.remove(&stroke.id);
        }
        if op.author == self.user {
            self.confirm(&op.op_id);
        }
        self.dirty = true;
    }

    fn on_error(&mut self, code: ErrorCode, message: String, op_id: Option<OpId>) {
        match (code, op_id) {
            // Not stored, but not refused either: it is resent on the next
            // connection. Reconnect now so that happens soon.
            (ErrorCode::StorageUnavailable, Some(_)) => {
                self.ui.notice.set(Some("Saving failed; retrying…".into()));
                self.socket = None;
            }
            (_, Some(op_id)) => {
                self.confirm(&op_id);
                self.ui.notice.set(Some(sentence_case(&message)));
            }
            (_, None) => leptos::logging::warn!("server error {code:?}: {message}"),
        }
    }

    // ---- drawing ----

    /// Visible strokes as the user should see them: confirmed, then pending,
    /// minus what pending erases and the eraser in progress remove. The flag
    /// tells whether the server has confirmed the stroke.
    fn visible_strokes(&self) -> Vec<(&Stroke, bool)> {
        let mut strokes: Vec<(&Stroke, bool)> =
            self.board.visible_strokes().map(|s| (s, true)).collect();
        for pending in &self.pending {
            match &pending.message {
                ClientMessage::AddStroke { stroke, .. } if !self.board.contains(&stroke.id) => {
                    strokes.push((stroke, false));
                }
                ClientMessage::Erase { stroke_ids, .. } => {
                    let erased: HashSet<&StrokeId> = stroke_ids.iter().collect();
                    strokes.retain(|(s, _)| !erased.contains(&s.id));
                }
                ClientMessage::Clear { .. } => strokes.clear(),
                _ => {}
            }
        }
        if let Some(erasing) = &self.erasing {
            strokes.retain(|(s, _)| !erasing.hits.contains(&s.id));
        }
        strokes
    }

    fn on_frame(&mut self) {
        self.flush_preview();
        if self.dirty {
            self.dirty = false;
            self.redraw();
        }
    }

    /// Sends the points drawn since the last frame to everyone else.
    fn flush_preview(&mut self) {
        let Some(drawing) = self.drawing.as_mut() else {
            return;
        };
        let fresh = &drawing.stroke.points[drawing.previewed..];
        if fresh.is_empty() {
            return;
        }
        let messages: Vec<ClientMessage> = fresh
            .chunks(limits::MAX_PREVIEW_POINTS)
            .map(|chunk| ClientMessage::Preview {
                stroke: drawing.stroke.id.clone(),
                style: drawing.stroke.style.clone(),
                points: chunk.to_vec(),
            })
            .collect();
        drawing.previewed = drawing.stroke.points.len();
        if self.welcomed {
            for message in &messages {
                self.send(message);
            }
        }
    }

    fn redraw(&self) {
        let (width, height, dpr) = self.size;
        let ctx = &self.ctx;
        let _ = ctx.set_transform(dpr, 0.0, 0.0, dpr, 0.0, 0.0);
        ctx.clear_rect(0.0, 0.0, width, height);
        for (stroke, confirmed) in self.visible_strokes() {
            let alpha = if confirmed { 1.0 } else { UNCONFIRMED_ALPHA };
            render::draw_stroke(ctx, &stroke.style, &stroke.points, alpha);
        }
        for preview in self.previews.values() {
            render::draw_stroke(ctx, &preview.style, &preview.points, 1.0);
        }
        if let Some(drawing) = &self.drawing {
            render::draw_stroke(ctx, &drawing.stroke.style, &drawing.stroke.points, 1.0);
        }
        if self.ui.tool.get_untracked() == Tool::Eraser {
            if let Some((x, y)) = self.hover {
                render::draw_eraser_cursor(
                    ctx,
                    f64::from(x),
                    f64::from(y),
                    f64::from(ERASER_RADIUS),
                );
            }
        }
        ctx.set_global_alpha(1.0);
    }
}
