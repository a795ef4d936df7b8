//! The board engine in the browser: local state, sync and drawing.
//!
//! The engine keeps the board as the server last confirmed it ([`Board`], the
//! same state machine the server runs) plus the operations sent or queued
//! but not yet confirmed (`pending`). What the user sees is the confirmed
//! board with the pending operations laid over it, then other people's drafts
//! (shapes being dragged out, items being moved) and this tab's gesture in
//! progress, so drawing never waits for the network and keeps working while
//! disconnected.
//!
//! Input handling lives in `input`, the text editor in `text_editor`, export
//! and import in `export`; this file owns the state they share.
//!
//! Timing: events only record state; a `requestAnimationFrame` callback sends
//! at most one preview, draft and cursor message per frame and redraws the
//! canvas when something changed.
//!
//! Drawing is layered: the confirmed board is kept in a bitmap
//! (`board_layer`) repainted only where something changed; each frame
//! copies it to the board canvas and paints what is live over it (this
//! tab's pending requests, drafts, its gesture, other people's previews).
//! Cursors, the selection box and the marquee go on the overlay canvas.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::rc::{Rc, Weak};

use futures_channel::mpsc::UnboundedSender;
use leptos::prelude::{GetUntracked, Set};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{CanvasRenderingContext2d, HtmlCanvasElement};

use super::board_layer::{set_view_transform, BoardLayer};
use super::input::Gesture;
use super::render;
use super::storage;
use super::text_editor::TextEditor;
use crate::board::Board;
use crate::geometry::{self, Rect};
use crate::protocol::{
    limits, packed, BoardId, Change, ClientMessage, Color, ErrorCode, OpId, Operation, Point,
    Request, ServerMessage, Stroke, StrokeId, StrokeKind, StrokeStyle, UserId, PROTOCOL_VERSION,
};
use crate::stacking::{restack, Restack};
use crate::ui::{
    with_colors, BoardUi, ConnectionStatus, StyleProperty, Tool, ERASER_RADIUS, FONT_SIZES, PALETTE,
};
use crate::view::View;

/// Pending strokes are drawn slightly translucent until the server stores them.
const UNCONFIRMED_ALPHA: f64 = 0.85;
/// Cursor positions go out at most this often (milliseconds).
const CURSOR_INTERVAL_MS: f64 = 50.0;
/// Remote cursors glide to a new position over this long (milliseconds).
const CURSOR_GLIDE_MS: f64 = 90.0;

/// A durable request not yet confirmed by the server.
pub(super) struct Pending {
    pub op_id: OpId,
    pub message: ClientMessage,
}

/// The requests of `pending`, oldest first, as the scene's `Layer` takes them.
fn messages(pending: &[Pending]) -> Vec<&ClientMessage> {
    pending.iter().map(|p| &p.message).collect()
}

/// A freehand stroke someone else is drawing right now.
pub(super) struct RemotePreview {
    pub author: UserId,
    pub style: StrokeStyle,
    pub points: Vec<Point>,
}

/// Someone else's pointer, gliding from `from` to `to`.
pub(super) struct RemoteCursor {
    pub from: (f32, f32),
    pub to: (f32, f32),
    pub since: f64,
}

impl RemoteCursor {
    fn position(&self, now: f64) -> (f32, f32) {
        let t = ((now - self.since) / CURSOR_GLIDE_MS).clamp(0.0, 1.0) as f32;
        (
            self.from.0 + (self.to.0 - self.from.0) * t,
            self.from.1 + (self.to.1 - self.from.1) * t,
        )
    }

    fn gliding(&self, now: f64) -> bool {
        now - self.since < CURSOR_GLIDE_MS
    }
}

pub struct Engine {
    pub(super) board_id: BoardId,
    pub(super) user: UserId,
    /// The board's content; pointer input arrives here.
    pub(super) canvas: HtmlCanvasElement,
    pub(super) ctx: CanvasRenderingContext2d,
    /// Selection, marquee, eraser outline and other people's cursors, on a
    /// canvas of their own above the content, so the content canvas holds
    /// exactly the board (what "export current view" saves).
    overlay: HtmlCanvasElement,
    overlay_ctx: CanvasRenderingContext2d,
    pub(super) ui: BoardUi,
    pub(super) board: Board,
    pub(super) pending: Vec<Pending>,
    /// The confirmed board as painted (see `board_layer`).
    board_layer: BoardLayer,
    pub(super) previews: HashMap<StrokeId, RemotePreview>,
    /// Other people's work in progress. A draft ends with `draft_end`, which
    /// the server relays after the operation that committed it (one room
    /// handles a connection's messages in order), so nothing flickers back.
    pub(super) drafts: HashMap<UserId, Vec<Stroke>>,
    pub(super) cursors: HashMap<UserId, RemoteCursor>,
    pub(super) gesture: Gesture,
    /// Touch pointers on the canvas, by id, in screen coordinates (for pinch).
    pub(super) touches: HashMap<i32, (f64, f64)>,
    pub(super) selection: Vec<StrokeId>,
    pub(super) view: View,
    /// The pointer in screen coordinates, while it is over the canvas.
    pub(super) hover: Option<(f64, f64)>,
    pub(super) space_held: bool,
    pub(super) editor: Option<TextEditor>,
    /// Whether the draft changed since it was last sent / whether one is out.
    pub(super) draft_dirty: bool,
    pub(super) draft_out: bool,
    pub(super) cursor_unsent: Option<(f32, f32)>,
    cursor_sent_at: f64,
    socket: Option<UnboundedSender<String>>,
    /// A `welcome` whose packed snapshot comes in the next binary frames.
    awaiting_snapshot: Option<AwaitedSnapshot>,
    welcomed: bool,
    id_prefix: String,
    next_id: u64,
    pub(super) dirty: bool,
    frame_requested: bool,
    stopped: bool,
    /// Canvas size in CSS pixels and the device pixel ratio.
    pub(super) size: (f64, f64, f64),
    /// The engine's own handle, for listeners it creates later (text editor).
    this: Weak<RefCell<Engine>>,
}

/// A version 2 `welcome` and what arrived so far of the packed snapshot it
/// announced (`expected` bytes).
struct AwaitedSnapshot {
    welcome: ServerMessage,
    expected: u64,
    received: Vec<u8>,
}

/// Shared ownership of the engine for event listeners and the socket task.
#[derive(Clone)]
pub struct EngineHandle(pub(super) Rc<RefCell<Engine>>);

/// "nothing to undo" → "Nothing to undo", for notices.
fn sentence_case(message: &str) -> String {
    let mut chars = message.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

pub(super) fn context_2d(canvas: &HtmlCanvasElement) -> Result<CanvasRenderingContext2d, JsValue> {
    canvas
        .get_context("2d")?
        .ok_or_else(|| JsValue::from_str("no 2d context"))?
        .dyn_into::<CanvasRenderingContext2d>()
        .map_err(JsValue::from)
}

/// Shows `replacements` in place of the shown strokes with the same ids (the
/// last one wins for an id given twice); ids not shown are added on top when
/// `add_new`. One pass over the shown strokes, however many replacements.
fn overlay<'a>(
    strokes: &mut Vec<(Cow<'a, Stroke>, bool)>,
    replacements: impl IntoIterator<Item = &'a Stroke>,
    add_new: bool,
) {
    let replacements: Vec<&Stroke> = replacements.into_iter().collect();
    if replacements.is_empty() {
        return;
    }
    let mut by_id: HashMap<&StrokeId, &Stroke> = replacements.iter().map(|s| (&s.id, *s)).collect();
    for (shown, confirmed) in strokes.iter_mut() {
        if let Some(new) = by_id.remove(&shown.id) {
            *shown = Cow::Borrowed(new);
            *confirmed = false;
        }
    }
    if add_new {
        // In the order given, so that equal keys do not swap between frames.
        for stroke in replacements {
            if let Some(new) = by_id.remove(&stroke.id) {
                strokes.push((Cow::Borrowed(new), false));
            }
        }
    }
}

impl EngineHandle {
    /// Sets up the canvas, listeners and the connection loop.
    pub fn start(
        board_id: BoardId,
        canvas: HtmlCanvasElement,
        overlay: HtmlCanvasElement,
        ui: BoardUi,
    ) -> Result<Self, JsValue> {
        let ctx = context_2d(&canvas)?;
        let overlay_ctx = context_2d(&overlay)?;
        let user = storage::user_id();
        ui.me.set(user.as_str().to_owned());
        ui.name.set(storage::display_name().unwrap_or_default());
        let engine = Engine {
            board_id,
            user,
            canvas,
            ctx,
            overlay,
            overlay_ctx,
            ui,
            board: Board::new(),
            pending: Vec::new(),
            board_layer: BoardLayer::new()?,
            previews: HashMap::new(),
            drafts: HashMap::new(),
            cursors: HashMap::new(),
            gesture: Gesture::Idle,
            touches: HashMap::new(),
            selection: Vec::new(),
            view: View::default(),
            hover: None,
            space_held: false,
            editor: None,
            draft_dirty: false,
            draft_out: false,
            cursor_unsent: None,
            cursor_sent_at: 0.0,
            socket: None,
            awaiting_snapshot: None,
            welcomed: false,
            id_prefix: storage::random_hex(6),
            next_id: 0,
            dirty: true,
            frame_requested: false,
            stopped: false,
            size: (0.0, 0.0, 1.0),
            this: Weak::new(),
        };
        let engine = Rc::new_cyclic(|this| {
            RefCell::new(Engine {
                this: this.clone(),
                ..engine
            })
        });
        let handle = EngineHandle(engine);
        handle.install_listeners()?;
        handle.resize();
        wasm_bindgen_futures::spawn_local(super::socket::run(handle.clone()));
        Ok(handle)
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

    pub(super) fn schedule_frame(&self) {
        let mut engine = self.0.borrow_mut();
        if engine.frame_requested || !engine.wants_frame() || engine.stopped {
            return;
        }
        engine.frame_requested = true;
        drop(engine);
        let handle = self.clone();
        let callback = Closure::once_into_js(move || {
            handle.0.borrow_mut().frame_requested = false;
            handle.with(Engine::on_frame);
        });
        if let Some(window) = web_sys::window() {
            let _ = window.request_animation_frame(callback.unchecked_ref());
        }
    }

    pub(super) fn resize(&self) {
        self.with(Engine::resize);
    }

    pub fn undo(&self) {
        self.with(|e| e.submit(Request::Undo));
    }

    pub fn redo(&self) {
        self.with(|e| e.submit(Request::Redo));
    }

    pub fn clear(&self) {
        self.with(|e| {
            e.select(Vec::new());
            e.submit(Request::Clear);
        });
    }

    pub fn zoom_by(&self, factor: f64) {
        self.with(|e| e.zoom_by(factor));
    }

    pub fn reset_zoom(&self) {
        self.with(Engine::reset_zoom);
    }

    pub fn zoom_to_fit(&self) {
        self.with(Engine::zoom_to_fit);
    }

    pub fn delete_selection(&self) {
        self.with(Engine::delete_selection);
    }

    pub fn duplicate_selection(&self) {
        self.with(Engine::duplicate_selection);
    }

    pub fn restack_selection(&self, how: Restack) {
        self.with(|e| e.restack_selection(how));
    }

    /// Applies the toolbar's current style to the selected items.
    pub fn restyle_selection(&self, property: StyleProperty) {
        self.with(|e| e.restyle_selection(property));
    }

    /// Changes this person's display name (remembered in the browser).
    pub fn rename(&self, name: String) {
        self.with(|e| {
            storage::set_display_name(&name);
            if crate::protocol::validate_name(&name).is_ok() && e.welcomed {
                e.send(&ClientMessage::Profile { name });
            }
        });
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
        let decoding = text
            .starts_with("{\"type\":\"welcome\"")
            .then(|| super::timing::span("decode-welcome"));
        let decoded = ServerMessage::decode(text);
        drop(decoding);
        match decoded {
            Ok(message) => {
                self.with(|engine| engine.on_message(message));
            }
            Err(error) => leptos::logging::warn!("undecodable frame from server: {error}"),
        }
    }

    /// A binary frame: part of the packed snapshot a `welcome` announced.
    pub(super) fn on_frame_binary(&self, bytes: &[u8]) {
        self.with(|engine| engine.on_snapshot_frame(bytes));
    }
}

impl Engine {
    pub(super) fn handle(&self) -> Option<EngineHandle> {
        self.this.upgrade().map(EngineHandle)
    }

    pub(super) fn new_id(&mut self) -> String {
        self.next_id += 1;
        format!("{}{:x}", self.id_prefix, self.next_id)
    }

    pub(super) fn send(&self, message: &ClientMessage) {
        if let (Some(socket), true) = (&self.socket, self.welcomed) {
            let _ = socket.unbounded_send(message.encode());
        }
    }

    fn attach(&mut self, socket: UnboundedSender<String>) {
        let name = self.ui.name.get_untracked();
        let hello = ClientMessage::Hello {
            protocol: PROTOCOL_VERSION,
            user: self.user.clone(),
            last_seq: self.welcomed_before().then(|| self.board.seq()),
            name: crate::protocol::validate_name(&name)
                .is_ok()
                .then_some(name),
        };
        let _ = socket.unbounded_send(hello.encode());
        self.socket = Some(socket);
        self.awaiting_snapshot = None;
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
            for canvas in [&self.canvas, &self.overlay] {
                canvas.set_width((width * dpr).round() as u32);
                canvas.set_height((height * dpr).round() as u32);
            }
        }
        self.dirty = true;
    }

    // ---- durable changes ----

    pub(super) fn submit(&mut self, request: Request) {
        let op_id = OpId::from_trusted(self.new_id());
        let message = ClientMessage::from_request(op_id.clone(), request);
        self.send(&message);
        self.board_layer.touch_request(&message);
        self.pending.push(Pending { op_id, message });
        self.ui.unsaved.set(self.pending.len());
        self.dirty = true;
    }

    /// Submits strokes as one or more `add_strokes` / `update` requests.
    pub(super) fn submit_batched(&mut self, strokes: Vec<Stroke>, update: bool) {
        for batch in limits::batches(strokes) {
            self.submit(if update {
                Request::Update(batch)
            } else {
                Request::AddStrokes(batch)
            });
        }
    }

    fn confirm(&mut self, op_id: &OpId) {
        if let Some(index) = self.pending.iter().position(|p| &p.op_id == op_id) {
            let settled = self.pending.remove(index);
            self.board_layer.touch_request(&settled.message);
            self.ui.unsaved.set(self.pending.len());
            self.dirty = true;
        }
    }

    /// The stroke style the toolbar currently describes.
    pub(super) fn current_style(&self) -> StrokeStyle {
        StrokeStyle {
            color: Color::parse(&self.ui.color.get_untracked())
                .unwrap_or_else(|_| Color::parse(PALETTE[0].0).expect("palette colours are valid")),
            width: self.ui.width.get_untracked(),
        }
    }

    /// A new stroke of `kind` in the toolbar's style, stacked on top.
    pub(super) fn new_stroke(&mut self, kind: StrokeKind, points: Vec<Point>) -> Stroke {
        let id = StrokeId::from_trusted(self.new_id());
        let mut stroke = Stroke::new(id, kind, self.current_style(), points);
        stroke.opacity = self.ui.opacity.get_untracked();
        stroke.z = self.top_z() + 1.0;
        if kind.is_closed() {
            stroke.fill = self
                .ui
                .fill
                .get_untracked()
                .and_then(|fill| Color::parse(&fill).ok());
        }
        if kind == StrokeKind::Text {
            stroke.font_size = Some(self.ui.font_size.get_untracked());
        }
        stroke
    }

    /// The highest stacking key shown, pending strokes included.
    pub(super) fn top_z(&self) -> f64 {
        self.live_strokes()
            .iter()
            .map(|s| s.z)
            .fold(self.board.top_z(), f64::max)
    }

    // ---- selection ----

    pub(super) fn select(&mut self, ids: Vec<StrokeId>) {
        if ids != self.selection {
            self.selection = ids;
            self.ui.selected.set(self.selection.len());
            self.show_style_of_selection();
            self.dirty = true;
        }
    }

    /// The style panel shows the style of the first selected item (and new
    /// items get it too, as in other whiteboards).
    fn show_style_of_selection(&self) {
        let Some(first) = self.selected_strokes().into_iter().next() else {
            return;
        };
        self.ui.color.set(first.style.color.as_str().to_owned());
        self.ui.opacity.set(first.opacity);
        if first.kind == StrokeKind::Text {
            self.ui
                .font_size
                .set(first.font_size.unwrap_or(FONT_SIZES[1].0));
        } else {
            self.ui.width.set(first.style.width);
        }
        if first.kind.is_closed() {
            self.ui.fill.set(first.fill.map(|f| f.as_str().to_owned()));
        }
    }

    /// The selected strokes as currently shown.
    pub(super) fn selected_strokes(&self) -> Vec<Stroke> {
        let chosen: HashSet<&StrokeId> = self.selection.iter().collect();
        self.display_strokes()
            .into_iter()
            .filter(|(s, _)| chosen.contains(&s.id))
            .map(|(s, _)| s.into_owned())
            .collect()
    }

    /// The box around the selection's shapes, in world coordinates.
    pub(super) fn selection_box(&self) -> Option<Rect> {
        self.selection
            .iter()
            .filter_map(|id| self.shown(id))
            .filter_map(geometry::shape_box)
            .reduce(|a, b| a.union(&b))
    }

    pub(super) fn delete_selection(&mut self) {
        let ids = std::mem::take(&mut self.selection);
        self.ui.selected.set(0);
        for chunk in ids.chunks(limits::MAX_ERASE_IDS) {
            self.submit(Request::Erase(chunk.to_vec()));
        }
    }

    pub(super) fn duplicate_selection(&mut self) {
        let offset = 16.0 / self.view.zoom as f32;
        let mut z = self.top_z();
        let copies: Vec<Stroke> = self
            .selected_strokes()
            .iter()
            .map(|s| {
                let mut copy = s.translated(offset, offset);
                copy.id = StrokeId::from_trusted(self.new_id());
                z += 1.0;
                copy.z = z;
                copy
            })
            .collect();
        if copies.is_empty() {
            return;
        }
        let ids = copies.iter().map(|s| s.id.clone()).collect();
        self.submit_batched(copies, false);
        self.select(ids);
    }

    /// Moves the selection in the stacking order (see [`crate::stacking`]).
    pub(super) fn restack_selection(&mut self, how: Restack) {
        let shown: Vec<(StrokeId, f64)> = self
            .display_strokes()
            .iter()
            .map(|(s, _)| (s.id.clone(), s.z))
            .collect();
        let selected: HashSet<&StrokeId> = self.selection.iter().collect();
        let keys = restack(&shown, &selected, how);
        let restacked: Vec<Stroke> = self
            .selected_strokes()
            .into_iter()
            .filter_map(|mut stroke| {
                let (_, z) = keys.iter().find(|(id, _)| *id == stroke.id)?;
                stroke.z = *z;
                Some(stroke)
            })
            .collect();
        if !restacked.is_empty() {
            self.submit_batched(restacked, true);
        }
    }

    /// Gives the selected items the toolbar's current value of `property`
    /// (only that one: a multi-selection keeps its other differences).
    fn restyle_selection(&mut self, property: StyleProperty) {
        let color = self.current_style().color;
        let width = self.ui.width.get_untracked();
        let opacity = self.ui.opacity.get_untracked();
        let fill = self
            .ui
            .fill
            .get_untracked()
            .and_then(|f| Color::parse(&f).ok());
        let font_size = self.ui.font_size.get_untracked();
        let restyled: Vec<Stroke> = self
            .selected_strokes()
            .into_iter()
            .map(|mut s| {
                match property {
                    StyleProperty::Color => s.style.color = color.clone(),
                    StyleProperty::Width => s.style.width = width,
                    StyleProperty::Opacity => s.opacity = opacity,
                    StyleProperty::Fill if s.kind.is_closed() => s.fill = fill.clone(),
                    StyleProperty::FontSize if s.kind == StrokeKind::Text => {
                        s.font_size = Some(font_size);
                    }
                    StyleProperty::Fill | StyleProperty::FontSize => {}
                }
                s
            })
            .collect();
        if !restyled.is_empty() {
            self.submit_batched(restyled, true);
        }
    }

    // ---- view ----

    pub(super) fn set_view(&mut self, change: impl FnOnce(&mut View)) {
        change(&mut self.view);
        self.ui.zoom.set(self.view.zoom);
        // The dot grid moves and scales with the board.
        let grid = 24.0 * self.view.zoom;
        let (x, y) = self.view.to_screen((0.0, 0.0));
        let style = self.canvas.style();
        let _ = style.set_property("background-size", &format!("{grid}px {grid}px"));
        let _ = style.set_property("background-position", &format!("{x}px {y}px"));
        if let Some(editor) = &self.editor {
            editor.place(&self.view);
        }
        self.dirty = true;
    }

    /// Zooms by `factor` around the pointer when it is over the canvas (keys),
    /// else around the canvas centre (buttons).
    pub(super) fn zoom_by(&mut self, factor: f64) {
        let (w, h, _) = self.size;
        let anchor = self.hover.unwrap_or((w / 2.0, h / 2.0));
        let zoom = self.view.zoom * factor;
        self.set_view(|view| view.zoom_at(zoom, anchor));
    }

    pub(super) fn reset_zoom(&mut self) {
        let (w, h, _) = self.size;
        self.set_view(|view| view.zoom_at(1.0, (w / 2.0, h / 2.0)));
    }

    pub(super) fn zoom_to_fit(&mut self) {
        let strokes = self.display_strokes();
        let Some(content) = geometry::union_bounds(strokes.iter().map(|(s, _)| s.as_ref())) else {
            self.set_view(|view| *view = View::default());
            return;
        };
        let (w, h, _) = self.size;
        self.set_view(|view| *view = View::fitting(&content, (w, h)));
    }

    /// A screen position in world coordinates, rounded like samples are.
    pub(super) fn world(&self, screen: (f64, f64)) -> (f32, f32) {
        let (x, y) = self.view.to_world(screen);
        let round = |v: f64| ((v * 100.0).round() / 100.0) as f32;
        (round(x), round(y))
    }

    // ---- sync ----

    /// Collects the frames of a packed snapshot; once all have come, the
    /// welcome goes on with it as if it had carried it.
    fn on_snapshot_frame(&mut self, bytes: &[u8]) {
        let Some(mut awaited) = self.awaiting_snapshot.take() else {
            leptos::logging::warn!("a snapshot nobody announced; reconnecting");
            self.socket = None;
            return;
        };
        awaited.received.extend_from_slice(bytes);
        let received = awaited.received.len() as u64;
        if received < awaited.expected {
            self.awaiting_snapshot = Some(awaited);
            return;
        }
        let decoding = super::timing::span("decode-welcome");
        let decoded = if received == awaited.expected {
            packed::decode(&awaited.received).map_err(|error| error.to_string())
        } else {
            Err(format!(
                "{received} bytes of snapshot, {} announced",
                awaited.expected
            ))
        };
        drop(decoding);
        let AwaitedSnapshot { mut welcome, .. } = awaited;
        match decoded {
            Ok(decoded) => {
                if let ServerMessage::Welcome {
                    snapshot,
                    packed_snapshot,
                    ..
                } = &mut welcome
                {
                    *snapshot = Some(decoded);
                    *packed_snapshot = None;
                }
                self.on_message(welcome);
            }
            Err(problem) => {
                leptos::logging::warn!("{problem}; reconnecting");
                self.socket = None;
            }
        }
    }

    fn on_message(&mut self, message: ServerMessage) {
        if self.awaiting_snapshot.is_some() {
            leptos::logging::warn!(
                "the announced snapshot did not follow the welcome; reconnecting"
            );
            self.awaiting_snapshot = None;
            self.socket = None;
            return;
        }
        match message {
            welcome @ ServerMessage::Welcome {
                snapshot: None,
                packed_snapshot: Some(expected),
                ..
            } => {
                // The server's word for the size, within reason.
                let capacity = usize::try_from(expected).unwrap_or(0).min(1 << 28);
                self.awaiting_snapshot = Some(AwaitedSnapshot {
                    welcome,
                    expected,
                    received: Vec::with_capacity(capacity),
                });
            }
            ServerMessage::Welcome {
                snapshot,
                ops,
                presence,
                ..
            } => {
                let first = !self.welcomed_before();
                if let Some(snapshot) = snapshot {
                    let _span = super::timing::span("load-snapshot");
                    self.board = Board::from_snapshot(snapshot);
                    self.board_layer.invalidate();
                }
                for op in ops {
                    self.apply(op);
                }
                self.previews.clear();
                self.drafts.clear();
                self.welcomed = true;
                self.ui.status.set(ConnectionStatus::Connected);
                self.ui.presence.set(presence);
                // Everything not yet confirmed goes (again) in its original
                // order; the server recognises resends by their op ids.
                for pending in &self.pending {
                    self.send(&pending.message);
                }
                if first && self.board.visible_strokes().next().is_some() {
                    // Opening a board: show what is on it.
                    self.zoom_to_fit_if_outside();
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
                author,
                stroke,
                style,
                points,
            } => {
                if !self.board.contains(&stroke) {
                    self.previews
                        .entry(stroke)
                        .or_insert_with(|| RemotePreview {
                            author,
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
            ServerMessage::Draft { author, strokes } => {
                self.drafts.insert(author, strokes);
                self.dirty = true;
            }
            ServerMessage::DraftEnd { author } => {
                self.dirty |= self.drafts.remove(&author).is_some();
            }
            ServerMessage::Cursor { author, x, y } => {
                let now = js_sys::Date::now();
                let from = self
                    .cursors
                    .get(&author)
                    .map_or((x, y), |c| c.position(now));
                self.cursors.insert(
                    author,
                    RemoteCursor {
                        from,
                        to: (x, y),
                        since: now,
                    },
                );
                self.dirty = true;
            }
            ServerMessage::Presence { count, people } => {
                self.ui.presence.set(count);
                let here: HashSet<&UserId> = people.iter().map(|p| &p.user).collect();
                // Someone who left (or whose instance died) leaves nothing behind.
                self.cursors.retain(|user, _| here.contains(user));
                self.drafts.retain(|user, _| here.contains(user));
                self.previews
                    .retain(|_, preview| here.contains(&preview.author));
                self.ui.people.set(people);
                self.dirty = true;
            }
            ServerMessage::Error {
                code,
                message,
                op_id,
            } => self.on_error(code, message, op_id),
        }
    }

    /// Fits the view to the board when none of it is in sight.
    fn zoom_to_fit_if_outside(&mut self) {
        let (w, h, _) = self.size;
        let visible = self.view.visible((w, h));
        let in_sight = self
            .board
            .visible_strokes()
            .filter_map(geometry::visual_bounds)
            .any(|b| visible.intersects(&b));
        if !in_sight {
            self.zoom_to_fit();
        }
    }

    fn apply(&mut self, op: Operation) {
        if op.seq <= self.board.seq() {
            return;
        }
        self.board.apply(&op);
        self.board_layer.touch_change(&op.change);
        match &op.change {
            Change::AddStroke { stroke } => {
                self.previews.remove(&stroke.id);
            }
            Change::Erase { .. } | Change::Clear { .. } => {
                let board = &self.board;
                let before = self.selection.len();
                self.selection.retain(|id| board.is_visible(id));
                if self.selection.len() != before {
                    self.ui.selected.set(self.selection.len());
                }
            }
            _ => {}
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

    // ---- what is shown ----

    /// Strokes as the user should see them, in drawing order: confirmed,
    /// with pending operations laid over them, then other people's drafts
    /// and this tab's gesture in progress. The flag tells whether the server
    /// has confirmed the stroke as shown.
    pub(super) fn display_strokes(&self) -> Vec<(Cow<'_, Stroke>, bool)> {
        let mut strokes: Vec<(Cow<'_, Stroke>, bool)> = self
            .board
            .visible_strokes()
            .map(|s| (Cow::Borrowed(s), true))
            .collect();
        for pending in &self.pending {
            match &pending.message {
                ClientMessage::AddStroke { stroke, .. } if !self.board.contains(&stroke.id) => {
                    strokes.push((Cow::Borrowed(stroke), false));
                }
                ClientMessage::AddStrokes { strokes: added, .. } => {
                    for stroke in added.iter().filter(|s| !self.board.contains(&s.id)) {
                        strokes.push((Cow::Borrowed(stroke), false));
                    }
                }
                ClientMessage::Update {
                    strokes: updated, ..
                } => overlay(&mut strokes, updated, false),
                ClientMessage::Erase { stroke_ids, .. } => {
                    let erased: HashSet<&StrokeId> = stroke_ids.iter().collect();
                    strokes.retain(|(s, _)| !erased.contains(&s.id));
                }
                ClientMessage::Clear { .. } => strokes.clear(),
                _ => {}
            }
        }
        // Later entries win: this tab's gesture over other people's drafts.
        let live: Vec<&Stroke> = self
            .drafts
            .values()
            .flatten()
            .chain(self.gesture.live_strokes())
            .collect();
        overlay(&mut strokes, live, true);
        let hidden: HashSet<&StrokeId> = self
            .gesture
            .hidden()
            .iter()
            .chain(self.editor.as_ref().and_then(TextEditor::editing))
            .collect();
        if !hidden.is_empty() {
            strokes.retain(|(s, _)| !hidden.contains(&s.id));
        }
        // Stable: equal keys keep the order the strokes were added in.
        strokes.sort_by(|(a, _), (b, _)| a.z.total_cmp(&b.z));
        strokes
    }

    fn wants_frame(&self) -> bool {
        let now = js_sys::Date::now();
        self.dirty
            || self.draft_dirty
            || self.cursor_unsent.is_some()
            || self.gesture.has_unsent_preview()
            || self.cursors.values().any(|c| c.gliding(now))
    }

    fn on_frame(&mut self) {
        let now = js_sys::Date::now();
        self.flush_preview();
        self.flush_draft();
        self.flush_cursor(now);
        let gliding = self.cursors.values().any(|c| c.gliding(now));
        if self.dirty || gliding {
            self.dirty = false;
            self.redraw(now);
        }
    }

    /// Sends the points drawn since the last frame to everyone else.
    fn flush_preview(&mut self) {
        let messages = self.gesture.take_preview();
        for message in &messages {
            self.send(message);
        }
    }

    /// Sends this tab's work in progress, if it changed.
    fn flush_draft(&mut self) {
        if !self.draft_dirty {
            return;
        }
        self.draft_dirty = false;
        let strokes: Vec<Stroke> = self.gesture.live_strokes().into_iter().cloned().collect();
        if let Some(first) = limits::batches(strokes).into_iter().next() {
            self.send(&ClientMessage::Draft { strokes: first });
            self.draft_out = true;
        }
    }

    /// Ends this tab's draft for everyone (after its operation was sent).
    pub(super) fn end_draft(&mut self) {
        self.draft_dirty = false;
        if std::mem::take(&mut self.draft_out) {
            self.send(&ClientMessage::DraftEnd);
        }
    }

    fn flush_cursor(&mut self, now: f64) {
        if now - self.cursor_sent_at < CURSOR_INTERVAL_MS {
            return;
        }
        if let Some((x, y)) = self.cursor_unsent.take() {
            self.cursor_sent_at = now;
            self.send(&ClientMessage::Cursor { x, y });
        }
    }

    /// Draws `strokes` with the view transform `view` on a canvas of `size`.
    pub(super) fn paint(
        ctx: &CanvasRenderingContext2d,
        strokes: &[(Cow<'_, Stroke>, bool)],
        view: &View,
        size: (f64, f64, f64),
        background: Option<&str>,
    ) {
        let (width, height, dpr) = size;
        let _ = ctx.set_transform(dpr, 0.0, 0.0, dpr, 0.0, 0.0);
        ctx.clear_rect(0.0, 0.0, width, height);
        if let Some(background) = background {
            ctx.set_global_alpha(1.0);
            ctx.set_fill_style_str(background);
            ctx.fill_rect(0.0, 0.0, width, height);
        }
        set_view_transform(ctx, view, size);
        for (stroke, confirmed) in strokes {
            let alpha = if *confirmed { 1.0 } else { UNCONFIRMED_ALPHA };
            render::draw_item(ctx, stroke, alpha);
        }
    }

    /// Ids the board layer leaves out this frame: shown live instead
    /// (pending requests, someone's draft, this tab's gesture, the text
    /// being edited) or hidden (items the eraser went over).
    fn live_ids(&self) -> HashSet<StrokeId> {
        self.gesture
            .hidden()
            .iter()
            .chain(self.editor.as_ref().and_then(TextEditor::editing))
            .chain(self.drafts.values().flatten().map(|s| &s.id))
            .chain(self.gesture.live_strokes().into_iter().map(|s| &s.id))
            .chain(
                self.pending
                    .iter()
                    .flat_map(|p| crate::scene::Layer::ids_named_by(&p.message)),
            )
            .cloned()
            .collect()
    }

    /// What is live, in drawing order: this tab's pending requests as they
    /// will look, other people's drafts, this tab's gesture (later entries
    /// win for an id given twice), sorted by stacking key.
    fn live_strokes(&self) -> Vec<&Stroke> {
        let pending = messages(&self.pending);
        let nothing_hidden = HashSet::new();
        let layer = crate::scene::Layer {
            board: &self.board,
            pending: &pending,
            hidden: &nothing_hidden,
        };
        let mut live: Vec<&Stroke> = layer.pending_shown();
        live.extend(self.drafts.values().flatten());
        live.extend(self.gesture.live_strokes());
        let mut seen = HashSet::new();
        live.reverse();
        live.retain(|s| seen.insert(&s.id));
        live.reverse();
        live.sort_by(|a, b| a.z.total_cmp(&b.z));
        live
    }

    /// An item as currently shown: live if it is, else as the board layer has it.
    fn shown(&self, id: &StrokeId) -> Option<&Stroke> {
        let live = self
            .gesture
            .live_strokes()
            .into_iter()
            .rev()
            .chain(self.drafts.values().flatten())
            .find(|s| &s.id == id);
        live.or_else(|| {
            let pending = messages(&self.pending);
            let layer = crate::scene::Layer {
                board: &self.board,
                pending: &pending,
                hidden: self.board_layer.hidden(),
            };
            layer.shown(id).map(|(stroke, _)| stroke)
        })
    }

    /// Brings the board layer's scene up to date with the board, the
    /// pending requests and what is live (before painting or hit testing).
    pub(super) fn sync_board_layer(&mut self) {
        let hidden = self.live_ids();
        let pending = messages(&self.pending);
        self.board_layer.sync(&self.board, &pending, hidden);
    }

    /// Items shown whose paint reaches into `area` (world coordinates),
    /// bottom first: the board layer's through its R-tree, then the live
    /// ones. Call [`Self::sync_board_layer`] first.
    pub(super) fn shown_in(&self, area: &Rect) -> Vec<&Stroke> {
        let pending = messages(&self.pending);
        let layer = crate::scene::Layer {
            board: &self.board,
            pending: &pending,
            hidden: self.board_layer.hidden(),
        };
        let mut found: Vec<&Stroke> = self
            .board_layer
            .scene()
            .in_area(area)
            .into_iter()
            .filter_map(|id| layer.get(id))
            .collect();
        found.extend(
            self.live_strokes()
                .into_iter()
                .filter(|s| geometry::visual_bounds(s).is_some_and(|b| b.intersects(area))),
        );
        found
    }

    fn redraw(&mut self, now: f64) {
        self.sync_board_layer();
        let pending = messages(&self.pending);
        self.board_layer
            .paint(&self.board, &pending, &self.view, self.size);

        let ctx = &self.ctx;
        let _ = ctx.set_transform(1.0, 0.0, 0.0, 1.0, 0.0, 0.0);
        ctx.clear_rect(
            0.0,
            0.0,
            f64::from(self.canvas.width()),
            f64::from(self.canvas.height()),
        );
        self.board_layer.draw_onto(ctx);
        set_view_transform(ctx, &self.view, self.size);
        for stroke in self.live_strokes() {
            render::draw_item(ctx, stroke, UNCONFIRMED_ALPHA);
        }
        for preview in self.previews.values() {
            render::draw_stroke(ctx, &preview.style, &preview.points, 1.0);
        }
        ctx.set_global_alpha(1.0);

        // Overlays, in screen coordinates.
        let ctx = &self.overlay_ctx;
        let (width, height, dpr) = self.size;
        let _ = ctx.set_transform(dpr, 0.0, 0.0, dpr, 0.0, 0.0);
        ctx.clear_rect(0.0, 0.0, width, height);
        let to_screen = |r: &Rect| {
            let a = self
                .view
                .to_screen((f64::from(r.min_x), f64::from(r.min_y)));
            let b = self
                .view
                .to_screen((f64::from(r.max_x), f64::from(r.max_y)));
            Rect::from_corners((a.0 as f32, a.1 as f32), (b.0 as f32, b.1 as f32))
        };
        if let Some(selection) = self.selection_box() {
            let handles = !self.gesture.is_transforming();
            render::draw_selection(ctx, &to_screen(&selection), handles);
        }
        if let Some(marquee) = self.gesture.marquee() {
            render::draw_marquee(ctx, &to_screen(&marquee));
        }
        if self.ui.tool.get_untracked() == Tool::Eraser {
            if let Some((x, y)) = self.hover {
                render::draw_eraser_cursor(ctx, x, y, f64::from(ERASER_RADIUS));
            }
        }
        let people = with_colors(&self.ui.people.get_untracked());
        for (user, cursor) in &self.cursors {
            let Some((person, color)) = people.iter().find(|(p, _)| &p.user == user) else {
                continue;
            };
            let (x, y) = cursor.position(now);
            let (sx, sy) = self.view.to_screen((f64::from(x), f64::from(y)));
            render::draw_cursor(ctx, sx, sy, color, &crate::ui::display_name(person));
        }
        ctx.set_global_alpha(1.0);
    }
}
