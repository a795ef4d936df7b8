//! The board engine in the browser: the replica's browser side.
//!
//! What the tab knows about the board (the confirmed board, pending
//! requests, other people's previews, drafts and cursors, the selection)
//! lives in [`Replica`], a synchronous state machine shared with native
//! tests. The engine owns what only a browser has: the socket's sender,
//! the canvases, the view, the page's signals. It feeds the replica server
//! frames and this tab's requests, and acts on the [`Changed`] each call
//! returns (send, reconnect, show a notice, redraw).
//!
//! Input handling lives in `input`, the text editor in `text_editor`, export
//! and import in `export`; they reach the replica through this file.
//!
//! Timing: events only record state; a `requestAnimationFrame` callback sends
//! at most one preview, draft and cursor message per frame and redraws the
//! canvas when something changed (and, while the board layer has regions
//! out of sight to paint, lets it paint some without redrawing).
//!
//! Drawing is layered: the confirmed board is kept in a bitmap covering the
//! view and a margin (`board_layer`), painted only where something changed;
//! each frame copies the part in sight to the board canvas and paints what
//! is live over it (this tab's pending requests, drafts, its gesture, other
//! people's previews). Cursors, the selection box and the marquee go on the
//! overlay canvas.

use std::borrow::Cow;
use std::cell::RefCell;
use std::rc::{Rc, Weak};

use futures_channel::mpsc::UnboundedSender;
use leptos::prelude::{GetUntracked, Set, WithUntracked};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{CanvasRenderingContext2d, HtmlCanvasElement};

use super::board_layer::{set_view_transform, BoardLayer, PAINT_BUDGET_MS};
use super::images::Images;
use super::offline::{Keeper, BOARD_INTERVAL_MS, BOARD_INTERVAL_PACKINGS, PACKED_PER_SLICE};
use super::render::{self, context_2d};
use super::storage;
use crate::decimal::Decimal;
use crate::follow::ViewSender;
use crate::geometry::{self, Rect};
use crate::gesture::Gesture;
use crate::laser::Trail;
use crate::protocol::packed::Packing;
use crate::protocol::{
    limits, ClientMessage, Color, Point, Request, ServerMessage, Stroke, StrokeId, StrokeKind,
    StrokeStyle, UserId,
};
use crate::replica::{kept, Changed, HistoryAnswer, Local, Replica, SnapshotProgress, TypedText};
use crate::stacking::Restack;
use crate::ui::{
    with_colors, BoardLink, BoardUi, ConnectionStatus, Stylable, StyleProperty, Tool,
    ERASER_RADIUS, FONT_SIZES, PALETTE,
};
use crate::view::View;

/// Pending strokes are drawn slightly translucent until the server stores them.
const UNCONFIRMED_ALPHA: f64 = 0.85;
/// Cursor positions go out at most this often (milliseconds).
const CURSOR_INTERVAL_MS: f64 = 50.0;
/// How long after the view last moved it counts as still moving (wheel
/// steps come every frame or so while it does).
const VIEW_SETTLE_MS: f64 = 100.0;
/// How long each frame may spend merging the rest of a snapshot.
const MERGE_BUDGET_MS: f64 = 6.0;

pub struct Engine {
    /// What this page was opened with: its socket's path, whether it edits.
    pub(super) link: BoardLink,
    /// The edit key this tab edits with, once the board's edit link was
    /// rotated (see `share`); sent in `hello`.
    pub(super) key: Option<String>,
    /// The key the current connection's `hello` carried: a connection
    /// refused for an old key after this tab rotated the link reconnects.
    hello_key: Option<String>,
    /// This tab asked for a new edit link and has no answer yet: a refusal
    /// of its connection meanwhile is its own doing.
    pub(super) rotating: bool,
    /// The board's content; pointer input arrives here.
    pub(super) canvas: HtmlCanvasElement,
    pub(super) ctx: CanvasRenderingContext2d,
    /// Selection, marquee, eraser outline and other people's cursors, on a
    /// canvas of their own above the content, so the content canvas holds
    /// exactly the board (what "export current view" saves).
    overlay: HtmlCanvasElement,
    overlay_ctx: CanvasRenderingContext2d,
    pub(super) ui: BoardUi,
    /// The board, pending requests, other people's live work, the selection.
    pub(super) replica: Replica,
    /// The confirmed board as painted (see `board_layer`).
    pub(super) board_layer: BoardLayer,
    /// The images image items show, as loaded (shared with `board_layer`).
    pub(super) images: Images,
    pub(super) gesture: Gesture,
    /// Fingers on the canvas (pointer id, where in screen coordinates, for
    /// a pinch): two at most matter, so a list (a map type would add its
    /// own code to the WebAssembly).
    pub(super) touches: Vec<(i32, (f64, f64))>,
    pub(super) view: View,
    /// The pointer in screen coordinates, while it is over the canvas.
    pub(super) hover: Option<(f64, f64)>,
    /// The cursor the canvas shows over a resize handle ("" for the
    /// style sheet's).
    pub(super) canvas_cursor: &'static str,
    pub(super) space_held: bool,
    pub(super) editor: Option<Box<dyn TextField>>,
    /// Whether the draft changed since it was last sent / whether one is out.
    pub(super) draft_dirty: bool,
    pub(super) draft_out: bool,
    pub(super) cursor_unsent: Option<(f32, f32)>,
    /// An announcement of others' changes is scheduled (`announce_later`).
    announcing: bool,
    /// The selection as others were last told of it (`flush_selection`).
    selection_sent: Vec<StrokeId>,
    /// Whom the server was last told this tab follows (`flush_follow`).
    follow_sent: Option<UserId>,
    /// When this tab's view goes out to its followers (`flush_view`), and
    /// the count of new followers it last sent a view for.
    views: ViewSender,
    arrivals_seen: u64,
    /// When the view last glided towards the leader's (`Date.now()`, ms).
    glided_at: f64,
    /// This tab's laser trail, and the pointer holding the laser down.
    pub(super) laser: Trail,
    pub(super) lasering: Option<i32>,
    cursor_sent_at: f64,
    socket: Option<UnboundedSender<String>>,
    /// Ends the connection loop's wait before its next attempt.
    wake: Option<futures_channel::oneshot::Sender<()>>,
    pub(super) dirty: bool,
    /// When the canvas last showed remote cursors (`Date.now()`, ms):
    /// frames are due until it is past every cursor's glide and every
    /// laser trail's fading.
    cursors_drawn_at: f64,
    /// The system asks for reduced motion: cursors jump, replays show
    /// their operations at once.
    pub(super) reduced_motion: bool,
    frame_requested: bool,
    /// A task to paint on in sight is queued (see `paint_on_in_sight`).
    sight_task: bool,
    /// When the view last moved or zoomed (`Date.now()`, ms).
    view_moved_at: f64,
    stopped: bool,
    /// Canvas size in CSS pixels and the device pixel ratio.
    pub(super) size: (f64, f64, f64),
    /// The engine's own handle, for listeners it creates later (text editor).
    this: Weak<RefCell<Engine>>,
    /// What the history panel read and what it replays (`history`).
    pub(super) history: super::history::History,
    /// What the item list shows and has written (`item_list`).
    pub(super) items: super::item_list::ItemsPanel,
    /// Where the board is kept on the device, once startup opened it
    /// (`offline`), and what was kept there.
    keeper: Option<Rc<Keeper>>,
    kept: Kept,
}

/// What the engine kept on the device and what it is keeping.
#[derive(Default)]
struct Kept {
    /// A write is in flight.
    writing: bool,
    /// The replica's count of pending changes that was last kept.
    pending: u64,
    /// The number of the board last kept.
    board_seq: u64,
    /// Not before this (`Date.now()`, ms) is the board packed again.
    board_due: f64,
    /// A timer runs to keep the board once it is due.
    board_timer: bool,
    /// The board being packed, a slice at a time: its number, the packing
    /// and the milliseconds spent on it so far.
    packing: Option<(u64, Packing, f64)>,
    /// A packed board (and its number) waiting for the write in flight.
    packed: Option<(u64, Vec<u8>)>,
}

/// Runs `work` on the engine in a task of its own, after `ms`
/// milliseconds. (One closure type for every such task: each type is a
/// copy of the timer's glue in the WebAssembly.)
pub(super) fn later(handle: &EngineHandle, ms: u32, work: fn(&mut Engine)) {
    let handle = handle.clone();
    gloo_timers::callback::Timeout::new(ms, move || {
        handle.with(work);
    })
    .forget();
}

/// The text editor as the engine sees it; `text_editor` implements it over
/// a textarea, so the engine holds it without knowing the DOM behind it.
pub trait TextField {
    /// Which editor this is (a later one may have replaced it).
    fn id(&self) -> u64;
    /// The stored text hidden while it is being edited.
    fn editing(&self) -> Option<&StrokeId>;
    /// Positions and sizes the field for the view.
    fn place(&self, view: &View);
    /// Removes the field; what was typed into it.
    fn close(self: Box<Self>) -> TypedText;
}

/// Shared ownership of the engine for event listeners and the socket task.
#[derive(Clone)]
pub struct EngineHandle(pub(super) Rc<RefCell<Engine>>);

/// This tab's own live state for the replica: the gesture's strokes and
/// what it and the text editor hide.
fn local<'a>(gesture: &'a Gesture, editor: Option<&'a dyn TextField>) -> Local<'a> {
    Local {
        strokes: gesture.live_strokes(),
        hidden: gesture
            .hidden()
            .iter()
            .chain(editor.and_then(|editor| editor.editing()))
            .collect(),
    }
}

impl EngineHandle {
    /// An engine on these canvases; `client::start` adds the listeners and
    /// the connection loop.
    pub(super) fn new(
        link: BoardLink,
        key: Option<String>,
        canvas: HtmlCanvasElement,
        overlay: HtmlCanvasElement,
        ui: BoardUi,
    ) -> Result<Self, JsValue> {
        let ctx = context_2d(&canvas)?;
        let overlay_ctx = context_2d(&overlay)?;
        let user = storage::user_id();
        ui.me.set(user.as_str().to_owned());
        ui.name.set(storage::display_name().unwrap_or_default());
        ui.guest.set(storage::guest_name());
        let reduced_motion = prefers("(prefers-reduced-motion: reduce)");
        let mut replica = Replica::new(user, storage::random_hex(6));
        if reduced_motion {
            replica.set_glide(0.0);
        }
        let images = Images::new(prefers("(prefers-color-scheme: dark)"));
        let engine = Engine {
            link,
            key,
            hello_key: None,
            rotating: false,
            canvas,
            ctx,
            overlay,
            overlay_ctx,
            ui,
            replica,
            board_layer: BoardLayer::new(images.clone())?,
            images,
            gesture: Gesture::Idle,
            touches: Vec::new(),
            view: View::default(),
            hover: None,
            canvas_cursor: "",
            space_held: false,
            editor: None,
            draft_dirty: false,
            draft_out: false,
            cursor_unsent: None,
            announcing: false,
            selection_sent: Vec::new(),
            follow_sent: None,
            views: ViewSender::default(),
            arrivals_seen: 0,
            glided_at: 0.0,
            laser: Trail::default(),
            lasering: None,
            cursor_sent_at: 0.0,
            socket: None,
            wake: None,
            dirty: true,
            cursors_drawn_at: 0.0,
            reduced_motion,
            frame_requested: false,
            sight_task: false,
            view_moved_at: 0.0,
            stopped: false,
            size: (0.0, 0.0, 1.0),
            this: Weak::new(),
            history: Default::default(),
            items: Default::default(),
            keeper: None,
            kept: Kept::default(),
        };
        let engine = Rc::new_cyclic(|this| {
            RefCell::new(Engine {
                this: this.clone(),
                ..engine
            })
        });
        let arrived_for = Rc::downgrade(&engine);
        engine.borrow().images.on_arrival(move |image| {
            if let Some(engine) = arrived_for.upgrade() {
                EngineHandle(engine).with(|e| e.image_arrived(&image));
            }
        });
        Ok(EngineHandle(engine))
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

    /// Runs `f` on the engine once the current event is handled: for DOM
    /// events that can fire while the engine is busy (a textarea's `blur`
    /// when the engine removes it), never a re-entrant borrow.
    pub(super) fn post(&self, f: impl FnOnce(&mut Engine) + 'static) {
        let handle = self.clone();
        wasm_bindgen_futures::spawn_local(async move {
            handle.with(f);
        });
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

    /// The toolbar's buttons pick tools through this.
    pub fn choose_tool(&self, tool: Tool) {
        self.with(|e| e.choose_tool(tool));
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

    /// Follows `user`'s view, or stops following them (see [`Engine::follow`]).
    pub fn follow(&self, user: String) {
        self.with(|e| e.follow(&user));
    }

    pub fn summon(&self) {
        self.with(Engine::summon);
    }

    /// Changes this person's display name (remembered in the browser).
    pub fn rename(&self, name: String) {
        self.with(|e| {
            storage::set_display_name(&name);
            e.send(&ClientMessage::Profile {
                name: e.name_to_use(),
            });
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
        match &self.0.borrow().link {
            BoardLink::Edit(board) => format!("{scheme}://{host}/ws/{board}"),
            BoardLink::View(token) => format!("{scheme}://{host}/ws/v/{token}"),
        }
    }

    /// The server closed the connection for a link that opens nothing (any
    /// more): `true` if that is final (the page says so and stops
    /// connecting), `false` if this tab has a newer key than the refused
    /// connection had (it rotated the link itself) and reconnects with it.
    pub(super) fn refused(&self) -> bool {
        let Some(last) = self.with(|engine| {
            if engine.key != engine.hello_key || engine.rotating {
                return false;
            }
            // The page stops: nothing it shows is live any more, and
            // nothing drawn here could be sent.
            engine.ui.status.set(ConnectionStatus::Refused);
            engine.ui.people.set(Vec::new());
            engine.ui.presence.set(0);
            true
        }) else {
            return true;
        };
        if last {
            self.stop();
        }
        last
    }

    /// A new connection: say hello; the rest waits for `welcome`.
    pub(super) fn attach(&self, socket: UnboundedSender<String>) {
        self.with(|engine| engine.attach(socket));
    }

    /// The browser says the network is gone: the connection ends now (a
    /// socket on a dead network can take minutes to notice).
    pub(super) fn went_offline(&self) {
        self.with(|engine| engine.socket = None);
    }

    /// The connection loop waits before its next attempt: `wake` ends the
    /// wait when the browser says the network is back.
    pub(super) fn wake_on_online(&self, wake: futures_channel::oneshot::Sender<()>) {
        self.with(|engine| engine.wake = Some(wake));
    }

    pub(super) fn came_online(&self) {
        if let Some(wake) = self.with(|engine| engine.wake.take()).flatten() {
            let _ = wake.send(());
        }
    }

    /// The connection ended.
    pub(super) fn detach(&self) {
        self.with(|engine| {
            engine.socket = None;
            engine.replica.disconnect();
            engine.reads_lost();
            // A viewer changes nothing, so it has nothing to keep.
            let keeps_changes = engine.keeper.is_some() && !engine.ui.viewer;
            engine.ui.status.set(match keeps_changes {
                true => ConnectionStatus::Offline,
                false => ConnectionStatus::Reconnecting,
            });
        });
    }

    /// Whether the current connection should be dropped (a gap was detected).
    pub(super) fn is_attached(&self) -> bool {
        self.0.borrow().socket.is_some()
    }

    pub(super) fn was_welcomed(&self) -> bool {
        self.0.borrow().replica.is_live()
    }

    pub(super) fn on_frame_text(&self, text: &str) {
        let decoding = text
            .starts_with("{\"type\":\"welcome\"")
            .then(|| super::timing::span("decode-welcome"));
        let decoded = ServerMessage::decode(text);
        drop(decoding);
        match decoded {
            Ok(message) => {
                // A refusal that names no request may be of a history read.
                let refusal = matches!(&message, ServerMessage::Error { op_id: None, .. });
                self.with(|engine| {
                    let changed = engine.replica.on_server(message, js_sys::Date::now());
                    engine.reflect(changed);
                    engine.announce_later();
                    if refusal {
                        engine.read_refused();
                    }
                });
            }
            Err(error) => leptos::logging::warn!("undecodable frame from server: {error}"),
        }
    }

    /// A binary frame: part of the packed snapshot a `welcome` announced.
    pub(super) fn on_frame_binary(&self, bytes: &[u8]) {
        self.with(|engine| {
            let completes = engine
                .replica
                .snapshot_missing()
                .is_some_and(|missing| missing <= bytes.len() as u64);
            let decoding = completes.then(|| super::timing::span("decode-welcome"));
            let progress = engine.replica.on_snapshot_frame(bytes);
            drop(decoding);
            match progress {
                SnapshotProgress::Partial => {}
                // Merged once the view is painted (`paint_board_layer`).
                SnapshotProgress::RestArrived => {}
                SnapshotProgress::Complete(welcome) => {
                    let loading = super::timing::span("load-snapshot");
                    let changed = engine.replica.on_server(welcome, js_sys::Date::now());
                    drop(loading);
                    engine.reflect(changed);
                }
                SnapshotProgress::Broken(changed) | SnapshotProgress::Past(changed) => {
                    engine.reflect(changed)
                }
            }
        });
    }
}

impl Engine {
    pub(super) fn handle(&self) -> Option<EngineHandle> {
        self.this.upgrade().map(EngineHandle)
    }

    pub(super) fn new_id(&mut self) -> String {
        self.replica.new_id()
    }

    /// Sends a message now if the connection is welcomed (live messages
    /// are not queued; durable ones wait in the replica).
    pub(super) fn send(&self, message: &ClientMessage) {
        if let (Some(socket), true) = (&self.socket, self.replica.is_live()) {
            let _ = socket.unbounded_send(message.encode());
        }
    }

    /// Acts on what the replica says changed: sends, reconnects, shows.
    pub(super) fn reflect(&mut self, changed: Changed) {
        let Changed {
            redraw,
            send,
            reconnect,
            notice,
            connected,
            opened,
            presence,
            people,
            warning,
            history,
        } = changed;
        for message in &send {
            self.send(message);
        }
        if let Some(reason) = reconnect {
            leptos::logging::warn!("{reason}; reconnecting");
            self.socket = None;
        }
        if let Some(warning) = warning {
            leptos::logging::warn!("{warning}");
        }
        if notice.is_some() {
            self.ui.notice.set(notice);
        }
        if connected {
            self.ui.status.set(ConnectionStatus::Connected);
            self.retry_failed_images();
        }
        if let Some(count) = presence {
            self.ui.presence.set(count);
        }
        if let Some(people) = people {
            self.ui.people.set(people);
        }
        if opened {
            // Opening a board: show what is on it.
            self.zoom_to_fit_if_outside();
        }
        match history {
            Some(HistoryAnswer::Page(entries)) => self.on_history_page(entries),
            Some(HistoryAnswer::Replay(ops)) => self.on_replay_ops(ops),
            Some(HistoryAnswer::Past(_)) => self.on_past(),
            None => {}
        }
        self.history_follows_board();
        self.items_changed();
        // Selected items someone else erased leave the selection: the
        // style panel then offers what the rest take. (A selection made
        // here is shown by `select`.)
        let pruned = self.replica.selection().len() != self.ui.selected.get_untracked();
        self.show_counts();
        if pruned {
            let selected = match self.replica.selection().is_empty() {
                true => Vec::new(),
                false => self.selected_strokes(),
            };
            self.show_stylable(&selected);
        }
        self.keep();
        self.dirty |= redraw;
    }

    /// Takes up what the device kept (`offline::resume`), as `user`, and
    /// keeps what changes from now on with `keeper`.
    pub(super) fn resume(
        &mut self,
        keeper: Rc<Keeper>,
        user: UserId,
        board: Option<&[u8]>,
        pending: Option<&str>,
    ) {
        self.replica.speak_for(user);
        self.ui.me.set(self.replica.user().as_str().to_owned());
        let resuming = super::timing::span("resume-kept");
        let changed = self.replica.resume(board, pending);
        drop(resuming);
        self.kept.board_seq = self.replica.keepable_seq().unwrap_or(0);
        self.kept.board_due = js_sys::Date::now() + BOARD_INTERVAL_MS;
        self.keeper = Some(keeper);
        self.reflect(changed);
    }

    /// Keeps on the device what changed there, one write at a time: the
    /// pending requests at once, the confirmed board once it is due and
    /// packed (a slice at a time: `pack_slice`). A write that fails is not
    /// retried until the next change.
    fn keep(&mut self) {
        let (Some(keeper), Some(handle)) = (self.keeper.clone(), self.handle()) else {
            return;
        };
        self.start_packing(&handle);
        if self.kept.writing {
            return;
        }
        let changes = self.replica.pending_changes();
        let pending = (changes != self.kept.pending)
            .then(|| (!self.replica.pending().is_empty()).then(|| self.replica.pending_to_keep()));
        let board = self.kept.packed.take();
        if pending.is_none() && board.is_none() {
            return;
        }
        self.kept.writing = true;
        wasm_bindgen_futures::spawn_local(async move {
            let seq = board.as_ref().map(|(seq, _)| *seq);
            let wrote_pending = pending.is_some();
            let kept = keeper.keep(pending, board.map(|(_, bytes)| bytes)).await;
            handle.with(|engine| {
                if !kept {
                    leptos::logging::warn!("changes could not be kept on this device");
                }
                // The list written is the one now: a copy made on hiding
                // holds nothing newer.
                if kept && wrote_pending && engine.replica.pending_changes() == changes {
                    keeper.drop_backup();
                }
                engine.kept.writing = false;
                engine.kept.pending = changes;
                engine.kept.board_seq = seq.unwrap_or(engine.kept.board_seq);
                engine.keep();
            });
        });
    }

    /// The page is being hidden (maybe going away): pending requests whose
    /// write to IndexedDB is still due or in flight are also copied where
    /// they are written at once (`offline`).
    pub(super) fn on_hidden(&self) {
        let due = self.kept.writing || self.kept.pending != self.replica.pending_changes();
        if let Some(keeper) = self.keeper.as_ref().filter(|_| due) {
            if !self.replica.pending().is_empty() {
                keeper.back_up(&self.replica.pending_to_keep());
            }
        }
    }

    /// Starts packing the confirmed board once it changed and is due (a
    /// timer waits till then), unless one is being packed or written.
    fn start_packing(&mut self, handle: &EngineHandle) {
        let changed = self
            .replica
            .keepable_seq()
            .filter(|seq| *seq != self.kept.board_seq && !self.replica.merging());
        let (Some(seq), None, None) = (changed, &self.kept.packing, &self.kept.packed) else {
            return;
        };
        let now = js_sys::Date::now();
        if now < self.kept.board_due {
            if !self.kept.board_timer {
                self.kept.board_timer = true;
                later(handle, (self.kept.board_due - now) as u32, |engine| {
                    engine.kept.board_timer = false;
                    engine.keep();
                });
            }
            return;
        }
        let packing = self.replica.packing();
        self.kept.packing = Some((seq, packing, js_sys::Date::now() - now));
        later(handle, 0, Engine::pack_slice);
    }

    /// Packs a slice of the board being kept; once all of it is, it is
    /// written, and the next packing is due after [`BOARD_INTERVAL_MS`] or
    /// [`BOARD_INTERVAL_PACKINGS`] times the time this one took.
    fn pack_slice(&mut self) {
        let Some((seq, mut packing, spent)) = self.kept.packing.take() else {
            return;
        };
        let started = js_sys::Date::now();
        if !packing.step(PACKED_PER_SLICE) {
            self.kept.packing = Some((seq, packing, spent + (js_sys::Date::now() - started)));
            if let Some(handle) = self.handle() {
                later(&handle, 0, Engine::pack_slice);
            }
            return;
        }
        let bytes = kept::packed(packing);
        let now = js_sys::Date::now();
        let spent = spent + (now - started);
        self.kept.board_due = now + BOARD_INTERVAL_MS.max(spent * BOARD_INTERVAL_PACKINGS);
        self.kept.packed = Some((seq, bytes));
        self.keep();
    }

    /// The toolbar's counts of unsaved requests and selected items.
    fn show_counts(&self) {
        let unsaved = self.replica.pending().len();
        if self.ui.unsaved.get_untracked() != unsaved {
            self.ui.unsaved.set(unsaved);
        }
        let selected = self.replica.selection().len();
        if self.ui.selected.get_untracked() != selected {
            self.ui.selected.set(selected);
        }
    }

    /// The name chosen here if it is valid, else this browser's guest name.
    fn name_to_use(&self) -> String {
        let name = self.ui.name.get_untracked();
        match crate::protocol::validate_name(&name) {
            Ok(()) => name,
            Err(_) => self.ui.guest.get_untracked(),
        }
    }

    fn attach(&mut self, socket: UnboundedSender<String>) {
        // What the canvas shows: a big board's snapshot brings it first.
        let (width, height, _) = self.size;
        let view = (width > 0.0 && height > 0.0).then(|| self.view.visible((width, height)));
        self.hello_key = self.key.clone();
        // A new connection: the others know no selection of this tab,
        // nor whom it follows, nor its view.
        self.selection_sent.clear();
        self.follow_sent = None;
        self.views.forget();
        let hello = self.replica.connect(
            Some(self.name_to_use()).filter(|name| !name.is_empty()),
            view,
            self.hello_key.clone(),
        );
        let _ = socket.unbounded_send(hello.encode());
        self.socket = Some(socket);
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
        if self.view_only() || self.looking_back(&request) {
            return;
        }
        let changed = self.replica.submit(request);
        self.reflect(changed);
    }

    /// Submits strokes as one or more `add_strokes` / `update` requests.
    pub(super) fn submit_batched(&mut self, strokes: Vec<Stroke>, update: bool) {
        if self.view_only() {
            return;
        }
        let changed = self.replica.submit_batched(strokes, update);
        self.reflect(changed);
    }

    /// A past version is shown (history): only restoring it or naming a
    /// version changes the board then; anything else says so instead.
    fn looking_back(&self, request: &Request) -> bool {
        !matches!(request, Request::Restore { .. } | Request::NameVersion(_)) && self.past_shown()
    }

    /// A past version is shown: says that it cannot be changed.
    pub(super) fn past_shown(&self) -> bool {
        let past = self.replica.past().is_some();
        if past {
            self.ui.notice.set(Some(
                "This is a past version: restore it, or go back to now to change the board".into(),
            ));
        }
        past
    }

    /// Opened with a view link: says so instead of changing anything (the
    /// server would refuse it; keys and paste reach here without a tool).
    pub(super) fn view_only(&self) -> bool {
        if self.ui.viewer {
            self.ui.notice.set(Some(
                "This is a view link: the board cannot be changed here".into(),
            ));
        }
        self.ui.viewer
    }

    /// Closes the text editor and turns what was typed into a request.
    pub(super) fn commit_text(&mut self, editor: Box<dyn TextField>) {
        let changed = self.replica.commit_text(editor.close());
        self.reflect(changed);
        self.dirty = true;
    }

    /// Commits the text editor `id` if it is still the open one.
    pub(super) fn close_editor(&mut self, id: u64) {
        if self.editor.as_ref().is_some_and(|editor| editor.id() == id) {
            if let Some(editor) = self.editor.take() {
                self.commit_text(editor);
            }
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

    /// The highest stacking key shown, pending and live strokes included.
    pub(super) fn top_z(&self) -> f64 {
        self.replica
            .top_z(&local(&self.gesture, self.editor.as_deref()))
    }

    // ---- selection ----

    pub(super) fn selection(&self) -> &[StrokeId] {
        self.replica.selection()
    }

    /// Picks a tool. A drawing tool ends the selection: the style chosen
    /// next is for the next item, and must not restyle the selected ones.
    pub(super) fn choose_tool(&mut self, tool: Tool) {
        if !matches!(tool, Tool::Select | Tool::Hand) {
            self.select(Vec::new());
        }
        if tool != Tool::Select && !self.canvas_cursor.is_empty() {
            self.canvas_cursor = "";
            let _ = self.canvas.style().set_property("cursor", "");
        }
        self.ui.tool.set(tool);
    }

    pub(super) fn select(&mut self, ids: Vec<StrokeId>) {
        if self.replica.select(ids) {
            self.items_selected();
            self.show_counts();
            self.show_style_of_selection();
            self.dirty = true;
        }
    }

    /// The style panel shows the style of the first selected item (and new
    /// items get it too, as in other whiteboards), and only the sections
    /// the selected items take.
    fn show_style_of_selection(&self) {
        let selected = self.selected_strokes();
        self.show_stylable(&selected);
        let Some(first) = selected.into_iter().next() else {
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

    /// What the style panel offers for the selection: what `selected`
    /// take.
    fn show_stylable(&self, selected: &[Stroke]) {
        let stylable = Stylable::of(selected.iter().map(|s| s.kind));
        if self.ui.stylable.get_untracked() != stylable {
            self.ui.stylable.set(stylable);
        }
    }

    /// The selected strokes as currently shown.
    pub(super) fn selected_strokes(&self) -> Vec<Stroke> {
        self.replica
            .selected_strokes(&local(&self.gesture, self.editor.as_deref()))
    }

    /// The box around the selection's shapes, in world coordinates.
    pub(super) fn selection_box(&self) -> Option<Rect> {
        self.replica
            .selection_box(&local(&self.gesture, self.editor.as_deref()))
    }

    pub(super) fn delete_selection(&mut self) {
        let changed = self.replica.delete_selection();
        self.reflect(changed);
    }

    pub(super) fn duplicate_selection(&mut self) {
        let offset = 16.0 / self.view.zoom as f32;
        let changed = self
            .replica
            .duplicate_selection(offset, &local(&self.gesture, self.editor.as_deref()));
        self.reflect(changed);
        self.show_style_of_selection();
    }

    /// Moves the selection in the stacking order (see [`crate::stacking`]).
    pub(super) fn restack_selection(&mut self, how: Restack) {
        let changed = self
            .replica
            .restack_selection(how, &local(&self.gesture, self.editor.as_deref()));
        self.reflect(changed);
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
        // Each item takes what the style panel offers for its kind (an
        // image no colour, a text no width), whatever else is selected.
        let restyle = |s: &mut Stroke| {
            let takes = Stylable::of([s.kind]);
            match property {
                StyleProperty::Color if takes.colour => s.style.color = color.clone(),
                StyleProperty::Width if takes.width => s.style.width = width,
                StyleProperty::Opacity => s.opacity = opacity,
                StyleProperty::Fill if takes.fill => s.fill = fill.clone(),
                StyleProperty::FontSize if takes.font_size => s.font_size = Some(font_size),
                _ => {}
            }
        };
        let changed = self
            .replica
            .restyle_selection(restyle, &local(&self.gesture, self.editor.as_deref()));
        self.reflect(changed);
    }

    // ---- view ----

    /// Pans or zooms as this person asked, which ends following anyone.
    pub(super) fn set_view(&mut self, change: impl FnOnce(&mut View)) {
        self.replica.follow_view_of(None);
        self.show_view(change);
    }

    fn show_view(&mut self, change: impl FnOnce(&mut View)) {
        change(&mut self.view);
        self.view_moved_at = js_sys::Date::now();
        self.ui.zoom.set(self.view.zoom);
        // The dot grid moves and scales with the board.
        // (Written by `Decimal`: an `f64` formatted with `{}` would bring
        // the standard library's float formatting into the WebAssembly.)
        let grid = Decimal(24.0 * self.view.zoom);
        let (x, y) = self.view.to_screen((0.0, 0.0));
        let (x, y) = (Decimal(x), Decimal(y));
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

    /// Fits the view to the board when none of it is in sight.
    fn zoom_to_fit_if_outside(&mut self) {
        let (w, h, _) = self.size;
        let visible = self.view.visible((w, h));
        let in_sight = self
            .replica
            .board()
            .visible_strokes()
            .filter_map(geometry::visual_bounds)
            .any(|b| visible.intersects(&b));
        if !in_sight {
            self.zoom_to_fit();
        }
    }

    // ---- what is shown ----

    /// Strokes as the user should see them, in drawing order (see
    /// [`Replica::display_strokes`]): for exports and whole-board commands.
    pub(super) fn display_strokes(&self) -> Vec<(Cow<'_, Stroke>, bool)> {
        self.replica
            .display_strokes(&local(&self.gesture, self.editor.as_deref()))
    }

    /// Brings the board layer's scene up to date with the board, the
    /// pending requests and what is live (before painting or hit testing).
    pub(super) fn sync_board_layer(&mut self) {
        let _span = self
            .replica
            .scene_rebuild_due()
            .then(|| super::timing::span("build-scene"));
        let update = self
            .replica
            .sync_scene(&local(&self.gesture, self.editor.as_deref()));
        self.board_layer.accept(update);
    }

    /// Items shown whose paint reaches into `area` (world coordinates),
    /// bottom first. Call [`Self::sync_board_layer`] first.
    pub(super) fn shown_in(&self, area: &Rect) -> Vec<&Stroke> {
        self.replica
            .shown_in(area, &local(&self.gesture, self.editor.as_deref()))
    }

    fn wants_frame(&self) -> bool {
        self.dirty
            || self.replaying()
            || self.draft_dirty
            || self.cursor_unsent.is_some()
            || self.gesture.has_unsent_preview()
            || self.overlay_moving()
            || self.board_layer.has_work()
            || self.replica.merging()
            || self.follow_moving()
    }

    // ---- following ----

    /// Follows `user`'s view, or stops if this tab follows them already
    /// (the people list's buttons toggle); an empty `user` stops.
    pub(super) fn follow(&mut self, user: &str) {
        let leader = UserId::parse(user)
            .ok()
            .filter(|user| self.replica.follow().leader() != Some(user));
        self.replica.follow_view_of(leader);
        // A frame tells the page (and the server, when connected).
        self.dirty = true;
    }

    /// "Bring everyone to me" (the view goes out once they follow).
    pub(super) fn summon(&mut self) {
        if !self.view_only() {
            self.send(&ClientMessage::Summon);
        }
    }

    /// Whether frames must keep coming for following: the view still glides
    /// towards the leader's, a view is owed to followers, or the server and
    /// the page are yet to hear whom this tab follows.
    fn follow_moving(&self) -> bool {
        let (w, h, _) = self.size;
        let follow = self.replica.follow();
        let gliding = follow
            .area()
            .is_some_and(|area| View::showing(&area, (w, h)) != self.view);
        let owed = follow.followers() > 0
            && self.replica.is_live()
            && self.views.owes(&self.view.visible((w, h)));
        let untold = self.replica.is_live() && follow.leader() != self.follow_sent.as_ref();
        gliding || owed || untold
    }

    /// Tells the server whom this tab follows when that changed (by a
    /// click, Escape, a pan, a summon, the leader leaving), and the page.
    fn flush_follow(&mut self) {
        let leader = self.replica.follow().leader();
        if leader != self.follow_sent.as_ref() && self.replica.is_live() {
            self.follow_sent = leader.cloned();
            self.send(&ClientMessage::Follow {
                user: self.follow_sent.clone(),
            });
        }
        let shown = leader.map_or("", UserId::as_str);
        if self
            .ui
            .following
            .with_untracked(|following| following != shown)
        {
            self.ui.following.set(shown.to_owned());
        }
    }

    /// Sends this tab's view while someone follows it: at once to a new
    /// follower, then when it changes, at most ten a second.
    fn flush_view(&mut self, now: f64) {
        let follow = self.replica.follow();
        if follow.arrivals() != self.arrivals_seen {
            self.arrivals_seen = follow.arrivals();
            self.views.forget();
        }
        if follow.followers() == 0 || !self.replica.is_live() {
            return;
        }
        let (w, h, _) = self.size;
        if let Some(area) = self.views.take(self.view.visible((w, h)), now) {
            self.send(&ClientMessage::View { area });
        }
    }

    /// Moves the view a frame's share of the way to the leader's (all the
    /// way when motion should be reduced).
    fn glide_to_leader(&mut self, now: f64) {
        let (w, h, _) = self.size;
        let Some(area) = self.replica.follow().area() else {
            return;
        };
        let target = View::showing(&area, (w, h));
        let elapsed = match self.reduced_motion {
            true => f64::INFINITY,
            // A frame's worth after a pause (the first view to follow).
            false => (now - self.glided_at).min(50.0),
        };
        self.glided_at = now;
        if target != self.view {
            let next = crate::follow::glide(&self.view, &target, (w, h), elapsed);
            self.show_view(|view| *view = next);
        }
    }

    /// Whether a remote cursor has not yet been drawn where its glide ends,
    /// or a laser trail (anyone's) is still fading.
    fn overlay_moving(&self) -> bool {
        let settled = self
            .replica
            .cursors_settle_at()
            .max(self.laser.fades_out_at());
        self.cursors_drawn_at < settled
    }

    fn on_frame(&mut self) {
        let now = js_sys::Date::now();
        self.step_replay(now);
        self.flush_preview();
        self.flush_draft();
        self.flush_cursor(now);
        self.flush_selection();
        self.flush_follow();
        self.glide_to_leader(now);
        self.flush_view(now);
        let view_changed = self.dirty || self.overlay_moving();
        // The board layer also paints what is out of sight, a little each
        // frame (and the rest of a snapshot is merged); that alone leaves
        // the visible canvas as it is.
        if view_changed || self.board_layer.has_work() || self.replica.merging() {
            let in_sight_painted = self.paint_board_layer();
            if view_changed || in_sight_painted {
                self.dirty = false;
                self.redraw(now);
            }
        }
        self.paint_on_in_sight();
    }

    /// While what is in sight is still being painted and nobody is
    /// waiting for frames (the pointer is not drawing or transforming, the
    /// view has not moved for [`VIEW_SETTLE_MS`]), painting goes on in a
    /// task of its own right after this one, not only in the next frame:
    /// a big board's view then fills sooner, as there are fewer frames to
    /// show and each one costs the browser a copy of the bitmap. The frames
    /// in between still show the progress. While the view moves, its
    /// frames come first (without that, wheel panning past the margin ran
    /// at 47 frames a second in two runs of three, against 54–56).
    fn paint_on_in_sight(&mut self) {
        let moving = js_sys::Date::now() - self.view_moved_at < VIEW_SETTLE_MS;
        if self.sight_task || moving || self.pointer_busy() || !self.board_layer.in_sight_pending()
        {
            return;
        }
        let Some(handle) = self.handle() else {
            return;
        };
        self.sight_task = true;
        later(&handle, 0, |engine| {
            engine.sight_task = false;
            if engine.paint_board_layer() {
                engine.dirty = true;
            }
            engine.paint_on_in_sight();
        });
    }

    /// Whether the pointer draws, erases or transforms: its frames come first.
    fn pointer_busy(&self) -> bool {
        self.gesture.pointer().is_some() && !matches!(self.gesture, Gesture::Panning { .. })
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

    /// Schedules the next announcement of others' changes, if one waits
    /// and none is scheduled (at most one every two seconds).
    fn announce_later(&mut self) {
        if self.announcing || !self.replica.announcer().has_news() {
            return;
        }
        let Some(handle) = self.handle() else {
            return;
        };
        self.announcing = true;
        let wait = self.replica.announcer().wait_ms(js_sys::Date::now());
        later(&handle, wait as u32, |engine| {
            engine.announcing = false;
            let people = engine.ui.people.get_untracked();
            let name = |user: &UserId| match people.iter().find(|p| &p.user == user) {
                Some(person) => crate::ui::display_name(person),
                None => crate::ui::guest_name(user.as_str()),
            };
            if let Some(words) = engine.replica.announcer().speak(js_sys::Date::now(), name) {
                engine.ui.announcement.set(words);
            }
        });
    }

    /// Tells the others what is selected here, when it changed (by any
    /// path: a click, a marquee, a paste, a delete). Only while live: the
    /// selection is sent again after every welcome.
    fn flush_selection(&mut self) {
        if !self.replica.is_live() {
            return;
        }
        let selection = self.replica.selection();
        let shown = &selection[..selection.len().min(limits::MAX_SELECTION_IDS)];
        if shown != self.selection_sent.as_slice() {
            self.selection_sent = shown.to_vec();
            self.send(&ClientMessage::Selection {
                ids: self.selection_sent.clone(),
            });
        }
    }

    /// Sends where the pointer is: at most every [`CURSOR_INTERVAL_MS`],
    /// or every frame while the laser is held down (its trail is drawn
    /// through these positions).
    fn flush_cursor(&mut self, now: f64) {
        let laser = self.lasering.is_some();
        if !laser && now - self.cursor_sent_at < CURSOR_INTERVAL_MS {
            return;
        }
        if let Some((x, y)) = self.cursor_unsent.take() {
            self.cursor_sent_at = now;
            self.send(&ClientMessage::Cursor { x, y, laser });
        }
    }

    /// Draws `strokes` with the view transform `view` on a canvas of `size`.
    pub(super) fn paint(
        &self,
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
        let scale = set_view_transform(ctx, view, size);
        for (stroke, confirmed) in strokes {
            let alpha = if *confirmed { 1.0 } else { UNCONFIRMED_ALPHA };
            render::draw_item(ctx, stroke, alpha, scale, &self.images);
        }
    }

    /// Brings the board layer up to date for this frame; whether it
    /// painted anything in sight. Once the view is painted, merges the
    /// rest of a snapshot that came in parts.
    fn paint_board_layer(&mut self) -> bool {
        self.sync_board_layer();
        let view = self.view;
        let size = self.size;
        // While the pointer is busy, what is out of sight waits; so it
        // does while the rest of a snapshot is merged (it would be painted
        // twice).
        let budget = if self.pointer_busy() || self.replica.merging() {
            0.0
        } else {
            PAINT_BUDGET_MS
        };
        let board_layer = &mut self.board_layer;
        let in_sight_painted = self
            .replica
            .with_layer(|layer, scene| board_layer.paint(layer, scene, &view, size, budget));
        if self.replica.merging() && self.board_layer.view_painted() {
            // The view came from the first part of the snapshot; now the
            // rest, a slice at a time for at most `MERGE_BUDGET_MS` a frame
            // (the next frames paint what it changes out of sight).
            let merging = super::timing::span("merge-rest");
            let started = js_sys::Date::now();
            loop {
                let changed = self.replica.merge_slice(js_sys::Date::now());
                self.reflect(changed);
                if !self.replica.merging() || js_sys::Date::now() - started >= MERGE_BUDGET_MS {
                    break;
                }
            }
            drop(merging);
        }
        in_sight_painted
    }

    /// Draws the visible canvases: the board layer's part in sight, what
    /// is live over it, and the overlays.
    fn redraw(&mut self, now: f64) {
        let ctx = &self.ctx;
        let _ = ctx.set_transform(1.0, 0.0, 0.0, 1.0, 0.0, 0.0);
        ctx.clear_rect(
            0.0,
            0.0,
            f64::from(self.canvas.width()),
            f64::from(self.canvas.height()),
        );
        self.board_layer.draw_onto(ctx);
        let scale = set_view_transform(ctx, &self.view, self.size);
        let local = local(&self.gesture, self.editor.as_deref());
        for stroke in self.replica.live_strokes(&local) {
            render::draw_item(ctx, stroke, UNCONFIRMED_ALPHA, scale, &self.images);
        }
        // A past version shows nobody's live work.
        let past = self.replica.past().is_some();
        for preview in self.replica.previews().filter(|_| !past) {
            render::draw_stroke(ctx, &preview.style, &preview.points, 1.0, scale);
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
        self.cursors_drawn_at = now;
        let on_screen = |trail: &Trail| -> Vec<_> {
            trail
                .segments(now)
                .map(|(a, b, opacity)| {
                    let a = self.view.to_screen((f64::from(a.0), f64::from(a.1)));
                    let b = self.view.to_screen((f64::from(b.0), f64::from(b.1)));
                    (a, b, opacity)
                })
                .collect()
        };
        let me = self.replica.user();
        if let Some((_, color)) = people.iter().find(|(p, _)| &p.user == me) {
            render::draw_trail(ctx, &on_screen(&self.laser), color);
        }
        for (user, boxes) in self.replica.others_selections(&local).filter(|_| !past) {
            let Some((person, color)) = people.iter().find(|(p, _)| &p.user == user) else {
                continue;
            };
            let boxes: Vec<Rect> = boxes.iter().map(to_screen).collect();
            render::draw_others_selection(ctx, &boxes, color, &crate::ui::display_name(person));
        }
        for (user, cursor) in self.replica.cursors().filter(|_| !past) {
            let Some((person, color)) = people.iter().find(|(p, _)| &p.user == user) else {
                continue;
            };
            render::draw_trail(ctx, &on_screen(&cursor.trail), color);
            let (x, y) = cursor.position(now);
            let (sx, sy) = self.view.to_screen((f64::from(x), f64::from(y)));
            render::draw_cursor(ctx, sx, sy, color, &crate::ui::display_name(person));
        }
        ctx.set_global_alpha(1.0);
    }
}

/// Whether the page matches `media_query` (reduced motion, the dark theme).
fn prefers(media_query: &str) -> bool {
    web_sys::window()
        .and_then(|window| window.match_media(media_query).ok())
        .flatten()
        .is_some_and(|query| query.matches())
}
