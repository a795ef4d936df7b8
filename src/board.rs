//! The board state machine: what a board is, and how operations change it.
//!
//! Shared by the server (which resolves requests into operations and keeps the
//! authoritative copy) and the browser (which applies the same operations to
//! its copy). Applying is deterministic and infallible, so every replica that
//! applies the same operations in the same order holds the same board.
//!
//! Undo and redo are per user. The server remembers, per author, a stack of
//! the author's undoable operations and what each one did (its [`Effect`]);
//! an undo takes back the top of the author's own stack and never touches
//! anybody else's work beyond the strokes that operation itself changed.
//! Undoing an `update` puts back the earlier states only of strokes nobody
//! changed since; a stroke someone else moved afterwards stays where they put it.
//!
//! Strokes are kept in drawing order: sorted by their stacking key `z`, ties
//! in the order they were added. Adding puts a stroke on top (the server
//! gives it the highest `z` so far plus one, up to the limit of keys, where
//! the order of adding alone puts it on top).
//!
//! The server applies a batch before the store has it ([`Board::speculate`]):
//! if another instance stored its own operations under the same numbers
//! first, [`Board::roll_back`] takes the batch back in memory, touching only
//! what the batch changed, instead of reloading the board from the store.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::geometry;
use crate::protocol::{
    limits, BoardSnapshot, Change, ErrorCode, OpId, Operation, Point, ProtocolError, Request,
    SnapshotStroke, Stroke, StrokeId, StrokeKind, UserId,
};
use crate::sorting;

/// How many undoable operations each user can take back.
pub const UNDO_DEPTH: usize = 200;
/// How many recent operation ids per user are remembered to make resends idempotent.
pub const REMEMBERED_OP_IDS: usize = 512;
/// How many authors' undo history and op ids a board keeps: those of the
/// most recently active ones. One more forgets the author whose last
/// operation is the oldest (twice the default people per board, so people
/// drawing now are never forgotten): a board that thousands of people drew
/// on over the years keeps no more than this.
pub const REMEMBERED_AUTHORS: usize = 1_024;

/// Which strokes an operation showed and hid, and which states it replaced.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Effect {
    pub show: Vec<StrokeId>,
    pub hide: Vec<StrokeId>,
    /// States of updated strokes before the operation...
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub before: Vec<Stroke>,
    /// ...and after it, in the same order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub after: Vec<Stroke>,
}

/// One user's undo and redo stacks (sequence numbers of their operations).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct UserHistory {
    undo: VecDeque<u64>,
    redo: Vec<u64>,
    /// Recent operation ids and the sequence numbers they were stored under.
    op_ids: VecDeque<(OpId, u64)>,
}

/// A board: its strokes in drawing order, their visibility, and the history
/// needed to resolve undo, redo and resends.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Board {
    seq: u64,
    /// Shared, copied on write: cloning a board (a room saving a snapshot
    /// of 100,000 items while it goes on) copies pointers, not items.
    strokes: Vec<Arc<SnapshotStroke>>,
    #[serde(skip)]
    index: HashMap<StrokeId, usize>,
    /// The highest stacking key of any stroke, hidden ones included.
    #[serde(skip)]
    top_z: f64,
    /// What its items weigh, hidden ones included (see [`item_bytes`]); the
    /// server's alone (see [`COUNTS_BYTES`]).
    #[serde(skip)]
    bytes: usize,
    users: HashMap<UserId, UserHistory>,
    /// The effect of every operation still on some user's undo or redo
    /// stack (never changed once recorded; shared for cheap clones).
    effects: HashMap<u64, Arc<Effect>>,
    /// While speculating: what to restore on [`Board::roll_back`].
    #[serde(skip)]
    journal: Option<Box<Journal>>,
}

/// Undo history and the op ids of resends are the room's: it resolves undo,
/// redo and resends. The browser's board applies operations already
/// resolved and never reads them, so its build keeps none (less memory and
/// work for every operation, and less WebAssembly).
const KEEPS_HISTORY: bool = cfg!(feature = "ssr");

/// What a board weighs limits how much it may hold; only the server
/// enforces that, so only its build keeps count.
const COUNTS_BYTES: bool = cfg!(feature = "ssr");

/// An estimate of what an item weighs in memory and in the store: its
/// points (three `f32`s each), its id, text and image id (not the image:
/// its bytes are stored once for every board that shows it), and a fixed
/// part for the rest. It counts toward the bytes a board may hold
/// (`--board-bytes`), so it must only depend on the item.
pub fn item_bytes(stroke: &Stroke) -> usize {
    const FIXED: usize = 64;
    FIXED
        + stroke.points.len() * 12
        + stroke.id.as_str().len()
        + stroke.text.as_ref().map_or(0, String::len)
        + stroke
            .image
            .as_ref()
            .map_or(0, |image| image.as_str().len())
}

/// The run being recorded in `journal`, if any. Never one in the browser's
/// build, whose board never speculates: the recording then compiles to
/// nothing (it was 3 KB of its WebAssembly).
fn recording(journal: &mut Option<Box<Journal>>) -> Option<&mut Journal> {
    if cfg!(feature = "ssr") {
        journal.as_deref_mut()
    } else {
        None
    }
}

/// The state a speculative run of operations replaced, each part recorded
/// the first time the run changes it.
#[derive(Debug, Clone, Default, PartialEq)]
struct Journal {
    seq: u64,
    top_z: f64,
    bytes: usize,
    /// Strokes at and after this position were added by the run.
    added_from: usize,
    /// Earlier states of strokes changed in place, by position.
    replaced: HashMap<usize, Arc<SnapshotStroke>>,
    /// The whole drawing order before the run, once a restack moved strokes
    /// (then `replaced` no longer matters).
    order: Option<Vec<Arc<SnapshotStroke>>>,
    /// Each touched author's history before the run (`None`: had none).
    users: HashMap<UserId, Option<UserHistory>>,
    /// Each touched effect before the run (`None`: there was none).
    effects: HashMap<u64, Option<Arc<Effect>>>,
}

/// A board being indexed a slice at a time: a browser that merges the
/// rest of a big board's snapshot between frames indexes some thousands
/// of ids per frame (all 100,000 at once take a frame and more).
pub struct Indexing {
    board: Board,
    /// The first item not indexed yet.
    next: usize,
}

impl Indexing {
    /// Indexes up to `most` more items; whether all are.
    pub fn step(&mut self, most: usize) -> bool {
        self.next = self.board.index_from(self.next, most);
        self.is_done()
    }

    pub fn is_done(&self) -> bool {
        self.next == self.board.strokes.len()
    }

    /// The board, with whatever was left indexed now.
    pub fn finish(mut self) -> Board {
        self.step(usize::MAX);
        self.board
    }
}

impl Board {
    /// An empty board at sequence number 0.
    pub fn new() -> Self {
        Self::default()
    }

    /// Rebuilds derived indexes after deserialising a stored board.
    pub fn reindex(&mut self) {
        self.index = HashMap::new();
        self.top_z = 0.0;
        self.bytes = 0;
        self.index_from(0, usize::MAX);
    }

    /// Indexes up to `most` items from the `from`-th on; where it stopped.
    fn index_from(&mut self, from: usize, most: usize) -> usize {
        let end = from.saturating_add(most).min(self.strokes.len());
        self.index.reserve(end - from);
        for (i, item) in self.strokes.iter().enumerate().take(end).skip(from) {
            self.index.insert(item.stroke.id.clone(), i);
            self.top_z = self.top_z.max(item.stroke.z);
            if COUNTS_BYTES {
                self.bytes += item_bytes(&item.stroke);
            }
        }
        end
    }

    /// A board as a client sees it after a snapshot (no undo history).
    pub fn from_snapshot(snapshot: BoardSnapshot) -> Self {
        Self::from_items(
            snapshot.seq,
            snapshot.strokes.into_iter().map(Arc::new).collect(),
        )
    }

    /// A board as a client sees it after a snapshot whose items, in
    /// drawing order, are `strokes`.
    pub fn from_items(seq: u64, strokes: Vec<Arc<SnapshotStroke>>) -> Self {
        Self::indexing(seq, strokes).finish()
    }

    /// Like [`Self::from_items`], indexed a slice at a time (see [`Indexing`]).
    pub fn indexing(seq: u64, strokes: Vec<Arc<SnapshotStroke>>) -> Indexing {
        let mut board = Self {
            seq,
            strokes,
            ..Self::default()
        };
        board.index.reserve(board.strokes.len());
        Indexing { board, next: 0 }
    }

    /// Its items in drawing order, hidden ones included.
    pub fn items(&self) -> &[Arc<SnapshotStroke>] {
        &self.strokes
    }

    /// Stacking keys of new items start above `z` at least: a client
    /// holding part of a snapshot learns the whole one's highest key.
    pub fn raise_top_z(&mut self, z: f64) {
        self.top_z = self.top_z.max(z);
    }

    /// The wire form of this board.
    pub fn snapshot(&self) -> BoardSnapshot {
        BoardSnapshot {
            seq: self.seq,
            strokes: self
                .strokes
                .iter()
                .map(|s| SnapshotStroke::clone(s))
                .collect(),
        }
    }

    /// Its items as a snapshot carries them: with `placeholders`, image
    /// items as a client older than [`crate::protocol::IMAGES_SINCE`] gets
    /// them ([`Stroke::as_placeholder`]); copied only if there are any.
    fn snapshot_strokes(&self, placeholders: bool) -> Cow<'_, [Arc<SnapshotStroke>]> {
        let is_image = |item: &Arc<SnapshotStroke>| item.stroke.kind == StrokeKind::Image;
        if !placeholders || !self.strokes.iter().any(is_image) {
            return Cow::Borrowed(&self.strokes);
        }
        let items = self
            .strokes
            .iter()
            .map(|item| match item.stroke.as_placeholder() {
                Cow::Borrowed(_) => Arc::clone(item),
                Cow::Owned(stroke) => Arc::new(SnapshotStroke {
                    stroke,
                    visible: item.visible,
                }),
            });
        Cow::Owned(items.collect())
    }

    /// The wire form of this board ([`Board::snapshot`]) as JSON, encoded
    /// straight from the board instead of from a copy of it (protocol
    /// version 1: image items as placeholders).
    pub fn snapshot_json(&self) -> Box<serde_json::value::RawValue> {
        #[derive(Serialize)]
        struct Borrowed<'a> {
            seq: u64,
            strokes: &'a [Arc<SnapshotStroke>],
        }
        let json = serde_json::to_string(&Borrowed {
            seq: self.seq,
            strokes: &self.snapshot_strokes(true),
        })
        .expect("boards always serialise");
        serde_json::value::RawValue::from_string(json).expect("serde_json wrote valid JSON")
    }

    /// The board packed for a protocol version 2 welcome (see
    /// [`crate::protocol::packed`]; image items as placeholders).
    pub fn snapshot_packed(&self) -> Vec<u8> {
        crate::protocol::packed::encode(self.seq, &self.snapshot_strokes(true))
    }

    /// The board packed for a protocol version 3 welcome, grouped by where
    /// its items paint, and the groups' bytes (see
    /// [`crate::protocol::packed::Grouped`]); with `placeholders`, image
    /// items as clients older than version 5 get them.
    pub fn snapshot_grouped(
        &self,
        placeholders: bool,
    ) -> (crate::protocol::packed::Grouped, Vec<u8>) {
        let strokes = self.snapshot_strokes(placeholders);
        crate::protocol::packed::Grouped::new(self.seq, self.top_z, &strokes, |item| {
            item.visible
                .then(|| crate::scene::paint_bounds(&item.stroke))
                .flatten()
        })
    }

    /// The board packed as [`Board::snapshot_grouped`] does, in one group:
    /// for a snapshot sent or kept in one part.
    pub fn snapshot_whole(
        &self,
        placeholders: bool,
    ) -> (crate::protocol::packed::Grouped, Vec<u8>) {
        let strokes = self.snapshot_strokes(placeholders);
        crate::protocol::packed::Grouped::whole(self.seq, self.top_z, &strokes)
    }

    /// Starts recording what operations change, so that [`Board::roll_back`]
    /// can take them back; [`Board::confirm`] keeps them. A run already
    /// started goes on. (Only the room speculates: the browser's build has
    /// none of this, see [`recording`].)
    #[cfg(feature = "ssr")]
    pub fn speculate(&mut self) {
        if self.journal.is_none() {
            self.journal = Some(Box::new(Journal {
                seq: self.seq,
                top_z: self.top_z,
                bytes: self.bytes,
                added_from: self.strokes.len(),
                ..Journal::default()
            }));
        }
    }

    /// Keeps what was applied since [`Board::speculate`].
    #[cfg(feature = "ssr")]
    pub fn confirm(&mut self) {
        self.journal = None;
    }

    /// Takes back every operation applied since [`Board::speculate`]: the
    /// board is again what it was then. Without a run, changes nothing.
    #[cfg(feature = "ssr")]
    pub fn roll_back(&mut self) {
        let Some(journal) = self.journal.take() else {
            return;
        };
        let Journal {
            seq,
            top_z,
            bytes,
            added_from,
            replaced,
            order,
            users,
            effects,
        } = *journal;
        match order {
            Some(order) => {
                self.strokes = order;
                self.reindex();
            }
            None => {
                for added in self.strokes.drain(added_from..) {
                    self.index.remove(&added.stroke.id);
                }
                for (position, stroke) in replaced {
                    self.strokes[position] = stroke;
                }
            }
        }
        self.seq = seq;
        self.top_z = top_z;
        self.bytes = bytes;
        for (user, history) in users {
            match history {
                Some(history) => self.users.insert(user, history),
                None => self.users.remove(&user),
            };
        }
        for (seq, effect) in effects {
            match effect {
                Some(effect) => self.effects.insert(seq, effect),
                None => self.effects.remove(&seq),
            };
        }
    }

    /// Records the author's history before the run first changes it.
    fn journal_user(&mut self, author: &UserId) {
        if let Some(journal) = recording(&mut self.journal) {
            if !journal.users.contains_key(author) {
                journal
                    .users
                    .insert(author.clone(), self.users.get(author).cloned());
            }
        }
    }

    /// Records an effect before the run first changes it.
    fn journal_effect(&mut self, seq: u64) {
        if let Some(journal) = recording(&mut self.journal) {
            journal
                .effects
                .entry(seq)
                .or_insert_with(|| self.effects.get(&seq).cloned());
        }
    }

    /// Records the stroke at `position` before the run first changes it.
    fn journal_stroke(&mut self, position: usize) {
        if let Some(journal) = recording(&mut self.journal) {
            if journal.order.is_none() && position < journal.added_from {
                journal
                    .replaced
                    .entry(position)
                    .or_insert_with(|| Arc::clone(&self.strokes[position]));
            }
        }
    }

    /// Records the drawing order before the run first reorders it.
    fn journal_order(&mut self) {
        if let Some(journal) = recording(&mut self.journal) {
            if journal.order.is_none() {
                let mut order = self.strokes[..journal.added_from].to_vec();
                for (&position, stroke) in &journal.replaced {
                    order[position] = Arc::clone(stroke);
                }
                journal.order = Some(order);
            }
        }
    }

    /// What its items weigh, hidden ones included (see [`item_bytes`]).
    #[cfg(feature = "ssr")]
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// What `strokes`, added or put in place, would add to the board: new
    /// items, and bytes (an update that makes items lighter adds none).
    #[cfg(feature = "ssr")]
    pub fn growth(&self, strokes: &[Stroke]) -> (usize, usize) {
        strokes.iter().fold((0, 0), |(items, bytes), stroke| {
            match self.get(&stroke.id) {
                Some(old) => (
                    items,
                    bytes + item_bytes(stroke).saturating_sub(item_bytes(old)),
                ),
                None => (items + 1, bytes + item_bytes(stroke)),
            }
        })
    }

    /// The sequence number of the last applied operation (0 for a new board).
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// Visible strokes in drawing order (bottom first).
    pub fn visible_strokes(&self) -> impl Iterator<Item = &Stroke> {
        self.strokes.iter().filter(|s| s.visible).map(|s| &s.stroke)
    }

    /// A stroke's current state, visible or not.
    pub fn get(&self, id: &StrokeId) -> Option<&Stroke> {
        self.index.get(id).map(|&i| &self.strokes[i].stroke)
    }

    /// The highest stacking key on the board (0 when empty).
    pub fn top_z(&self) -> f64 {
        self.top_z
    }

    /// The lowest stacking key on the board (0 when empty).
    pub fn bottom_z(&self) -> f64 {
        self.strokes.first().map_or(0.0, |s| s.stroke.z.min(0.0))
    }

    pub fn stroke_count(&self) -> usize {
        self.strokes.len()
    }

    /// A stroke's current state if it is visible (one lookup where
    /// [`Board::get`] and [`Board::is_visible`] take two: the board layer
    /// asks this for every item it paints).
    pub fn get_visible(&self, id: &StrokeId) -> Option<&Stroke> {
        let item = &self.strokes[*self.index.get(id)?];
        item.visible.then_some(&item.stroke)
    }

    pub fn is_visible(&self, id: &StrokeId) -> bool {
        self.get_visible(id).is_some()
    }

    pub fn contains(&self, id: &StrokeId) -> bool {
        self.index.contains_key(id)
    }

    /// The sequence number under which `author`'s request `op_id` was stored,
    /// if it was (a resend after a lost acknowledgement).
    pub fn applied_seq(&self, author: &UserId, op_id: &OpId) -> Option<u64> {
        self.users
            .get(author)
            .and_then(|h| h.op_ids.iter().find(|(id, _)| id == op_id))
            .map(|(_, seq)| *seq)
    }

    /// Whether `author` has something to undo / redo.
    pub fn can_undo(&self, author: &UserId) -> bool {
        self.users.get(author).is_some_and(|h| !h.undo.is_empty())
    }

    pub fn can_redo(&self, author: &UserId) -> bool {
        self.users.get(author).is_some_and(|h| !h.redo.is_empty())
    }

    /// Visible strokes touched by a circle of `radius` swept along `path`.
    pub fn strokes_hit_by(&self, path: &[Point], radius: f32) -> Vec<StrokeId> {
        self.visible_strokes()
            .filter(|stroke| geometry::path_touches_stroke(path, radius, stroke))
            .map(|stroke| stroke.id.clone())
            .collect()
    }

    /// Turns a validated request into the change it makes to the board now,
    /// or refuses it. Does not modify the board.
    pub fn resolve(&self, author: &UserId, request: Request) -> Result<Change, ProtocolError> {
        let rejected = |message: &str| ProtocolError::new(ErrorCode::Rejected, message);
        match request {
            Request::AddStroke(stroke) => {
                let mut strokes = self.resolve_additions(vec![stroke])?;
                Ok(Change::AddStroke {
                    stroke: strokes.remove(0),
                })
            }
            Request::AddStrokes(strokes) => Ok(Change::AddStrokes {
                strokes: self.resolve_additions(strokes)?,
            }),
            Request::Update(strokes) => {
                let mut seen = HashSet::new();
                let mut changed = Vec::new();
                for stroke in strokes {
                    let Some(current) = self.get_visible(&stroke.id) else {
                        return Err(rejected("an updated stroke is not on the board"));
                    };
                    if current.kind != stroke.kind {
                        return Err(rejected("an update cannot change a stroke's kind"));
                    }
                    if !seen.insert(stroke.id.clone()) {
                        return Err(rejected("an update names a stroke twice"));
                    }
                    if *current != stroke {
                        changed.push(stroke);
                    }
                }
                if changed.is_empty() {
                    return Err(rejected("the update changes nothing"));
                }
                Ok(Change::Update { strokes: changed })
            }
            Request::Erase(ids) => {
                let mut stroke_ids: Vec<StrokeId> =
                    ids.into_iter().filter(|id| self.is_visible(id)).collect();
                stroke_ids.sort();
                stroke_ids.dedup();
                if stroke_ids.is_empty() {
                    return Err(rejected("none of these strokes is on the board"));
                }
                Ok(Change::Erase { stroke_ids })
            }
            Request::Clear => {
                let stroke_ids: Vec<StrokeId> =
                    self.visible_strokes().map(|s| s.id.clone()).collect();
                if stroke_ids.is_empty() {
                    return Err(rejected("the board is already empty"));
                }
                Ok(Change::Clear { stroke_ids })
            }
            Request::Undo => {
                let target = self
                    .users
                    .get(author)
                    .and_then(|h| h.undo.back().copied())
                    .ok_or_else(|| rejected("nothing to undo"))?;
                let (show, hide, set) = self.replay_effect(target, false);
                Ok(Change::Undo {
                    target,
                    show,
                    hide,
                    set,
                })
            }
            Request::Redo => {
                let target = self
                    .users
                    .get(author)
                    .and_then(|h| h.redo.last().copied())
                    .ok_or_else(|| rejected("nothing to redo"))?;
                let (show, hide, set) = self.replay_effect(target, true);
                Ok(Change::Redo {
                    target,
                    show,
                    hide,
                    set,
                })
            }
            // The version it brings back is read by the room, which then
            // resolves it with [`Board::resolve_restore`].
            Request::Restore { .. } => Err(rejected("a restore needs the version it brings back")),
            Request::NameVersion(name) => Ok(Change::NameVersion { name }),
        }
    }

    /// What makes this board equal to `version` (the same board at an
    /// earlier sequence number): every item shown or hidden as it was
    /// then, items added since hidden, and the states of items visible
    /// then put back. Refused if the board already is that version.
    /// (Items are never dropped from a board, so every item of `version`
    /// is here.)
    pub fn resolve_restore(&self, version: &Board) -> Result<Change, ProtocolError> {
        let (mut show, mut hide, mut set) = (Vec::new(), Vec::new(), Vec::new());
        for item in &self.strokes {
            let id = &item.stroke.id;
            let then = version.index.get(id).map(|&i| &version.strokes[i]);
            let visible_then = then.is_some_and(|then| then.visible);
            match (item.visible, visible_then) {
                (false, true) => show.push(id.clone()),
                (true, false) => hide.push(id.clone()),
                _ => {}
            }
            if let Some(then) = then.filter(|then| then.visible && then.stroke != item.stroke) {
                set.push(then.stroke.clone());
            }
        }
        if show.is_empty() && hide.is_empty() && set.is_empty() {
            return Err(ProtocolError::new(
                ErrorCode::Rejected,
                "the board already is this version",
            ));
        }
        Ok(Change::Restore {
            version: version.seq(),
            show,
            hide,
            set,
        })
    }

    /// New strokes with fresh ids, stacked on top in the order given. Keys
    /// stop at [`limits::MAX_Z`]: once the top is there, new items share
    /// that key and stack by the order they were added, so no key ever
    /// leaves the range a later `update` of the item must stay in.
    fn resolve_additions(&self, strokes: Vec<Stroke>) -> Result<Vec<Stroke>, ProtocolError> {
        let mut seen = HashSet::new();
        let mut z = self.top_z;
        strokes
            .into_iter()
            .map(|mut stroke| {
                if self.contains(&stroke.id) || !seen.insert(stroke.id.clone()) {
                    return Err(ProtocolError::new(
                        ErrorCode::Rejected,
                        "a stroke with this id already exists",
                    ));
                }
                z = (z + 1.0).min(limits::MAX_Z.max(self.top_z));
                stroke.z = z;
                Ok(stroke)
            })
            .collect()
    }

    /// What re-applying (`forward`) or taking back operation `target` does
    /// now: the strokes whose visibility would actually change, and the
    /// states to restore for strokes nobody changed since.
    fn replay_effect(
        &self,
        target: u64,
        forward: bool,
    ) -> (Vec<StrokeId>, Vec<StrokeId>, Vec<Stroke>) {
        let effect = self
            .effects
            .get(&target)
            .map(|effect| Effect::clone(effect))
            .unwrap_or_default();
        let (to_show, to_hide, from, to) = if forward {
            (effect.show, effect.hide, effect.before, effect.after)
        } else {
            (effect.hide, effect.show, effect.after, effect.before)
        };
        let show = to_show
            .into_iter()
            .filter(|id| self.contains(id) && !self.is_visible(id))
            .collect();
        let hide = to_hide
            .into_iter()
            .filter(|id| self.is_visible(id))
            .collect();
        let set = from
            .iter()
            .zip(to)
            .filter(|(expected, _)| self.get(&expected.id) == Some(*expected))
            .map(|(_, restored)| restored)
            .collect();
        (show, hide, set)
    }

    /// The one way an operation is made: resolves `request` by `author`,
    /// numbers it as the next operation and applies it. The server stores
    /// the returned operation; on a refusal the board is unchanged.
    pub fn commit(
        &mut self,
        author: &UserId,
        op_id: &OpId,
        request: Request,
    ) -> Result<Operation, ProtocolError> {
        let change = self.resolve(author, request)?;
        Ok(self.commit_change(author, op_id, change))
    }

    /// Like [`Board::commit`] for a restore of `version` (read by the room).
    pub fn commit_restore(
        &mut self,
        author: &UserId,
        op_id: &OpId,
        version: &Board,
    ) -> Result<Operation, ProtocolError> {
        let change = self.resolve_restore(version)?;
        Ok(self.commit_change(author, op_id, change))
    }

    /// Numbers a resolved change as the next operation and applies it. Its
    /// time and its author's name are the room's to fill in.
    fn commit_change(&mut self, author: &UserId, op_id: &OpId, change: Change) -> Operation {
        let op = Operation {
            seq: self.seq + 1,
            author: author.clone(),
            op_id: op_id.clone(),
            at: 0,
            name: None,
            change,
        };
        self.apply(&op);
        op
    }

    /// Applies an operation. Operations at or below the current sequence
    /// number are ignored (already applied); the caller guarantees there is
    /// no gap. Unknown stroke ids in `show`/`hide` are ignored.
    pub fn apply(&mut self, op: &Operation) {
        if op.seq <= self.seq {
            return;
        }
        self.seq = op.seq;
        if KEEPS_HISTORY {
            if !self.users.contains_key(&op.author) && self.users.len() >= REMEMBERED_AUTHORS {
                self.forget_longest_idle_author();
            }
            self.journal_user(&op.author);
            let history = self.users.entry(op.author.clone()).or_default();
            history.op_ids.push_back((op.op_id.clone(), op.seq));
            if history.op_ids.len() > REMEMBERED_OP_IDS {
                history.op_ids.pop_front();
            }
        }
        match &op.change {
            Change::AddStroke { stroke } => {
                self.add(std::slice::from_ref(stroke));
                self.record_undoable(op, || Effect {
                    show: vec![stroke.id.clone()],
                    ..Effect::default()
                });
            }
            Change::AddStrokes { strokes } => {
                self.add(strokes);
                self.record_undoable(op, || Effect {
                    show: strokes.iter().map(|s| s.id.clone()).collect(),
                    ..Effect::default()
                });
            }
            Change::Update { strokes } => {
                // What it replaces, before it does.
                let effect = KEEPS_HISTORY.then(|| self.replacing(strokes));
                self.replace(strokes);
                if let Some(effect) = effect {
                    self.record_undoable(op, || effect);
                }
            }
            Change::Erase { stroke_ids } | Change::Clear { stroke_ids } => {
                self.set_visible(stroke_ids, false);
                self.record_undoable(op, || Effect {
                    hide: stroke_ids.clone(),
                    ..Effect::default()
                });
            }
            Change::Undo {
                target,
                show,
                hide,
                set,
            } => {
                self.show_hide_set(show, hide, set);
                if KEEPS_HISTORY {
                    let history = self.users.entry(op.author.clone()).or_default();
                    if history.undo.back() == Some(target) {
                        history.undo.pop_back();
                        history.redo.push(*target);
                    }
                }
            }
            Change::Redo {
                target,
                show,
                hide,
                set,
            } => {
                self.show_hide_set(show, hide, set);
                if KEEPS_HISTORY {
                    let history = self.users.entry(op.author.clone()).or_default();
                    if history.redo.last() == Some(target) {
                        history.redo.pop();
                        history.undo.push_back(*target);
                    }
                }
            }
            Change::Restore {
                show, hide, set, ..
            } => {
                // Undone like an update plus what it showed and hid.
                let effect = KEEPS_HISTORY.then(|| Effect {
                    show: show.clone(),
                    hide: hide.clone(),
                    ..self.replacing(set)
                });
                self.show_hide_set(show, hide, set);
                if let Some(effect) = effect {
                    self.record_undoable(op, || effect);
                }
            }
            // A name changes nothing on the board, and is not undone.
            Change::NameVersion { .. } => {}
        }
    }

    /// What replacing the states of `strokes` does: the states it replaces
    /// and the new ones, of strokes on the board (for undoing it).
    fn replacing(&self, strokes: &[Stroke]) -> Effect {
        Effect {
            before: strokes
                .iter()
                .filter_map(|s| self.get(&s.id).cloned())
                .collect(),
            after: strokes
                .iter()
                .filter(|s| self.contains(&s.id))
                .cloned()
                .collect(),
            ..Effect::default()
        }
    }

    /// Shows `show`, hides `hide` and puts the states `set` in place: what
    /// an undo, a redo and a restore do to the board.
    fn show_hide_set(&mut self, show: &[StrokeId], hide: &[StrokeId], set: &[Stroke]) {
        self.set_visible(show, true);
        self.set_visible(hide, false);
        self.replace(set);
    }

    /// Appends new visible strokes (their `z` is the highest so far, so
    /// appending keeps the drawing order sorted). Known ids are skipped.
    fn add(&mut self, strokes: &[Stroke]) {
        for stroke in strokes {
            if self.contains(&stroke.id) {
                continue;
            }
            self.index.insert(stroke.id.clone(), self.strokes.len());
            self.top_z = self.top_z.max(stroke.z);
            if COUNTS_BYTES {
                self.bytes += item_bytes(stroke);
            }
            self.strokes.push(Arc::new(SnapshotStroke {
                stroke: stroke.clone(),
                visible: true,
            }));
        }
    }

    /// Puts new states of known strokes in place, keeping their visibility,
    /// and restores the drawing order if a stacking key changed.
    fn replace(&mut self, strokes: &[Stroke]) {
        let mut restack = false;
        for stroke in strokes {
            if let Some(&i) = self.index.get(&stroke.id) {
                self.journal_stroke(i);
                let slot = &mut Arc::make_mut(&mut self.strokes[i]).stroke;
                restack |= slot.z != stroke.z;
                if COUNTS_BYTES {
                    self.bytes = self.bytes - item_bytes(slot) + item_bytes(stroke);
                }
                *slot = stroke.clone();
            }
        }
        if restack {
            self.journal_order();
            // A stable sort keeps insertion order among equal keys. The
            // standard one is 4 times as fast on a board sorted but for the
            // moved items (0.7 against 2.7 ms at 100,000 items), but one
            // more copy of it costs 1.2 KB of brotli WebAssembly, and a
            // restack is a rare click, not live traffic.
            sorting::sort_by_key(&mut self.strokes, |s| (sorting::f64_key(s.stroke.z), 0));
            self.reindex();
        }
    }

    fn set_visible(&mut self, ids: &[StrokeId], visible: bool) {
        for id in ids {
            if let Some(&i) = self.index.get(id) {
                self.journal_stroke(i);
                Arc::make_mut(&mut self.strokes[i]).visible = visible;
            }
        }
    }

    /// Forgets the history (undo, redo, op ids) of the author whose last
    /// operation is the oldest: a function of the operations alone, so every
    /// replica forgets the same one.
    fn forget_longest_idle_author(&mut self) {
        let idle = self
            .users
            .iter()
            .min_by_key(|(_, history)| history.op_ids.back().map_or(0, |(_, seq)| *seq))
            .map(|(author, _)| author.clone());
        let Some(idle) = idle else {
            return;
        };
        self.journal_user(&idle);
        if let Some(history) = self.users.remove(&idle) {
            for seq in history.undo.iter().chain(&history.redo) {
                self.journal_effect(*seq);
                self.effects.remove(seq);
            }
        }
    }

    /// A new action of the author: it goes on their undo stack and makes
    /// their redo stack obsolete.
    fn record_undoable(&mut self, op: &Operation, effect: impl FnOnce() -> Effect) {
        if !KEEPS_HISTORY {
            return;
        }
        let history = self.users.entry(op.author.clone()).or_default();
        history.undo.push_back(op.seq);
        let mut forgotten: Vec<u64> = std::mem::take(&mut history.redo);
        if history.undo.len() > UNDO_DEPTH {
            forgotten.extend(history.undo.pop_front());
        }
        for seq in forgotten {
            self.journal_effect(seq);
            self.effects.remove(&seq);
        }
        self.journal_effect(op.seq);
        self.effects.insert(op.seq, Arc::new(effect()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{Color, StrokeStyle};

    fn user(name: &str) -> UserId {
        UserId::parse(name).unwrap()
    }

    fn line(id: &str, y: f32) -> Stroke {
        Stroke::freehand(
            StrokeId::parse(id).unwrap(),
            StrokeStyle {
                color: Color::parse("#000000").unwrap(),
                width: 2.0,
            },
            vec![Point::new(0.0, y, 0.5), Point::new(100.0, y, 0.5)],
        )
    }

    /// Commits like the server does, with a fresh op id; returns the operation.
    fn submit(
        board: &mut Board,
        author: &UserId,
        request: Request,
    ) -> Result<Operation, ProtocolError> {
        let op_id = OpId::parse(&format!("op{}", board.seq() + 1)).unwrap();
        board.commit(author, &op_id, request)
    }

    fn visible_ids(board: &Board) -> Vec<&str> {
        board.visible_strokes().map(|s| s.id.as_str()).collect()
    }

    #[test]
    fn a_board_indexed_in_slices_is_the_board_indexed_at_once() {
        let items: Vec<Arc<SnapshotStroke>> = (0..7)
            .map(|n| {
                let mut stroke = line(&format!("s{n}"), n as f32);
                stroke.z = f64::from((n * 5) % 7);
                Arc::new(SnapshotStroke {
                    stroke,
                    visible: n != 3,
                })
            })
            .collect();
        let whole = Board::from_items(9, items.clone());
        assert_eq!(whole.top_z(), 6.0);
        let mut indexing = Board::indexing(9, items);
        let mut steps = 1;
        while !indexing.step(3) {
            steps += 1;
        }
        assert_eq!(steps, 3);
        let board = indexing.finish();
        assert_eq!(board.top_z(), whole.top_z());
        assert_eq!(board.snapshot(), whole.snapshot());
        for n in 0..7 {
            let id = StrokeId::parse(&format!("s{n}")).unwrap();
            assert_eq!(board.get_visible(&id), whole.get_visible(&id), "s{n}");
            assert!(board.contains(&id));
        }
    }

    #[test]
    fn the_encoded_snapshot_is_the_snapshot() {
        let mut board = Board::new();
        let author = user("u1");
        for (n, id) in ["a", "b"].into_iter().enumerate() {
            let op_id = OpId::parse(&format!("o{n}")).unwrap();
            board
                .commit(&author, &op_id, Request::AddStroke(line(id, n as f32)))
                .unwrap();
        }
        board
            .commit(
                &author,
                &OpId::parse("o9").unwrap(),
                Request::Erase(vec![StrokeId::parse("a").unwrap()]),
            )
            .unwrap();
        assert_eq!(
            board.snapshot_json().get(),
            serde_json::to_string(&board.snapshot()).unwrap()
        );
    }

    #[test]
    fn sequence_numbers_increase_without_gaps() {
        let mut board = Board::new();
        let alice = user("alice");
        for (i, id) in ["a", "b", "c"].iter().enumerate() {
            let op = submit(&mut board, &alice, Request::AddStroke(line(id, i as f32))).unwrap();
            assert_eq!(op.seq, i as u64 + 1);
        }
        assert_eq!(board.seq(), 3);
    }

    #[test]
    fn applying_an_old_operation_again_changes_nothing() {
        let mut board = Board::new();
        let alice = user("alice");
        let op = submit(&mut board, &alice, Request::AddStroke(line("a", 0.0))).unwrap();
        let before = board.clone();
        board.apply(&op);
        assert_eq!(board, before);
    }

    #[test]
    fn undo_takes_back_only_my_own_last_action() {
        let mut board = Board::new();
        let (alice, bob) = (user("alice"), user("bob"));
        submit(&mut board, &alice, Request::AddStroke(line("a1", 0.0))).unwrap();
        submit(&mut board, &bob, Request::AddStroke(line("b1", 10.0))).unwrap();
        submit(&mut board, &alice, Request::Undo).unwrap();
        assert_eq!(visible_ids(&board), vec!["b1"]);
        assert_eq!(
            board.resolve(&alice, Request::Undo).unwrap_err().code,
            ErrorCode::Rejected
        );
        submit(&mut board, &alice, Request::Redo).unwrap();
        assert_eq!(visible_ids(&board), vec!["a1", "b1"]);
        assert!(!board.can_redo(&alice));
    }

    #[test]
    fn undo_of_an_erase_and_of_a_clear_restores_strokes() {
        let mut board = Board::new();
        let (alice, bob) = (user("alice"), user("bob"));
        submit(&mut board, &alice, Request::AddStroke(line("a1", 0.0))).unwrap();
        submit(&mut board, &bob, Request::AddStroke(line("b1", 10.0))).unwrap();
        submit(
            &mut board,
            &bob,
            Request::Erase(vec![StrokeId::parse("a1").unwrap()]),
        )
        .unwrap();
        assert_eq!(visible_ids(&board), vec!["b1"]);
        submit(&mut board, &alice, Request::Clear).unwrap();
        assert!(visible_ids(&board).is_empty());
        submit(&mut board, &alice, Request::Undo).unwrap(); // undoes alice's clear
        assert_eq!(visible_ids(&board), vec!["b1"]);
        submit(&mut board, &bob, Request::Undo).unwrap(); // undoes bob's erase
        assert_eq!(visible_ids(&board), vec!["a1", "b1"]);
    }

    #[test]
    fn a_new_action_clears_the_redo_stack() {
        let mut board = Board::new();
        let alice = user("alice");
        submit(&mut board, &alice, Request::AddStroke(line("a1", 0.0))).unwrap();
        submit(&mut board, &alice, Request::Undo).unwrap();
        submit(&mut board, &alice, Request::AddStroke(line("a2", 5.0))).unwrap();
        assert!(board.resolve(&alice, Request::Redo).is_err());
        assert_eq!(visible_ids(&board), vec!["a2"]);
    }

    #[test]
    fn undo_depth_is_bounded() {
        let mut board = Board::new();
        let alice = user("alice");
        for i in 0..UNDO_DEPTH + 5 {
            submit(
                &mut board,
                &alice,
                Request::AddStroke(line(&format!("s{i}"), i as f32)),
            )
            .unwrap();
        }
        for _ in 0..UNDO_DEPTH {
            submit(&mut board, &alice, Request::Undo).unwrap();
        }
        assert!(board.resolve(&alice, Request::Undo).is_err());
        assert_eq!(visible_ids(&board).len(), 5);
        assert!(board.effects.len() <= UNDO_DEPTH);
    }

    #[test]
    fn invalid_requests_are_rejected_without_changes() {
        let mut board = Board::new();
        let alice = user("alice");
        assert!(board.resolve(&alice, Request::Clear).is_err());
        submit(&mut board, &alice, Request::AddStroke(line("a", 0.0))).unwrap();
        let before = board.clone();
        assert!(board
            .resolve(&alice, Request::AddStroke(line("a", 3.0)))
            .is_err());
        assert!(board
            .resolve(
                &alice,
                Request::Erase(vec![StrokeId::parse("ghost").unwrap()])
            )
            .is_err());
        assert_eq!(board, before);
    }

    #[test]
    fn resends_are_recognised_by_operation_id() {
        let mut board = Board::new();
        let alice = user("alice");
        let op = submit(&mut board, &alice, Request::AddStroke(line("a", 0.0))).unwrap();
        assert_eq!(board.applied_seq(&alice, &op.op_id), Some(1));
        assert_eq!(board.applied_seq(&user("bob"), &op.op_id), None);
    }

    #[test]
    fn stored_board_round_trips_through_json() {
        let mut board = Board::new();
        let alice = user("alice");
        submit(&mut board, &alice, Request::AddStroke(line("a", 0.0))).unwrap();
        submit(
            &mut board,
            &alice,
            Request::Erase(vec![StrokeId::parse("a").unwrap()]),
        )
        .unwrap();
        let mut restored: Board =
            serde_json::from_str(&serde_json::to_string(&board).unwrap()).unwrap();
        restored.reindex();
        assert_eq!(restored, board);
        submit(&mut restored, &alice, Request::Undo).unwrap();
        assert_eq!(visible_ids(&restored), vec!["a"]);
    }

    #[test]
    fn snapshot_replica_applies_the_same_operations_to_the_same_board() {
        let mut server = Board::new();
        let alice = user("alice");
        submit(&mut server, &alice, Request::AddStroke(line("a", 0.0))).unwrap();
        let mut client = Board::from_snapshot(server.snapshot());
        let op = submit(
            &mut server,
            &alice,
            Request::Erase(vec![StrokeId::parse("a").unwrap()]),
        )
        .unwrap();
        client.apply(&op);
        let op = submit(&mut server, &alice, Request::Undo).unwrap();
        client.apply(&op);
        assert_eq!(client.snapshot(), server.snapshot());
    }

    #[test]
    fn eraser_hits_strokes_it_touches() {
        let mut board = Board::new();
        let alice = user("alice");
        submit(&mut board, &alice, Request::AddStroke(line("top", 0.0))).unwrap();
        submit(&mut board, &alice, Request::AddStroke(line("bottom", 50.0))).unwrap();
        let swipe = [Point::new(50.0, -20.0, 0.5), Point::new(50.0, 20.0, 0.5)];
        assert_eq!(
            board.strokes_hit_by(&swipe, 4.0),
            vec![StrokeId::parse("top").unwrap()]
        );
        let miss = [Point::new(200.0, 0.0, 0.5)];
        assert!(board.strokes_hit_by(&miss, 4.0).is_empty());
    }

    fn moved(board: &Board, id: &str, dx: f32) -> Stroke {
        board
            .get(&StrokeId::parse(id).unwrap())
            .unwrap()
            .translated(dx, 0.0)
    }

    fn x_of(board: &Board, id: &str) -> f32 {
        board.get(&StrokeId::parse(id).unwrap()).unwrap().points[0].x
    }

    #[test]
    fn added_strokes_go_on_top_and_a_batch_is_one_undoable_action() {
        let mut board = Board::new();
        let alice = user("alice");
        submit(&mut board, &alice, Request::AddStroke(line("a", 0.0))).unwrap();
        let op = submit(
            &mut board,
            &alice,
            Request::AddStrokes(vec![line("b", 1.0), line("c", 2.0)]),
        )
        .unwrap();
        let Change::AddStrokes { strokes } = &op.change else {
            panic!("unexpected change {:?}", op.change);
        };
        assert_eq!(
            strokes.iter().map(|s| s.z).collect::<Vec<_>>(),
            vec![2.0, 3.0]
        );
        assert_eq!(board.top_z(), 3.0);
        submit(&mut board, &alice, Request::Undo).unwrap();
        assert_eq!(visible_ids(&board), vec!["a"]);
        assert!(board
            .resolve(
                &alice,
                Request::AddStrokes(vec![line("d", 0.0), line("d", 1.0)])
            )
            .is_err());
    }

    #[test]
    fn get_visible_answers_only_for_strokes_shown() {
        let mut board = Board::new();
        let alice = user("alice");
        submit(&mut board, &alice, Request::AddStroke(line("a", 0.0))).unwrap();
        submit(&mut board, &alice, Request::AddStroke(line("b", 1.0))).unwrap();
        let (a, b) = (StrokeId::parse("a").unwrap(), StrokeId::parse("b").unwrap());
        submit(&mut board, &alice, Request::Erase(vec![b.clone()])).unwrap();
        assert_eq!(board.get_visible(&a).map(|s| &s.id), Some(&a));
        // Erased strokes stay on the board (an undo shows them again).
        assert!(board.get(&b).is_some());
        assert!(board.get_visible(&b).is_none());
        assert!(board.get_visible(&StrokeId::parse("c").unwrap()).is_none());
    }

    #[test]
    fn a_move_is_undone_and_redone_by_its_author() {
        let mut board = Board::new();
        let alice = user("alice");
        submit(&mut board, &alice, Request::AddStroke(line("a", 0.0))).unwrap();
        let shifted = moved(&board, "a", 30.0);
        submit(&mut board, &alice, Request::Update(vec![shifted])).unwrap();
        assert_eq!(x_of(&board, "a"), 30.0);
        let undo = submit(&mut board, &alice, Request::Undo).unwrap();
        assert!(matches!(&undo.change, Change::Undo { set, .. } if set.len() == 1));
        assert_eq!(x_of(&board, "a"), 0.0);
        assert!(board.is_visible(&StrokeId::parse("a").unwrap()));
        submit(&mut board, &alice, Request::Redo).unwrap();
        assert_eq!(x_of(&board, "a"), 30.0);
    }

    #[test]
    fn undoing_my_move_leaves_a_later_move_by_someone_else_alone() {
        let mut board = Board::new();
        let (alice, bob) = (user("alice"), user("bob"));
        submit(&mut board, &alice, Request::AddStroke(line("a", 0.0))).unwrap();
        let mine = moved(&board, "a", 10.0);
        submit(&mut board, &alice, Request::Update(vec![mine])).unwrap();
        let theirs = moved(&board, "a", 5.0);
        submit(&mut board, &bob, Request::Update(vec![theirs])).unwrap();
        submit(&mut board, &alice, Request::Undo).unwrap();
        assert_eq!(x_of(&board, "a"), 15.0, "bob's move stands");
        submit(&mut board, &bob, Request::Undo).unwrap();
        assert_eq!(x_of(&board, "a"), 10.0);
    }

    #[test]
    fn updates_must_name_visible_strokes_of_the_same_kind_and_change_something() {
        let mut board = Board::new();
        let alice = user("alice");
        submit(&mut board, &alice, Request::AddStroke(line("a", 0.0))).unwrap();
        let same = board.get(&StrokeId::parse("a").unwrap()).unwrap().clone();
        let reject = |board: &Board, strokes: Vec<Stroke>| {
            board
                .resolve(&alice, Request::Update(strokes))
                .unwrap_err()
                .code
        };
        assert_eq!(reject(&board, vec![same.clone()]), ErrorCode::Rejected);
        assert_eq!(
            reject(&board, vec![line("ghost", 0.0)]),
            ErrorCode::Rejected
        );
        let mut other_kind = same.translated(1.0, 0.0);
        other_kind.kind = crate::protocol::StrokeKind::Line;
        assert_eq!(reject(&board, vec![other_kind]), ErrorCode::Rejected);
        let twice = same.translated(1.0, 0.0);
        assert_eq!(
            reject(&board, vec![twice.clone(), twice]),
            ErrorCode::Rejected
        );
        submit(&mut board, &alice, Request::Erase(vec![same.id.clone()])).unwrap();
        assert_eq!(
            reject(&board, vec![same.translated(1.0, 0.0)]),
            ErrorCode::Rejected
        );
    }

    /// A deterministic mix of every kind of request by three authors
    /// (refused ones are skipped, as the server would).
    fn random_requests(board: &mut Board, seed: u64, count: usize) {
        let mut state = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let mut next = |bound: u64| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 33) % bound
        };
        let authors = [user("alice"), user("bob"), user("carol")];
        for _ in 0..count {
            let author = &authors[next(3) as usize];
            let visible: Vec<Stroke> = board.visible_strokes().cloned().collect();
            let pick = |n: u64| visible.get(n as usize % visible.len().max(1)).cloned();
            let fresh = |n: u64| line(&format!("s{}-{}", board.seq(), n), n as f32);
            let request = match next(8) {
                0 | 1 => Request::AddStroke(fresh(next(1000))),
                2 => Request::AddStrokes(vec![fresh(1), fresh(2)]),
                3 => match pick(next(1000)) {
                    Some(stroke) => Request::Update(vec![stroke.translated(3.0, 0.0)]),
                    None => continue,
                },
                4 => match pick(next(1000)) {
                    Some(mut stroke) => {
                        stroke.z = if next(2) == 0 {
                            board.bottom_z() - 1.0
                        } else {
                            board.top_z() + 1.0
                        };
                        Request::Update(vec![stroke])
                    }
                    None => continue,
                },
                5 => match pick(next(1000)) {
                    Some(stroke) => Request::Erase(vec![stroke.id]),
                    None => continue,
                },
                6 => Request::Undo,
                _ if next(4) == 0 => Request::Clear,
                _ => Request::Redo,
            };
            let _ = submit(board, author, request);
        }
    }

    #[test]
    fn a_rolled_back_run_leaves_the_board_as_it_was() {
        for seed in 0..300 {
            let mut board = Board::new();
            random_requests(&mut board, seed, (seed % 40) as usize);
            let before = board.clone();
            board.speculate();
            random_requests(&mut board, seed + 1_000, 1 + (seed % 7) as usize);
            let applied = board.clone();
            board.roll_back();
            assert_eq!(board, before, "seed {seed}");
            // Confirming instead keeps the run, and a later roll back is a no-op.
            let mut kept = before.clone();
            kept.speculate();
            random_requests(&mut kept, seed + 1_000, 1 + (seed % 7) as usize);
            kept.confirm();
            kept.roll_back();
            let mut applied = applied;
            applied.confirm();
            assert_eq!(kept, applied, "seed {seed}");
        }
    }

    #[test]
    fn a_board_forgets_the_history_of_its_longest_idle_author_only() {
        let mut board = Board::new();
        let author = |i: usize| user(&format!("author{i}"));
        for i in 0..REMEMBERED_AUTHORS {
            let stroke = line(&format!("s{i}"), i as f32);
            submit(&mut board, &author(i), Request::AddStroke(stroke)).unwrap();
        }
        // The first author draws again: now the second is the longest idle.
        submit(
            &mut board,
            &author(0),
            Request::AddStroke(line("again", 0.0)),
        )
        .unwrap();
        let effects = board.effects.len();
        let before = board.clone();
        board.speculate();
        let newcomer = user("newcomer");
        submit(&mut board, &newcomer, Request::AddStroke(line("new", 0.0))).unwrap();
        assert_eq!(board.users.len(), REMEMBERED_AUTHORS);
        assert_eq!(board.effects.len(), effects, "one effect in, one out");
        // Taking the run back brings the forgotten history back too.
        board.roll_back();
        assert_eq!(board, before);
        submit(&mut board, &newcomer, Request::AddStroke(line("new", 0.0))).unwrap();

        let refused = submit(&mut board, &author(1), Request::Undo).unwrap_err();
        assert_eq!(refused.code, ErrorCode::Rejected, "{refused}");
        for still in [author(0), author(2), newcomer] {
            assert!(board.can_undo(&still), "{still:?}");
        }
        // What the forgotten author drew stays on the board.
        assert!(board.is_visible(&StrokeId::parse("s1").unwrap()));
    }

    #[test]
    fn what_a_board_weighs_follows_adds_updates_roll_backs_and_loads() {
        let weighed =
            |board: &Board| -> usize { board.items().iter().map(|i| item_bytes(&i.stroke)).sum() };
        let mut long = line("a", 0.0);
        long.points = (0..50).map(|i| Point::new(i as f32, 0.0, 0.5)).collect();
        let mut board = Board::new();
        let alice = user("alice");
        submit(&mut board, &alice, Request::AddStroke(line("a", 0.0))).unwrap();
        submit(&mut board, &alice, Request::AddStroke(line("b", 1.0))).unwrap();
        assert_eq!(board.bytes(), weighed(&board));
        let before = board.bytes();
        board.speculate();
        submit(&mut board, &alice, Request::Update(vec![long.clone()])).unwrap();
        assert_eq!(board.bytes(), weighed(&board));
        assert_eq!(board.bytes(), before + 48 * 12);
        board.roll_back();
        assert_eq!(board.bytes(), before);
        // Erasing keeps the item (and its weight); undo restores old states.
        submit(&mut board, &alice, Request::Update(vec![long])).unwrap();
        submit(
            &mut board,
            &alice,
            Request::Erase(vec![StrokeId::parse("b").unwrap()]),
        )
        .unwrap();
        submit(&mut board, &alice, Request::Undo).unwrap();
        submit(&mut board, &alice, Request::Undo).unwrap();
        assert_eq!(board.bytes(), before);
        assert_eq!(board.bytes(), weighed(&board));
        let mut loaded: Board =
            serde_json::from_str(&serde_json::to_string(&board).unwrap()).unwrap();
        loaded.reindex();
        assert_eq!(loaded.bytes(), board.bytes());
    }

    #[test]
    fn a_rolled_back_run_restores_the_undo_history_it_pushed_out() {
        let mut board = Board::new();
        let alice = user("alice");
        for i in 0..UNDO_DEPTH {
            submit(
                &mut board,
                &alice,
                Request::AddStroke(line(&format!("s{i}"), i as f32)),
            )
            .unwrap();
        }
        let before = board.clone();
        board.speculate();
        // Pushes the oldest undoable operation (and its effect) out.
        submit(&mut board, &alice, Request::AddStroke(line("over", 0.0))).unwrap();
        submit(&mut board, &alice, Request::Undo).unwrap();
        board.roll_back();
        assert_eq!(board, before);
    }

    #[test]
    fn restacking_changes_the_drawing_order_and_is_undoable() {
        let mut board = Board::new();
        let alice = user("alice");
        for (i, id) in ["a", "b", "c"].iter().enumerate() {
            submit(&mut board, &alice, Request::AddStroke(line(id, i as f32))).unwrap();
        }
        let mut to_back = board.get(&StrokeId::parse("c").unwrap()).unwrap().clone();
        to_back.z = board.bottom_z() - 1.0;
        submit(&mut board, &alice, Request::Update(vec![to_back])).unwrap();
        assert_eq!(visible_ids(&board), vec!["c", "a", "b"]);
        let mut to_front = board.get(&StrokeId::parse("a").unwrap()).unwrap().clone();
        to_front.z = board.top_z() + 1.0;
        submit(&mut board, &alice, Request::Update(vec![to_front])).unwrap();
        assert_eq!(visible_ids(&board), vec!["c", "b", "a"]);
        submit(&mut board, &alice, Request::Undo).unwrap();
        submit(&mut board, &alice, Request::Undo).unwrap();
        assert_eq!(visible_ids(&board), vec!["a", "b", "c"]);
        // A replica built from the snapshot has the same order.
        let replica = Board::from_snapshot(board.snapshot());
        assert_eq!(visible_ids(&replica), visible_ids(&board));
        assert_eq!(replica.top_z(), board.top_z());
    }

    #[test]
    fn keys_stay_within_their_limit_and_the_order_of_adding_still_stacks() {
        let mut board = Board::new();
        let alice = user("alice");
        submit(&mut board, &alice, Request::AddStroke(line("a", 0.0))).unwrap();
        let mut highest = board.get(&StrokeId::parse("a").unwrap()).unwrap().clone();
        highest.z = limits::MAX_Z;
        submit(&mut board, &alice, Request::Update(vec![highest])).unwrap();
        submit(&mut board, &alice, Request::AddStroke(line("b", 1.0))).unwrap();
        submit(
            &mut board,
            &alice,
            Request::AddStrokes(vec![line("c", 2.0), line("d", 3.0)]),
        )
        .unwrap();
        assert_eq!(visible_ids(&board), vec!["a", "b", "c", "d"]);
        for stroke in board.visible_strokes() {
            assert!(stroke.z <= limits::MAX_Z, "{} at {}", stroke.id, stroke.z);
            // So any of them can still be updated (here: restyled in place).
            let mut restyled = stroke.clone();
            restyled.opacity = 0.5;
            let message = crate::protocol::ClientMessage::Update {
                op_id: OpId::parse("check").unwrap(),
                strokes: vec![restyled],
            };
            assert_eq!(message.validate(), Ok(()));
        }
        let replica = Board::from_snapshot(board.snapshot());
        assert_eq!(visible_ids(&replica), visible_ids(&board));
    }

    /// What a board shows: its visible items, in drawing order.
    fn shown(board: &Board) -> Vec<Stroke> {
        board.visible_strokes().cloned().collect()
    }

    /// A board that went through every kind of change, and a copy of it
    /// after each operation (index = sequence number).
    fn eventful_board() -> (Board, Vec<Board>) {
        let (alice, bob) = (user("alice"), user("bob"));
        let mut board = Board::new();
        let mut versions = vec![board.clone()];
        let mut step = |board: &mut Board, author: &UserId, request: Request| {
            submit(board, author, request).unwrap();
            versions.push(board.clone());
        };
        step(&mut board, &alice, Request::AddStroke(line("a", 0.0)));
        step(
            &mut board,
            &bob,
            Request::AddStrokes(vec![line("b", 1.0), line("c", 2.0)]),
        );
        let a_moved = moved(&board, "a", 5.0);
        step(&mut board, &alice, Request::Update(vec![a_moved]));
        step(
            &mut board,
            &bob,
            Request::Erase(vec![StrokeId::parse("b").unwrap()]),
        );
        let mut c_below = board.get(&StrokeId::parse("c").unwrap()).unwrap().clone();
        c_below.z = -1.0;
        step(&mut board, &bob, Request::Update(vec![c_below]));
        step(&mut board, &alice, Request::Undo);
        step(&mut board, &alice, Request::Clear);
        step(&mut board, &bob, Request::AddStroke(line("d", 3.0)));
        step(
            &mut board,
            &alice,
            Request::NameVersion("after the clear".into()),
        );
        let d_moved = moved(&board, "d", -2.0);
        step(&mut board, &bob, Request::Update(vec![d_moved]));
        (board, versions)
    }

    #[test]
    fn a_restore_makes_the_board_exactly_what_it_was_and_undoing_it_takes_it_back() {
        let (board, versions) = eventful_board();
        let carol = user("carol");
        for version in &versions[..versions.len() - 1] {
            let mut restored = board.clone();
            let op = restored
                .commit_restore(&carol, &OpId::parse("r1").unwrap(), version)
                .unwrap_or_else(|e| panic!("restoring {}: {e}", version.seq()));
            assert!(matches!(op.change, Change::Restore { version: v, .. } if v == version.seq()));
            assert_eq!(
                shown(&restored),
                shown(version),
                "restored {}",
                version.seq()
            );
            // A client applying the operation gets the same.
            let mut replica = board.clone();
            replica.apply(&op);
            assert_eq!(shown(&replica), shown(version));
            // Undone, the board is what it was before the restore.
            submit(&mut restored, &carol, Request::Undo).unwrap();
            assert_eq!(shown(&restored), shown(&board), "undoing {}", version.seq());
        }
    }

    #[test]
    fn restoring_the_version_the_board_is_is_refused() {
        let (board, versions) = eventful_board();
        let same = versions.last().unwrap();
        assert_eq!(
            board.resolve_restore(same).unwrap_err().code,
            ErrorCode::Rejected
        );
        // The version named is the one before the last move: not the same.
        assert!(board.resolve_restore(&versions[versions.len() - 2]).is_ok());
    }

    #[test]
    fn a_name_changes_nothing_and_is_not_what_undo_takes_back() {
        let alice = user("alice");
        let mut board = Board::new();
        submit(&mut board, &alice, Request::AddStroke(line("a", 0.0))).unwrap();
        let before = shown(&board);
        submit(&mut board, &alice, Request::NameVersion("draft".into())).unwrap();
        assert_eq!(shown(&board), before);
        assert_eq!(board.seq(), 2);
        let undo = submit(&mut board, &alice, Request::Undo).unwrap();
        assert!(matches!(undo.change, Change::Undo { target: 1, .. }));
        assert!(shown(&board).is_empty());
    }

    #[test]
    fn older_clients_get_a_restore_and_a_name_as_changes_they_know_that_do_the_same() {
        let (board, versions) = eventful_board();
        let mut restored = board.clone();
        let op = restored
            .commit_restore(&user("carol"), &OpId::parse("r1").unwrap(), &versions[3])
            .unwrap();
        let older = op
            .change
            .for_protocol(crate::protocol::HISTORY_SINCE - 1)
            .unwrap();
        assert!(matches!(older, Change::Undo { target: 0, .. }));
        // A version 3 client's board keeps no history; the server's does.
        let mut client = board.clone();
        client.apply(&Operation {
            change: older,
            ..op.clone()
        });
        assert_eq!(shown(&client), shown(&versions[3]));
        assert!(op
            .change
            .for_protocol(crate::protocol::HISTORY_SINCE)
            .is_none());
        let name = Change::NameVersion { name: "v".into() };
        assert!(matches!(
            name.for_protocol(3),
            Some(Change::Erase { stroke_ids }) if stroke_ids.is_empty()
        ));
    }
}

/// `docs/protocol.md` must stay true: its examples decode, and its complete
/// exchange is what this state machine produces.
#[cfg(test)]
mod documentation {
    use super::*;
    use crate::protocol::{ClientMessage, ServerMessage};

    const PROTOCOL_MD: &str = include_str!("../docs/protocol.md");

    /// Every JSON value in the document's `json` blocks (values may span
    /// lines), and every message of the complete exchange.
    fn examples() -> Vec<String> {
        let mut examples = Vec::new();
        let mut in_json = false;
        let mut buffer = String::new();
        for line in PROTOCOL_MD.lines() {
            if line.starts_with("```") {
                in_json = line == "```json";
                buffer.clear();
                continue;
            }
            if let Some(json) = line
                .strip_prefix("C: ")
                .or_else(|| line.strip_prefix("S: "))
            {
                examples.push(json.to_owned());
            } else if in_json {
                buffer.push_str(line);
                let depth = buffer.matches(['{', '[']).count() as i64
                    - buffer.matches(['}', ']']).count() as i64;
                if depth == 0 && !buffer.trim().is_empty() {
                    examples.push(std::mem::take(&mut buffer));
                }
            }
        }
        examples
    }

    #[test]
    fn every_example_decodes() {
        let examples = examples();
        for example in &examples {
            let decodes = ClientMessage::decode(example).is_ok()
                || ServerMessage::decode(example).is_ok()
                || serde_json::from_str::<crate::protocol::Stroke>(example)
                    .is_ok_and(|s| s.validate().is_ok())
                || crate::exchange::BoardFile::parse(example).is_ok();
            assert!(decodes, "example does not decode: {example}");
        }
        assert!(
            examples.len() > 35,
            "only {} examples found",
            examples.len()
        );
    }

    #[test]
    fn the_complete_exchange_is_what_the_board_does() {
        let exchange = PROTOCOL_MD
            .split("## A complete exchange")
            .nth(1)
            .expect("the exchange section");
        let mut board = Board::new();
        let alice = UserId::parse("alice").unwrap();
        let mut expected_ops = Vec::new();
        let mut produced_ops = Vec::new();
        for line in exchange.lines().take_while(|l| !l.starts_with("## ")) {
            if let Some(json) = line.strip_prefix("C: ") {
                let message = ClientMessage::decode(json).unwrap();
                if let Some((op_id, request)) = message.into_request() {
                    produced_ops.push(board.commit(&alice, &op_id, request).unwrap());
                }
            } else if let Some(json) = line.strip_prefix("S: ") {
                if let ServerMessage::Op { op } = ServerMessage::decode(json).unwrap() {
                    expected_ops.push(op);
                }
            }
        }
        assert!(expected_ops.len() >= 5);
        // Times are the room's clock, never the board's: stamped, in order.
        assert!(expected_ops
            .windows(2)
            .all(|w| 0 < w[0].at && w[0].at <= w[1].at));
        for (produced, expected) in produced_ops.iter_mut().zip(&expected_ops) {
            produced.at = expected.at;
        }
        assert_eq!(produced_ops, expected_ops);
    }
}
