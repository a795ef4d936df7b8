//! The board as one tab knows it: a synchronous replica, free of the browser.
//!
//! The replica keeps the board as the server last confirmed it ([`Board`],
//! the same state machine the server runs) plus what this tab asked for and
//! has not seen confirmed (`pending`), other people's live work (previews,
//! drafts, cursors), the selection, and where the connection is in its
//! handshake. What the user sees is the confirmed board with the pending
//! requests laid over it, then other people's drafts and this tab's gesture
//! ([`Local`]), so drawing never waits for the network and keeps working
//! while disconnected.
//!
//! It never calls out: server messages and local requests go in, and each
//! call *returns* what to send, whether to reconnect and what the page
//! should show ([`Changed`]). The browser side (`client::engine`) owns the
//! socket, the canvases and the page's signals and acts on those answers.
//! So everything here runs natively and is unit-tested without a browser
//! (`replica/tests.rs`).
//!
//! The replica also keeps the board layer's [`Scene`] (what the cached
//! bitmap shows, in an R-tree): applied operations name the ids they
//! touched, and [`Replica::sync_scene`] turns those into the damage the
//! canvas repaints.
//!
//! History (protocol version 4): the replica can show a past version of
//! the board instead of the live one (`past`), read-only, in the same
//! scene and board layer; live operations go on reaching the live board
//! meanwhile, and a replay steps the past version forward one operation at
//! a time ([`Replica::step_past`]).
//!
//! A snapshot comes in parts (protocol version 3), what may paint in the
//! view first: the board holds the first part until the browser has
//! painted the view, then [`Replica::merge_slice`] merges the rest a slice
//! at a time (`rest.rs`).

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use crate::announce::Announcer;
use crate::board::Board;
use crate::follow::Follow;
use crate::geometry::{self, Rect};
use crate::image::ImageId;
use crate::laser::Trail;
use crate::protocol::{
    limits, Change, ClientMessage, ErrorCode, HistoryEntry, OpId, Operation, Person, Point,
    Request, ServerMessage, SnapshotStroke, Stroke, StrokeId, StrokeStyle, UserId,
    PROTOCOL_VERSION,
};
use crate::scene::{Damage, Layer, Placed, Scene};
use crate::sorting;
use crate::stacking::{restack, Restack};

pub mod kept;
mod rest;

use rest::{FirstPart, Rest};

/// Remote cursors glide to a new position over this long (milliseconds),
/// unless the person asked for reduced motion ([`Replica::set_glide`]).
const CURSOR_GLIDE_MS: f64 = 90.0;
/// Most bytes reserved up front for an announced snapshot (the server's
/// word for its size, within reason).
const MAX_SNAPSHOT_RESERVATION: usize = 1 << 28;

/// Items of a merged snapshot's rest the scene takes in per slice (each
/// slice's R-tree is built whole: about 2 ms in the browser).
const PLACED_PER_SLICE: usize = 4_096;

/// Most messages held while the rest of a snapshot waits for the view to
/// be painted (a page in the background paints nothing): past that, the
/// rest is merged at once.
const MAX_HELD_MESSAGES: usize = 1_000;

/// A durable request not yet confirmed by the server.
pub struct Pending {
    pub op_id: OpId,
    pub message: ClientMessage,
}

/// A freehand stroke someone else is drawing right now.
pub struct RemotePreview {
    pub author: UserId,
    pub style: StrokeStyle,
    pub points: Vec<Point>,
}

/// Someone else's pointer, gliding from `from` to `to` between `since` and
/// `until` (milliseconds, on whatever clock the caller passes in), and the
/// trail of their laser pointer.
pub struct RemoteCursor {
    pub from: (f32, f32),
    pub to: (f32, f32),
    pub since: f64,
    pub until: f64,
    pub trail: Trail,
    /// Whether the last position came with the laser held down.
    lasering: bool,
}

impl RemoteCursor {
    pub fn position(&self, now: f64) -> (f32, f32) {
        if now >= self.until {
            return self.to;
        }
        let t = ((now - self.since) / (self.until - self.since)).clamp(0.0, 1.0) as f32;
        (
            self.from.0 + (self.to.0 - self.from.0) * t,
            self.from.1 + (self.to.1 - self.from.1) * t,
        )
    }
}

/// Where the connection is, as far as the replica is concerned.
enum Link {
    /// No connection: requests wait in `pending`.
    Offline,
    /// `hello` sent; waiting for `welcome`.
    Joining,
    /// A `welcome` came; its packed snapshot (version 2), or the first part
    /// of it (version 3), is arriving.
    Snapshot(Box<AwaitedSnapshot>),
    /// Welcomed: requests and live messages go out as they happen.
    Live,
}

/// A `welcome` and what arrived so far of the packed snapshot it announced
/// (`expected` bytes in all; from version 3, in parts of these sizes).
struct AwaitedSnapshot {
    welcome: ServerMessage,
    expected: u64,
    parts: Option<Vec<u64>>,
    received: Vec<u8>,
}

impl AwaitedSnapshot {
    /// Bytes that make what is decoded first: the first part, or all.
    fn first_len(&self) -> u64 {
        self.parts
            .as_ref()
            .and_then(|sizes| sizes.first().copied())
            .unwrap_or(self.expected)
    }
}

/// This tab's own live state, which the gesture and the text editor keep:
/// strokes shown in place of (or on top of) stored ones, and ids hidden
/// from view (what the eraser went over, the text being edited).
#[derive(Default)]
pub struct Local<'a> {
    pub strokes: Vec<&'a Stroke>,
    pub hidden: Vec<&'a StrokeId>,
}

/// What the text editor held when it closed.
pub struct TypedText {
    /// The text being written: a new one, or a copy of the one edited.
    pub stroke: Stroke,
    /// Whether `stroke` is already on the board (an edit, not a new text).
    pub existing: bool,
    /// What the editor holds now.
    pub text: String,
}

/// What a call changed, for the browser side to act on. Calls that change
/// nothing visible return the default.
#[derive(Debug, Default, PartialEq)]
pub struct Changed {
    /// Something shown changed: draw a frame.
    pub redraw: bool,
    /// Messages to send now, in order.
    pub send: Vec<ClientMessage>,
    /// The connection is no longer trustworthy (a gap, a broken snapshot,
    /// storage trouble): drop it and connect again. The reason is for logs.
    pub reconnect: Option<String>,
    /// A notice for the person (a refused request, a retry).
    pub notice: Option<String>,
    /// The welcome was handled: the tab is connected.
    pub connected: bool,
    /// First welcome of a board with content: show it if none is in sight.
    pub opened: bool,
    /// How many people are on the board, when that changed.
    pub presence: Option<u32>,
    /// Who is on the board, when that changed.
    pub people: Option<Vec<Person>>,
    /// Something for the console, not for the person.
    pub warning: Option<String>,
    /// The answer to a history read came.
    pub history: Option<HistoryAnswer>,
}

/// What a history read brought (protocol version 4).
#[derive(Debug, PartialEq)]
pub enum HistoryAnswer {
    /// A page of the board's history (`history`).
    Page(Vec<HistoryEntry>),
    /// Operations to replay (`ops`).
    Replay(Vec<Operation>),
    /// A past version is shown now (`board_at` answered): its number.
    Past(u64),
}

impl Changed {
    fn redraw() -> Self {
        Self {
            redraw: true,
            ..Self::default()
        }
    }

    fn reconnect(reason: String) -> Self {
        Self {
            reconnect: Some(reason),
            ..Self::default()
        }
    }

    /// Folds `later` into `self` (messages keep their order).
    pub fn merge(&mut self, later: Changed) {
        self.redraw |= later.redraw;
        self.send.extend(later.send);
        self.reconnect = self.reconnect.take().or(later.reconnect);
        self.notice = later.notice.or(self.notice.take());
        self.connected |= later.connected;
        self.opened |= later.opened;
        self.presence = later.presence.or(self.presence);
        self.people = later.people.or(self.people.take());
        self.warning = later.warning.or(self.warning.take());
        self.history = later.history.or(self.history.take());
    }
}

/// Where a packed snapshot is after one more binary frame.
#[derive(Debug, PartialEq)]
pub enum SnapshotProgress {
    /// More frames to come.
    Partial,
    /// The announced `welcome`, now carrying the decoded snapshot (from
    /// version 3, maybe only its first part: see [`Replica::merge_slice`]).
    Complete(ServerMessage),
    /// The rest of a snapshot whose first part the board holds has come:
    /// merge it once the view is painted ([`Replica::merge_slice`]).
    RestArrived,
    /// Unannounced, too long or undecodable: reconnect.
    Broken(Changed),
    /// A past version's snapshot came and is shown.
    Past(Changed),
}

/// What [`Replica::sync_scene`] did to the board layer's scene.
#[derive(Debug, PartialEq)]
pub enum SceneUpdate {
    Unchanged,
    /// Built from scratch: repaint everything in sight.
    Rebuilt,
    /// These areas and new items on top need painting.
    Damaged(Vec<Damage>),
}

/// The scene and what it has not caught up with yet.
#[derive(Default)]
struct SceneState {
    scene: Scene,
    /// Ids operations changed since the last sync.
    touched: Vec<StrokeId>,
    /// Rebuild from scratch at the next sync.
    rebuild: bool,
    /// Ids left out at the last sync because something live stood in for them.
    hidden: HashSet<StrokeId>,
    /// The rest of a merged snapshot, not in the scene yet: ids and
    /// positions, taken in a slice at a time ([`Replica::merge_slice`]).
    arriving: Vec<(StrokeId, usize)>,
    /// The view the snapshot's first part was cut for: nothing of the
    /// rest paints there, so once it is in, all around it is damaged.
    kept: Option<Rect>,
    /// Damage found between syncs (taking in the rest), for the next one.
    damage: Vec<Damage>,
}

impl SceneState {
    fn touch_change(&mut self, change: &Change) {
        match change {
            Change::AddStroke { stroke } => self.touched.push(stroke.id.clone()),
            Change::AddStrokes { strokes } | Change::Update { strokes } => {
                self.touched.extend(strokes.iter().map(|s| s.id.clone()));
            }
            Change::Erase { stroke_ids } => self.touched.extend(stroke_ids.iter().cloned()),
            // A clear names every item: cheaper to start over.
            Change::Clear { .. } => self.repaint_all(),
            Change::Undo {
                show, hide, set, ..
            }
            | Change::Redo {
                show, hide, set, ..
            }
            | Change::Restore {
                show, hide, set, ..
            } => {
                self.touched.extend(show.iter().chain(hide).cloned());
                self.touched.extend(set.iter().map(|s| s.id.clone()));
            }
            Change::NameVersion { .. } => {}
        }
    }

    /// A request was sent, confirmed or refused: only a clear matters here
    /// (the ids the others name reach the scene as hidden ones).
    fn touch_request(&mut self, message: &ClientMessage) {
        if matches!(message, ClientMessage::Clear { .. }) {
            self.repaint_all();
        }
    }

    fn repaint_all(&mut self) {
        self.rebuild = true;
    }

    /// Whether the scene is still taking in the rest of a snapshot.
    fn is_catching_up(&self) -> bool {
        !self.arriving.is_empty()
    }
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

/// Everything but `area`: four areas around it, reaching as far as floats go.
fn around(area: &Rect) -> [Rect; 4] {
    const FAR: f32 = f32::MAX;
    let &Rect {
        min_x,
        min_y,
        max_x,
        max_y,
    } = area;
    let rect = |min_x, min_y, max_x, max_y| Rect {
        min_x,
        min_y,
        max_x,
        max_y,
    };
    [
        rect(-FAR, -FAR, min_x, FAR),
        rect(max_x, -FAR, FAR, FAR),
        rect(min_x, -FAR, max_x, min_y),
        rect(min_x, max_y, max_x, FAR),
    ]
}

/// The board the board layer shows and the requests laid over it: a past
/// version alone, or the board with the pending requests.
fn layer_parts<'a>(
    past: &'a Option<Board>,
    board: &'a Board,
    pending: &'a [Pending],
) -> (&'a Board, Vec<&'a ClientMessage>) {
    match past {
        Some(past) => (past, Vec::new()),
        None => (board, pending.iter().map(|p| &p.message).collect()),
    }
}

/// "nothing to undo" → "Nothing to undo", for notices. The server's
/// messages are English; ASCII case mapping keeps Unicode's case tables out
/// of the WebAssembly.
fn sentence_case(message: &str) -> String {
    let mut sentence = message.to_owned();
    if let Some(first) = sentence.get_mut(..1) {
        first.make_ascii_uppercase();
    }
    sentence
}

pub struct Replica {
    user: UserId,
    board: Board,
    pending: Vec<Pending>,
    /// Strokes others are drawing, by stroke id: a list, searched from the
    /// end, where the stroke a frame continues usually is (at most 8 open
    /// per person, the server's limit; a map type would bring its own code
    /// into the WebAssembly).
    previews: Vec<(StrokeId, RemotePreview)>,
    /// Other people's work in progress. A draft ends with `draft_end`, which
    /// the server relays after the operation that committed it (one room
    /// handles a connection's messages in order), so nothing flickers back.
    /// (By person in lists, as `others_selected` below.)
    drafts: Vec<(UserId, Vec<Stroke>)>,
    cursors: Vec<(UserId, RemoteCursor)>,
    /// What other people have selected, by person (a list: few people, and
    /// a map type would bring its own code into the WebAssembly).
    others_selected: Vec<(UserId, Vec<StrokeId>)>,
    /// Others' changes as they arrive live, to be said in words.
    announcer: Announcer,
    /// Whose view this tab follows, and who follows this person.
    follow: Follow,
    /// How long a remote cursor glides ([`CURSOR_GLIDE_MS`] or 0).
    glide_ms: f64,
    selection: Vec<StrokeId>,
    link: Link,
    /// What the browser shows, as given to the last [`Self::connect`].
    view: Option<Rect>,
    /// Whether the board holds only part of a snapshot (its rest did not
    /// come or is not merged yet): a reconnect then asks for a snapshot.
    partial: bool,
    /// A decoded snapshot (or its first part: its seq and items in
    /// drawing order) waiting for its `welcome` to be applied.
    decoded: Option<(u64, Vec<Arc<SnapshotStroke>>)>,
    /// The rest of a snapshot whose first part the board holds.
    rest: Option<Rest>,
    /// A first welcome's `opened`, waiting for the rest of its snapshot.
    open_pending: bool,
    /// New ids are this tab's random prefix and a counter.
    id_prefix: String,
    next_id: u64,
    scene: SceneState,
    /// A past version shown instead of the board (history), read-only.
    past: Option<Board>,
    /// A past version whose snapshot is arriving: its number, size and
    /// the bytes so far.
    arriving_version: Option<(u64, u64, Vec<u8>)>,
    /// Counts changes to `pending`, so the browser knows when to keep
    /// them on the device again.
    pending_changes: u64,
}

impl Replica {
    /// An empty replica for `user`; `id_prefix` (random per tab) keeps the
    /// ids this tab makes apart from everyone else's.
    pub fn new(user: UserId, id_prefix: String) -> Self {
        Self {
            user,
            board: Board::new(),
            pending: Vec::new(),
            previews: Vec::new(),
            drafts: Vec::new(),
            cursors: Vec::new(),
            others_selected: Vec::new(),
            announcer: Announcer::default(),
            follow: Follow::default(),
            glide_ms: CURSOR_GLIDE_MS,
            selection: Vec::new(),
            link: Link::Offline,
            view: None,
            partial: false,
            decoded: None,
            rest: None,
            open_pending: false,
            id_prefix,
            next_id: 0,
            scene: SceneState {
                rebuild: true,
                ..SceneState::default()
            },
            past: None,
            arriving_version: None,
            pending_changes: 0,
        }
    }

    /// Who this replica speaks for.
    pub fn user(&self) -> &UserId {
        &self.user
    }

    /// Whom this tab follows, where they were last, who follows this person.
    pub fn follow(&self) -> &Follow {
        &self.follow
    }

    /// Follows `leader`'s view from now on (none, or this tab's own person:
    /// nobody's); `true` if that changed anything. The engine tells the
    /// server (it compares with what it sent, as for the selection).
    pub fn follow_view_of(&mut self, leader: Option<UserId>) -> bool {
        let leader = leader.filter(|leader| *leader != self.user);
        self.follow.start(leader)
    }

    /// The number of the past version shown instead of the board, if one is.
    pub fn past(&self) -> Option<u64> {
        self.past.as_ref().map(Board::seq)
    }

    /// Shows the live board again; `true` if a past version was shown.
    pub fn leave_past(&mut self) -> bool {
        self.arriving_version = None;
        let left = self.past.take().is_some();
        self.scene.rebuild |= left;
        left
    }

    /// Steps the past version shown forward by `op`, if it is the next
    /// operation (a replay); `true` if it was applied.
    pub fn step_past(&mut self, op: &Operation) -> bool {
        let Some(past) = self.past.as_mut().filter(|past| past.seq() + 1 == op.seq) else {
            return false;
        };
        past.apply(op);
        self.scene.touch_change(&op.change);
        true
    }

    /// The board the board layer shows: a past version, or the live one
    /// with this tab's pending requests (none over a past version).
    fn layer_parts(&self) -> (&Board, Vec<&ClientMessage>) {
        layer_parts(&self.past, &self.board, &self.pending)
    }

    /// The board as the server confirmed it.
    pub fn board(&self) -> &Board {
        &self.board
    }

    /// Requests not yet confirmed, oldest first.
    pub fn pending(&self) -> &[Pending] {
        &self.pending
    }

    pub fn selection(&self) -> &[StrokeId] {
        &self.selection
    }

    /// Forgets the preview of `stroke`; whether there was one.
    fn end_preview(&mut self, stroke: &StrokeId) -> bool {
        let at = self.previews.iter().rposition(|(id, _)| id == stroke);
        at.map(|at| self.previews.remove(at)).is_some()
    }

    pub fn previews(&self) -> impl Iterator<Item = &RemotePreview> {
        self.previews.iter().map(|(_, preview)| preview)
    }

    pub fn cursors(&self) -> impl Iterator<Item = (&UserId, &RemoteCursor)> {
        self.cursors.iter().map(|(user, cursor)| (user, cursor))
    }

    /// Others' changes not yet said in words.
    pub fn announcer(&mut self) -> &mut Announcer {
        &mut self.announcer
    }

    /// When the last remote cursor's glide ends and its laser trail has
    /// faded. A frame drawn at or after it shows every cursor where it
    /// really is: until one is, frames must keep coming (a glide whose last
    /// frame is never drawn leaves the pointer short of where it stopped).
    pub fn cursors_settle_at(&self) -> f64 {
        self.cursors
            .iter()
            .map(|(_, c)| c.until.max(c.trail.fades_out_at()))
            .fold(f64::NEG_INFINITY, f64::max)
    }

    /// How long remote cursors glide to a new position: 0 jumps at once
    /// (for people who ask the system for reduced motion).
    pub fn set_glide(&mut self, milliseconds: f64) {
        self.glide_ms = milliseconds;
    }

    /// Whether messages go out now (welcomed on a connection).
    pub fn is_live(&self) -> bool {
        matches!(self.link, Link::Live)
    }

    /// A fresh id for something this tab makes.
    pub fn new_id(&mut self) -> String {
        self.next_id += 1;
        format!("{}{:x}", self.id_prefix, self.next_id)
    }

    /// `message` if it can go out now (live messages are not queued).
    fn live_message(&self, message: ClientMessage) -> Option<ClientMessage> {
        self.is_live().then_some(message)
    }

    // ---- the connection ----

    /// A new connection: the `hello` to send first; the rest waits for
    /// `welcome`. A replica that was welcomed before asks only for what it
    /// missed. `view` is what the browser shows (world coordinates): a
    /// snapshot comes with what may paint there first.
    pub fn connect(
        &mut self,
        name: Option<String>,
        view: Option<Rect>,
        key: Option<String>,
    ) -> ClientMessage {
        self.link = Link::Joining;
        self.rest = None;
        self.view = view;
        ClientMessage::Hello {
            protocol: PROTOCOL_VERSION,
            user: self.user.clone(),
            last_seq: self.welcomed_before().then(|| self.board.seq()),
            name,
            view,
            key,
        }
    }

    /// The connection ended (or was dropped on a [`Changed::reconnect`]).
    pub fn disconnect(&mut self) {
        self.link = Link::Offline;
        self.decoded = None;
        self.rest = None;
        self.arriving_version = None;
    }

    /// Whether our board copy came from this server at some point, whole
    /// (so a reconnect can ask for just what it missed).
    fn welcomed_before(&self) -> bool {
        self.board.seq() > 0 && !self.partial
    }

    /// Bytes still to come before the next decoding, while the first part
    /// (or all) of an announced snapshot is arriving.
    pub fn snapshot_missing(&self) -> Option<u64> {
        match &self.link {
            Link::Snapshot(awaited) => Some(
                awaited
                    .first_len()
                    .saturating_sub(awaited.received.len() as u64),
            ),
            _ => None,
        }
    }

    /// Whether the board holds only the first part of a snapshot (whole
    /// board commands such as exports would miss the rest).
    pub fn is_partial(&self) -> bool {
        self.partial
    }

    /// Whether the rest of a snapshot has come and is not merged yet (see
    /// [`Self::merge_slice`]).
    pub fn rest_arrived(&self) -> bool {
        self.rest
            .as_ref()
            .is_some_and(|rest| rest.welcomed && rest.is_complete())
    }

    /// Whether merging the rest of a snapshot has work left: the rest has
    /// come, or the scene has not taken all of it in yet.
    pub fn merging(&self) -> bool {
        self.rest_arrived() || self.scene.is_catching_up()
    }

    /// One slice of merging the rest of a snapshot, a few milliseconds
    /// (call again while [`Self::merging`]): decoding part of the rest,
    /// indexing part of the whole board, or, once that is done, taking the
    /// whole board and applying what was held meanwhile; then the scene
    /// takes the rest's items in, a slice at a time. The page keeps
    /// painting in between, and the order of what is painted never
    /// changes: every item of the first part has its place in the whole
    /// snapshot's order from the start.
    pub fn merge_slice(&mut self, now: f64) -> Changed {
        if !self.rest_arrived() {
            self.catch_up_scene();
            return Changed::default();
        }
        let Some(rest) = self.rest.as_mut() else {
            return Changed::default();
        };
        let merged = match rest.merge_slice(self.board.seq()) {
            Ok(None) => return Changed::default(),
            Ok(Some(merged)) => merged,
            Err(problem) => {
                self.link = Link::Offline;
                self.rest = None;
                return Changed::reconnect(problem);
            }
        };
        let Some(rest) = self.rest.take() else {
            return Changed::default();
        };
        self.board = merged.board;
        self.board.raise_top_z(rest.top_z);
        self.partial = false;
        self.scene.arriving = merged.arrived;
        self.scene.kept = rest.view;
        let mut changed = Changed {
            redraw: true,
            opened: std::mem::take(&mut self.open_pending)
                && self.board.visible_strokes().next().is_some(),
            ..Changed::default()
        };
        for message in rest.held {
            changed.merge(self.on_server(message, now));
        }
        changed
    }

    /// Merges the rest of a snapshot, if it has come, all at once (a page
    /// that does not paint, tests).
    pub fn finish_snapshot(&mut self, now: f64) -> Changed {
        let mut changed = Changed::default();
        while self.merging() {
            changed.merge(self.merge_slice(now));
        }
        changed
    }

    /// The scene takes in a slice of the rest of a merged snapshot; after
    /// the last, everything around the view the first part was cut for is
    /// to repaint (the bitmap may hold a margin painted from the first
    /// part alone).
    fn catch_up_scene(&mut self) {
        let pending: Vec<&ClientMessage> = self.pending.iter().map(|p| &p.message).collect();
        let SceneState {
            scene,
            hidden,
            arriving,
            kept,
            damage,
            rebuild,
            ..
        } = &mut self.scene;
        let layer = Layer {
            board: &self.board,
            pending: &pending,
            hidden,
        };
        let slice = arriving.split_off(arriving.len().saturating_sub(PLACED_PER_SLICE));
        damage.extend(scene.place(&layer, &slice).into_iter().map(Damage::Area));
        if arriving.is_empty() {
            match kept.take() {
                Some(kept) => damage.extend(around(&kept).map(Damage::Area)),
                None => *rebuild = true,
            }
        }
    }

    /// A binary frame: part of the packed snapshot a `welcome` announced.
    /// Once all have come (from version 3: its first part), the welcome is
    /// returned carrying the decoded snapshot, for [`Self::on_server`] (two
    /// steps, so that the browser can time decoding and loading apart).
    pub fn on_snapshot_frame(&mut self, bytes: &[u8]) -> SnapshotProgress {
        if let Some((seq, expected, received)) = self.arriving_version.as_mut() {
            // A past version's snapshot (`board_at`), in one part.
            received.extend_from_slice(bytes);
            if (received.len() as u64) < *expected {
                return SnapshotProgress::Partial;
            }
            let seq = *seq;
            let Some((_, _, received)) = self.arriving_version.take() else {
                return SnapshotProgress::Partial;
            };
            return match FirstPart::whole_board(&received) {
                Ok(version) if version.seq() == seq => {
                    self.past = Some(version);
                    self.selection.clear();
                    self.scene.rebuild = true;
                    SnapshotProgress::Past(Changed {
                        redraw: true,
                        history: Some(HistoryAnswer::Past(seq)),
                        ..Changed::default()
                    })
                }
                Ok(_) => self.broken("a past version that is not the one asked for".into()),
                Err(problem) => self.broken(problem),
            };
        }
        if let (Link::Live, Some(rest)) = (&self.link, self.rest.as_mut()) {
            return match rest.receive(bytes) {
                Ok(true) => SnapshotProgress::RestArrived,
                Ok(false) => SnapshotProgress::Partial,
                Err(problem) => self.broken(problem),
            };
        }
        let Link::Snapshot(awaited) = &mut self.link else {
            return self.broken("a snapshot nobody announced".into());
        };
        awaited.received.extend_from_slice(bytes);
        let received = awaited.received.len() as u64;
        if received < awaited.first_len() {
            return SnapshotProgress::Partial;
        }
        let Link::Snapshot(awaited) = std::mem::replace(&mut self.link, Link::Joining) else {
            unreachable!("matched above");
        };
        if received > awaited.expected {
            return self.broken(format!(
                "{received} bytes of snapshot, {} announced",
                awaited.expected
            ));
        }
        // This replica speaks the newest version, whose packed snapshots
        // come in parts (the welcome checked `parts`).
        let sizes = awaited.parts.as_deref().unwrap_or_default();
        let (first, after) = awaited.received.split_at(awaited.first_len() as usize);
        let decoded = FirstPart::decode(first, awaited.expected).and_then(|mut first| {
            if let Some(later) = sizes.get(1..).filter(|later| !later.is_empty()) {
                self.rest = Some(Rest::new(&mut first, later.to_vec(), after, self.view));
            } else if !first.is_whole() {
                return Err("a snapshot's only part does not hold all of it".into());
            }
            Ok((first.seq, first.items))
        });
        match decoded {
            Ok(decoded) => {
                // The welcome, as if it had carried the snapshot.
                self.decoded = Some(decoded);
                let mut welcome = awaited.welcome;
                if let ServerMessage::Welcome {
                    packed_snapshot,
                    snapshot_parts,
                    ..
                } = &mut welcome
                {
                    *packed_snapshot = None;
                    *snapshot_parts = None;
                }
                SnapshotProgress::Complete(welcome)
            }
            Err(problem) => self.broken(problem),
        }
    }

    /// The snapshot cannot be read: drop the connection.
    fn broken(&mut self, problem: String) -> SnapshotProgress {
        self.link = Link::Offline;
        self.decoded = None;
        self.rest = None;
        SnapshotProgress::Broken(Changed::reconnect(problem))
    }

    /// A message from the server. `now` (milliseconds) times cursor glides.
    pub fn on_server(&mut self, message: ServerMessage, now: f64) -> Changed {
        if matches!(self.link, Link::Snapshot(_)) {
            self.link = Link::Offline;
            return Changed::reconnect("the announced snapshot did not follow the welcome".into());
        }
        if let Some(rest) = self.rest.as_mut().filter(|rest| rest.welcomed) {
            if !rest.is_complete() {
                self.link = Link::Offline;
                self.rest = None;
                return Changed::reconnect(
                    "the announced snapshot did not follow the welcome".into(),
                );
            }
            // After the snapshot: applied once it is merged, or now if a
            // tab that does not paint (in the background) holds too many.
            rest.held.push(message);
            if rest.held.len() < MAX_HELD_MESSAGES {
                return Changed::default();
            }
            return self.finish_snapshot(now);
        }
        match message {
            welcome @ ServerMessage::Welcome {
                snapshot: None,
                packed_snapshot: Some(expected),
                ..
            } => {
                let parts = match &welcome {
                    ServerMessage::Welcome { snapshot_parts, .. } => snapshot_parts.clone(),
                    _ => None,
                };
                let adds_up = parts.as_ref().is_some_and(|sizes| {
                    !sizes.is_empty()
                        && sizes.iter().try_fold(0u64, |a, b| a.checked_add(*b)) == Some(expected)
                });
                if !adds_up {
                    self.link = Link::Offline;
                    return Changed::reconnect(
                        "a welcome's snapshot parts are missing or do not add up to its size"
                            .into(),
                    );
                }
                let capacity = usize::try_from(expected)
                    .unwrap_or(0)
                    .min(MAX_SNAPSHOT_RESERVATION);
                self.link = Link::Snapshot(Box::new(AwaitedSnapshot {
                    welcome,
                    expected,
                    parts,
                    received: Vec::with_capacity(capacity),
                }));
                Changed::default()
            }
            ServerMessage::Welcome {
                snapshot,
                ops,
                presence,
                ..
            } => self.on_welcome(snapshot, ops, presence),
            ServerMessage::Op { op } => {
                if op.seq > self.board.seq() + 1 {
                    // A gap: reconnect and let the server fill it.
                    self.link = Link::Offline;
                    Changed::reconnect(format!(
                        "missed operations before {}; resynchronising",
                        op.seq
                    ))
                } else {
                    // Said to screen readers: what others do live (not the
                    // operations a welcome catches up on).
                    if op.author != self.user && op.seq > self.board.seq() {
                        self.announcer.record(&op.author, &op.change);
                    }
                    self.apply(op)
                }
            }
            ServerMessage::Ack { op_id, .. } => self.confirm(&op_id),
            ServerMessage::Preview {
                author,
                stroke,
                color,
                width,
                points,
            } => {
                if self.board.contains(&stroke) {
                    return Changed::default();
                }
                let at = match self.previews.iter().rposition(|(id, _)| *id == stroke) {
                    Some(at) => at,
                    None => {
                        let preview = RemotePreview {
                            author,
                            style: StrokeStyle { color, width },
                            points: Vec::new(),
                        };
                        self.previews.push((stroke, preview));
                        self.previews.len() - 1
                    }
                };
                let shown = &mut self.previews[at].1.points;
                // No stroke is longer; a sender that goes on is ignored
                // rather than kept without bound.
                if shown.len() + points.len() > limits::MAX_STROKE_POINTS {
                    return Changed::default();
                }
                shown.extend(points);
                Changed::redraw()
            }
            ServerMessage::PreviewEnd { stroke, .. } => Changed {
                redraw: self.end_preview(&stroke),
                ..Changed::default()
            },
            ServerMessage::Draft { author, strokes } => {
                self.drafts.retain(|(user, _)| *user != author);
                self.drafts.push((author, strokes));
                Changed::redraw()
            }
            ServerMessage::DraftEnd { author } => {
                let drafts = self.drafts.len();
                self.drafts.retain(|(user, _)| *user != author);
                Changed {
                    redraw: self.drafts.len() != drafts,
                    ..Changed::default()
                }
            }
            ServerMessage::Selection { author, ids } => {
                self.others_selected.retain(|(user, _)| *user != author);
                if !ids.is_empty() {
                    self.others_selected.push((author, ids));
                }
                Changed::redraw()
            }
            ServerMessage::Cursor {
                author,
                x,
                y,
                laser,
            } => {
                let glide_ms = self.glide_ms;
                let at = match self.cursors.iter().position(|(user, _)| *user == author) {
                    Some(at) => at,
                    None => {
                        let cursor = RemoteCursor {
                            from: (x, y),
                            to: (x, y),
                            since: now,
                            until: now,
                            trail: Trail::default(),
                            lasering: false,
                        };
                        self.cursors.push((author, cursor));
                        self.cursors.len() - 1
                    }
                };
                let cursor = &mut self.cursors[at].1;
                cursor.from = cursor.position(now);
                cursor.to = (x, y);
                cursor.since = now;
                cursor.until = now + glide_ms;
                if laser {
                    cursor.trail.push(x, y, now, cursor.lasering);
                }
                cursor.lasering = laser;
                Changed::redraw()
            }
            ServerMessage::View { author, area } => Changed {
                redraw: self.follow.on_view(&author, area),
                ..Changed::default()
            },
            ServerMessage::Summon { author } => Changed {
                redraw: self.follow.on_summon(&self.user, author),
                ..Changed::default()
            },
            ServerMessage::Presence { count, people } => {
                self.follow.on_presence(&self.user, &people);
                // Someone who left (or whose instance died) leaves nothing
                // behind. (A search of the list: a set type would bring its
                // own code into the WebAssembly, for a rare message.)
                let here = |user: &UserId| people.iter().any(|p| &p.user == user);
                self.cursors.retain(|(user, _)| here(user));
                self.others_selected.retain(|(user, _)| here(user));
                self.drafts.retain(|(user, _)| here(user));
                self.previews.retain(|(_, preview)| here(&preview.author));
                Changed {
                    redraw: true,
                    presence: Some(count),
                    people: Some(people),
                    ..Changed::default()
                }
            }
            ServerMessage::Error {
                code,
                message,
                op_id,
            } => self.on_error(code, message, op_id),
            ServerMessage::History { entries } => Changed {
                history: Some(HistoryAnswer::Page(entries)),
                ..Changed::default()
            },
            ServerMessage::Ops { ops } => Changed {
                history: Some(HistoryAnswer::Replay(ops)),
                ..Changed::default()
            },
            ServerMessage::Version {
                seq,
                packed_snapshot,
                ..
            } => {
                let capacity = usize::try_from(packed_snapshot)
                    .unwrap_or(0)
                    .min(MAX_SNAPSHOT_RESERVATION);
                self.arriving_version = Some((seq, packed_snapshot, Vec::with_capacity(capacity)));
                Changed::default()
            }
        }
    }

    fn on_welcome(
        &mut self,
        snapshot: Option<crate::protocol::BoardSnapshot>,
        ops: Vec<Operation>,
        presence: u32,
    ) -> Changed {
        let first = !self.welcomed_before();
        let loaded = match (snapshot, self.decoded.take()) {
            (Some(snapshot), _) => Some(Board::from_snapshot(snapshot)),
            (None, Some((seq, items))) => Some(Board::from_items(seq, items)),
            (None, None) => None,
        };
        if let Some(board) = loaded {
            self.board = board;
            self.scene.repaint_all();
            self.partial = false;
        }
        if let Some(rest) = self.rest.as_mut() {
            // Only the first part of the snapshot: what comes after it
            // waits for the rest (`merge_slice`).
            rest.welcomed = true;
            rest.held
                .extend(ops.into_iter().map(|op| ServerMessage::Op { op }));
            self.board.raise_top_z(rest.top_z);
            self.partial = true;
        } else {
            for op in ops {
                self.apply(op);
            }
        }
        self.open_pending = first && self.partial;
        self.previews.clear();
        self.drafts.clear();
        self.link = Link::Live;
        Changed {
            redraw: true,
            // Everything not yet confirmed goes (again) in its original
            // order; the server recognises resends by their op ids.
            send: self.pending.iter().map(|p| p.message.clone()).collect(),
            connected: true,
            opened: first && !self.partial && self.board.visible_strokes().next().is_some(),
            presence: Some(presence),
            ..Changed::default()
        }
    }

    fn apply(&mut self, op: Operation) -> Changed {
        if op.seq <= self.board.seq() {
            return Changed::default();
        }
        self.board.apply(&op);
        self.scene.touch_change(&op.change);
        match &op.change {
            Change::AddStroke { stroke } => {
                self.end_preview(&stroke.id);
            }
            Change::Erase { .. } | Change::Clear { .. } | Change::Restore { .. } => {
                let board = &self.board;
                self.selection.retain(|id| board.is_visible(id));
            }
            _ => {}
        }
        if op.author == self.user {
            self.confirm(&op.op_id);
        }
        Changed::redraw()
    }

    fn confirm(&mut self, op_id: &OpId) -> Changed {
        let Some(index) = self.pending.iter().position(|p| &p.op_id == op_id) else {
            return Changed::default();
        };
        let settled = self.pending.remove(index);
        self.pending_changes += 1;
        self.scene.touch_request(&settled.message);
        Changed::redraw()
    }

    fn on_error(&mut self, code: ErrorCode, message: String, op_id: Option<OpId>) -> Changed {
        match (code, op_id) {
            // Not stored, but not refused either: it is resent on the next
            // connection. Reconnect now so that happens soon (after the
            // socket's backoff, by when the budget has come back).
            (ErrorCode::StorageUnavailable | ErrorCode::RateLimited, Some(_)) => {
                self.link = Link::Offline;
                Changed {
                    notice: Some("Saving failed; retrying…".into()),
                    ..Changed::reconnect("storage unavailable".into())
                }
            }
            // Someone else got there first (what this erases is gone, what
            // it moves was erased): nothing to tell, as with any change
            // that loses a race, whether it was made live or offline.
            (ErrorCode::Rejected, Some(op_id)) if self.lost_a_race(&op_id) => self.confirm(&op_id),
            (_, Some(op_id)) => Changed {
                notice: Some(sentence_case(&message)),
                ..self.confirm(&op_id)
            },
            // A full board or server turned the join away (the socket
            // closes and retries after its backoff), or a history read
            // asked for a version no longer kept.
            (ErrorCode::LimitReached | ErrorCode::Invalid, None) => Changed {
                notice: Some(sentence_case(&message)),
                ..Changed::default()
            },
            (_, None) => Changed {
                warning: Some(format!("server error {code:?}: {message}")),
                ..Changed::default()
            },
        }
    }

    /// Whether the pending request `op_id` changes items someone else can
    /// erase first (an erase, a clear, an update): its refusal as
    /// `rejected` then only means the board moved on.
    fn lost_a_race(&self, op_id: &OpId) -> bool {
        self.pending.iter().any(|p| {
            &p.op_id == op_id
                && matches!(
                    p.message,
                    ClientMessage::Erase { .. }
                        | ClientMessage::Clear { .. }
                        | ClientMessage::Update { .. }
                )
        })
    }

    // ---- durable changes ----

    /// A durable request: shown at once, sent when live, kept until the
    /// server confirms or refuses it. One the server would refuse as out of
    /// bounds (checked with the server's own validation: a text too long in
    /// UTF-8, points moved past the coordinate limits) is dropped at once,
    /// with a notice: it would only come back refused.
    pub fn submit(&mut self, request: Request) -> Changed {
        let op_id = OpId::from_trusted(self.new_id());
        let message = ClientMessage::from_request(op_id.clone(), request);
        if let Err(refusal) = message.validate() {
            return Changed {
                notice: Some(["Not saved: ", &refusal.message].concat()),
                redraw: true,
                ..Changed::default()
            };
        }
        self.scene.touch_request(&message);
        let send = self.live_message(message.clone()).into_iter().collect();
        self.pending.push(Pending { op_id, message });
        self.pending_changes += 1;
        Changed {
            redraw: true,
            send,
            ..Changed::default()
        }
    }

    /// Submits strokes as one or more `add_strokes` / `update` requests.
    pub fn submit_batched(&mut self, strokes: Vec<Stroke>, update: bool) -> Changed {
        let mut changed = Changed::default();
        for batch in limits::batches(strokes) {
            changed.merge(self.submit(if update {
                Request::Update(batch)
            } else {
                Request::AddStrokes(batch)
            }));
        }
        changed
    }

    /// Turns what was typed into a request: a new text becomes an
    /// `add_stroke`, an edited one an `update`, or an `erase` when emptied;
    /// a blank new text or an unchanged one is nothing.
    pub fn commit_text(&mut self, typed: TypedText) -> Changed {
        let blank = typed.text.trim().is_empty();
        let mut stroke = typed.stroke;
        let unchanged = stroke.text.as_deref() == Some(typed.text.as_str());
        stroke.text = Some(typed.text);
        match (typed.existing, blank) {
            (false, true) => Changed::redraw(),
            (false, false) => self.submit(Request::AddStroke(stroke)),
            (true, true) => self.submit(Request::Erase(vec![stroke.id])),
            (true, false) if unchanged => Changed::redraw(),
            (true, false) => self.submit(Request::Update(vec![stroke])),
        }
    }

    // ---- kept on the device (`kept.rs`) ----

    /// The number of the confirmed board, when it is worth keeping on the
    /// device: it came whole from the server (not only a snapshot's first
    /// part) or from what was kept.
    pub fn keepable_seq(&self) -> Option<u64> {
        self.welcomed_before().then(|| self.board.seq())
    }

    /// Starts packing the confirmed board to keep (see [`kept::packing`]).
    pub fn packing(&self) -> crate::protocol::packed::Packing {
        kept::packing(&self.board)
    }

    /// How often the pending requests changed: when this moved since they
    /// were last kept, they are to be kept again.
    pub fn pending_changes(&self) -> u64 {
        self.pending_changes
    }

    /// The pending requests as kept (see [`kept::pending_text`]).
    pub fn pending_to_keep(&self) -> String {
        kept::pending_text(&self.pending, &self.user)
    }

    /// Who this replica speaks for. Only before it first connects: a tab
    /// that takes up the requests a closed tab left (`client::offline`)
    /// sends them as that tab's user, so the server recognises what it
    /// already stored and undo takes back the right person's work.
    pub fn speak_for(&mut self, user: UserId) {
        if matches!(self.link, Link::Offline) && !self.welcomed_before() {
            self.user = user;
        }
    }

    /// Takes up what was kept on the device: the board as last confirmed
    /// (only before the server sent one: a reconnect then asks for just
    /// what came after it) and pending requests, which go before any made
    /// since the page opened, and out at once if live. Requests already
    /// pending (by op id) are not taken twice.
    pub fn resume(&mut self, board: Option<&[u8]>, pending: Option<&str>) -> Changed {
        let mut changed = Changed::redraw();
        if let Some(bytes) = board.filter(|_| self.board.seq() == 0 && !self.is_live()) {
            match kept::unpack_board(bytes) {
                Ok(board) => {
                    self.board = board;
                    self.partial = false;
                    self.scene.repaint_all();
                    changed.opened = self.board.visible_strokes().next().is_some();
                }
                Err(problem) => changed.warning = Some(format!("kept board unreadable: {problem}")),
            }
        }
        match pending.map(kept::read_pending).transpose() {
            Ok(kept) => {
                let mut kept = kept.unwrap_or_default();
                kept.retain(|k| self.pending.iter().all(|p| p.op_id != k.op_id));
                for request in &kept {
                    self.scene.touch_request(&request.message);
                }
                if self.is_live() {
                    changed.send = kept.iter().map(|k| k.message.clone()).collect();
                }
                self.pending_changes += 1;
                self.pending.splice(0..0, kept);
            }
            Err(problem) => {
                changed.warning = Some(format!("kept requests unreadable: {problem}"));
            }
        }
        changed
    }

    // ---- selection ----

    /// Selects `ids`; whether that changed anything.
    pub fn select(&mut self, ids: Vec<StrokeId>) -> bool {
        if ids == self.selection {
            return false;
        }
        self.selection = ids;
        true
    }

    /// The selected strokes as currently shown, in drawing order.
    pub fn selected_strokes(&self, local: &Local<'_>) -> Vec<Stroke> {
        let chosen: HashSet<&StrokeId> = self.selection.iter().collect();
        self.display_strokes(local)
            .into_iter()
            .filter(|(s, _)| chosen.contains(&s.id))
            .map(|(s, _)| s.into_owned())
            .collect()
    }

    /// The box around the selection's shapes, in world coordinates.
    /// What each other person has selected, as the boxes of those items
    /// shown here (items gone from the board are left out).
    pub fn others_selections<'a>(
        &'a self,
        local: &'a Local<'_>,
    ) -> impl Iterator<Item = (&'a UserId, Vec<Rect>)> + 'a {
        self.others_selected
            .iter()
            .map(move |(user, ids)| (user, self.shown_boxes(ids, local).collect()))
    }

    /// The boxes of the items named in `ids` that are shown here.
    fn shown_boxes<'a>(
        &'a self,
        ids: &'a [StrokeId],
        local: &'a Local<'_>,
    ) -> impl Iterator<Item = Rect> + 'a {
        ids.iter()
            .filter_map(|id| self.shown(id, local))
            .filter_map(geometry::shape_box)
    }

    pub fn selection_box(&self, local: &Local<'_>) -> Option<Rect> {
        self.shown_boxes(&self.selection, local)
            .reduce(|a, b| a.union(&b))
    }

    /// Erases the selection (in requests of at most the erase limit).
    pub fn delete_selection(&mut self) -> Changed {
        let ids = std::mem::take(&mut self.selection);
        let mut changed = Changed::redraw();
        for chunk in ids.chunks(limits::MAX_ERASE_IDS) {
            changed.merge(self.submit(Request::Erase(chunk.to_vec())));
        }
        changed
    }

    /// Copies of the selection, `offset` further right and down, on top;
    /// the copies become the selection.
    pub fn duplicate_selection(&mut self, offset: f32, local: &Local<'_>) -> Changed {
        let mut z = self.top_z(local);
        let copies: Vec<Stroke> = self
            .selected_strokes(local)
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
            return Changed::default();
        }
        let ids = copies.iter().map(|s| s.id.clone()).collect();
        let changed = self.submit_batched(copies, false);
        self.select(ids);
        changed
    }

    /// Moves the selection in the stacking order (see [`crate::stacking`]).
    /// Usually only the selection gets new keys; when the keys ran out of
    /// room, every shown item does.
    pub fn restack_selection(&mut self, how: Restack, local: &Local<'_>) -> Changed {
        let display = self.display_strokes(local);
        let shown: Vec<(StrokeId, f64)> =
            display.iter().map(|(s, _)| (s.id.clone(), s.z)).collect();
        let selected: HashSet<&StrokeId> = self.selection.iter().collect();
        let restacked: Vec<Stroke> = restack(&shown, &selected, how)
            .into_iter()
            .map(|(i, z)| {
                let mut stroke = display[i].0.clone().into_owned();
                stroke.z = z;
                stroke
            })
            .collect();
        if restacked.is_empty() {
            return Changed::default();
        }
        self.submit_batched(restacked, true)
    }

    /// Changes every selected item with `restyle` and submits those it
    /// changed.
    pub fn restyle_selection(
        &mut self,
        restyle: impl Fn(&mut Stroke),
        local: &Local<'_>,
    ) -> Changed {
        // Only what the restyle changes: an item that does not take the
        // property (a freehand stroke's fill) is left out of the update.
        let restyled: Vec<Stroke> = self
            .selected_strokes(local)
            .into_iter()
            .filter_map(|stroke| {
                let mut restyled = stroke.clone();
                restyle(&mut restyled);
                (restyled != stroke).then_some(restyled)
            })
            .collect();
        if restyled.is_empty() {
            return Changed::default();
        }
        self.submit_batched(restyled, true)
    }

    // ---- what is shown ----

    /// The highest stacking key shown, pending and live strokes included.
    pub fn top_z(&self, local: &Local<'_>) -> f64 {
        self.live_strokes(local)
            .iter()
            .map(|s| s.z)
            .fold(self.board.top_z(), f64::max)
    }

    /// Strokes as the user should see them, in drawing order: confirmed,
    /// with pending requests laid over them, then other people's drafts
    /// and this tab's own live strokes. The flag tells whether the server
    /// has confirmed the stroke as shown. Walks the whole board: for
    /// exports and whole-board commands, not for frames.
    pub fn display_strokes<'s>(&'s self, local: &Local<'s>) -> Vec<(Cow<'s, Stroke>, bool)> {
        let mut strokes = self.board_with_pending();
        if self.past.is_some() {
            // A past version is shown as it was: nothing live over it.
            return strokes;
        }
        // Later entries win: this tab's gesture over other people's drafts.
        let live: Vec<&Stroke> = self
            .drafts
            .iter()
            .flat_map(|(_, strokes)| strokes)
            .chain(local.strokes.iter().copied())
            .collect();
        overlay(&mut strokes, live, true);
        if !local.hidden.is_empty() {
            let hidden: HashSet<&StrokeId> = local.hidden.iter().copied().collect();
            strokes.retain(|(s, _)| !hidden.contains(&s.id));
        }
        // Stable: equal keys keep the order the strokes were added in.
        sorting::sort_by_key(&mut strokes, |(s, _)| (sorting::f64_key(s.z), 0));
        strokes
    }

    /// The items as this tab has them, in drawing order: confirmed, with
    /// pending requests laid over them, but not what anyone is still
    /// drawing (the item list: a stroke is an item once it is finished).
    /// Walks the whole board, as [`Self::display_strokes`] does.
    pub fn settled_strokes(&self) -> Vec<(Cow<'_, Stroke>, bool)> {
        let mut strokes = self.board_with_pending();
        // The board is in drawing order; what pending requests add or
        // restack is not.
        if self.past.is_none() && !self.pending.is_empty() {
            sorting::sort_by_key(&mut strokes, |(s, _)| (sorting::f64_key(s.z), 0));
        }
        strokes
    }

    /// The version shown's visible strokes (confirmed), with the pending
    /// requests laid over the current one's, in no particular order.
    fn board_with_pending(&self) -> Vec<(Cow<'_, Stroke>, bool)> {
        if let Some(past) = &self.past {
            return past
                .visible_strokes()
                .map(|s| (Cow::Borrowed(s), true))
                .collect();
        }
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
        strokes
    }

    /// The pending requests, oldest first, as the scene's [`Layer`] takes them.
    fn pending_messages(&self) -> Vec<&ClientMessage> {
        self.pending.iter().map(|p| &p.message).collect()
    }

    /// Ids the board layer leaves out: shown live instead (pending
    /// requests, someone's draft, this tab's own live strokes) or hidden.
    fn live_ids(&self, local: &Local<'_>) -> HashSet<StrokeId> {
        if self.past.is_some() {
            return HashSet::new();
        }
        local
            .hidden
            .iter()
            .copied()
            .chain(
                self.drafts
                    .iter()
                    .flat_map(|(_, strokes)| strokes)
                    .map(|s| &s.id),
            )
            .chain(local.strokes.iter().map(|s| &s.id))
            .chain(
                self.pending
                    .iter()
                    .flat_map(|p| Layer::ids_named_by(&p.message)),
            )
            .cloned()
            .collect()
    }

    /// What is live, in drawing order: this tab's pending requests as they
    /// will look, other people's drafts, this tab's own live strokes (later
    /// entries win for an id given twice), sorted by stacking key.
    pub fn live_strokes<'s>(&'s self, local: &Local<'s>) -> Vec<&'s Stroke> {
        if self.past.is_some() {
            return Vec::new();
        }
        let pending = self.pending_messages();
        let nothing_hidden = HashSet::new();
        let layer = Layer {
            board: &self.board,
            pending: &pending,
            hidden: &nothing_hidden,
        };
        let mut live: Vec<&Stroke> = layer.pending_shown();
        live.extend(self.drafts.iter().flat_map(|(_, strokes)| strokes));
        live.extend(local.strokes.iter().copied());
        let mut seen = HashSet::new();
        live.reverse();
        live.retain(|s| seen.insert(&s.id));
        live.reverse();
        sorting::sort_by_key(&mut live, |s| (sorting::f64_key(s.z), 0));
        live
    }

    /// An item as currently shown: live if it is, else as the board layer has it.
    pub fn shown<'s>(&'s self, id: &StrokeId, local: &Local<'s>) -> Option<&'s Stroke> {
        let live = local
            .strokes
            .iter()
            .rev()
            .copied()
            .chain(self.drafts.iter().flat_map(|(_, strokes)| strokes))
            .find(|s| &s.id == id);
        live.or_else(|| {
            let (board, pending) = self.layer_parts();
            let layer = Layer {
                board,
                pending: &pending,
                hidden: &self.scene.hidden,
            };
            layer.shown(id).map(|(stroke, _)| stroke)
        })
    }

    /// Whether the next [`Self::sync_scene`] builds the scene from scratch
    /// (a welcome, a clear): the slow case worth timing.
    pub fn scene_rebuild_due(&self) -> bool {
        self.scene.rebuild
    }

    /// Paints the board's items that show `image` again at the next sync:
    /// its bytes arrived, and the board layer drew grey boxes for them.
    /// (Live items are drawn every frame anyway.)
    pub fn repaint_image(&mut self, image: &ImageId) {
        let board = self.past.as_ref().unwrap_or(&self.board);
        let showing = board
            .visible_strokes()
            .filter(|stroke| stroke.image.as_ref() == Some(image));
        self.scene
            .touched
            .extend(showing.map(|stroke| stroke.id.clone()));
    }

    /// Brings the board layer's scene up to date with the board, the
    /// pending requests and what is live (before painting or hit testing).
    pub fn sync_scene(&mut self, local: &Local<'_>) -> SceneUpdate {
        let hidden = self.live_ids(local);
        let scene = &mut self.scene;
        let mut touched = std::mem::take(&mut scene.touched);
        touched.extend(scene.hidden.symmetric_difference(&hidden).cloned());
        scene.hidden = hidden;
        if touched.is_empty() && !scene.rebuild && scene.damage.is_empty() {
            return SceneUpdate::Unchanged;
        }
        // Fields, not `self`: the scene is borrowed for writing.
        let (board, pending) = layer_parts(&self.past, &self.board, &self.pending);
        let layer = Layer {
            board,
            pending: &pending,
            hidden: &scene.hidden,
        };
        if std::mem::take(&mut scene.rebuild) || touched.len() > scene.scene.len() / 2 + 64 {
            // Whatever of a snapshot's rest the scene was still taking in
            // comes with the board now, in the board's order.
            if scene.is_catching_up() {
                scene.scene.forget();
            }
            scene.arriving.clear();
            scene.kept = None;
            scene.damage.clear();
            let placed = self
                .rest
                .as_ref()
                .filter(|rest| rest.welcomed && self.partial)
                .map(|rest| Placed {
                    positions: rest.positions(),
                    total: rest.total(),
                });
            scene.scene.rebuild(&layer, placed);
            return SceneUpdate::Rebuilt;
        }
        let mut damage = std::mem::take(&mut scene.damage);
        damage.extend(scene.scene.refresh(&layer, &touched));
        SceneUpdate::Damaged(damage)
    }

    /// Runs `paint` with the board layer as of the last [`Self::sync_scene`]
    /// and its scene.
    pub fn with_layer<R>(&self, paint: impl FnOnce(&Layer<'_, '_>, &Scene) -> R) -> R {
        let (board, pending) = self.layer_parts();
        let layer = Layer {
            board,
            pending: &pending,
            hidden: &self.scene.hidden,
        };
        paint(&layer, &self.scene.scene)
    }

    /// Items shown whose paint reaches into `area` (world coordinates),
    /// bottom first: the board layer's through its R-tree, then the live
    /// ones. Call [`Self::sync_scene`] first.
    pub fn shown_in<'s>(&'s self, area: &Rect, local: &Local<'s>) -> Vec<&'s Stroke> {
        let (board, pending) = self.layer_parts();
        let layer = Layer {
            board,
            pending: &pending,
            hidden: &self.scene.hidden,
        };
        let mut found: Vec<&Stroke> = self
            .scene
            .scene
            .in_area(area)
            .into_iter()
            .filter_map(|id| layer.get(id))
            .collect();
        found.extend(
            self.live_strokes(local)
                .into_iter()
                .filter(|s| geometry::visual_bounds(s).is_some_and(|b| b.intersects(area))),
        );
        found
    }
}

#[cfg(test)]
mod tests;
