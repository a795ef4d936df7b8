//! The room's decisions, with no I/O: a synchronous state machine.
//!
//! [`RoomState::handle`] takes one [`Event`] (a command from a connection, a
//! frame from the bus, the answer of the store, the clock) and returns the
//! [`Effect`]s the room task must carry out: publish on the bus, start a
//! store job. It owns the board, the order of durable requests, resend
//! dedup, presence, and the per-connection queues (bounded, filled with
//! `try_send`, so writing to them never waits). Because it never awaits
//! anything, a slow store or bus cannot stop it: while an append is in flight
//! it keeps relaying previews, cursors and presence, and queues durable
//! requests and joins behind the append.
//!
//! Guarantees kept here (and unit-tested below against fake queues):
//! - **Stored before seen**: an `op` and its `ack` go out only after the
//!   store said yes; joins wait while the board holds unstored operations.
//! - **One order**: at most one store job for the board at a time; requests
//!   queued meanwhile are stored together (group commit) after it; operations
//!   relayed by other instances meanwhile are applied after it.
//! - **Idempotent resends**: a request whose op id is already applied is
//!   acknowledged again, not applied again.
//! - **Per-connection order**: a connection's `draft_end` and `preview_end`
//!   wait behind its durable requests (and whatever it sends after them waits
//!   behind them), so an item never jumps back before its `op` arrives.
//! - **Encodings off the task**: a join that needs the board's snapshot
//!   encoded waits for [`Effect::Encode`] (the blocking pool) while the
//!   board goes on; it gets the encoding with the stored operations since
//!   (`state/encodings.rs`).
//! - **Links**: once the board's edit link was rotated, only its current
//!   key lets an editor join (checked at the welcome); when the board's
//!   access tokens change, every editor here whose key no longer does is
//!   told (`forbidden`) and closed (4403). They are read again when a
//!   notice may have been lost (a resubscription, a lag), every minute
//!   while anyone is here, and soon after a read failed.
//! - **History**: every operation is stamped with the time the room numbered
//!   it and its author's name. A restore waits, at the head of the queue,
//!   for the version it brings back to be read ([`StoreJob::Version`]),
//!   then is resolved against the board like any request. Reads of history
//!   go beside everything else ([`Effect::Read`]), one per client at a
//!   time and [`MAX_READS`] per room.
//! - **Outage holding**: when the store fails and the board cannot be
//!   reloaded, durable requests are held unanswered, joins are turned away,
//!   and a reload is retried every few seconds; then what was held is stored
//!   in order.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::ws::{CloseFrame, Message};
use tokio::sync::mpsc::error::TrySendError;
use tracing::{debug, info, warn};

use super::api::{ConnectionId, JoinAnswer, JoinRequest, Outbox};
use super::history::HistoryRead;
use super::limits::BoardLimits;
use crate::board::Board;
use crate::protocol::packed::PartPlan;
use crate::protocol::{
    close_code, limits, BoardId, Change, ClientMessage, EncodedWelcome, ErrorCode, OpId, Operation,
    Person, ProtocolError, Request, ServerMessage, StrokeId, UserId, HISTORY_SINCE, IMAGES_SINCE,
};
use crate::server::bus::{BusEvent, InstanceId, Payload, Roster};
use crate::server::metrics::{metrics, Lane};
use crate::server::store::{Access, StoreError, FORGOTTEN};
use crate::server::Frame;

mod encodings;

pub use encodings::{Encoded, Format};
use encodings::{Encoding, Encodings, MAX_OPS_AFTER_ENCODING};

/// Operations kept in memory to answer reconnects without a snapshot.
pub const RECENT_OPS: usize = 2_000;
/// A reconnect this many operations behind or less is answered with the
/// operations from the store; further behind, with a snapshot.
pub const MAX_STORE_CATCH_UP: u64 = 5_000;
/// A packed snapshot travels in binary frames of this size (the last one
/// shorter); see `snapshot_chunks`.
pub const SNAPSHOT_FRAME_BYTES: usize = 1024 * 1024;
/// Most binary frames a packed snapshot takes: half a client's queue.
const MAX_SNAPSHOT_FRAMES: usize = super::api::CLIENT_QUEUE_CAPACITY / 2;
// With room beside them for the welcome and the presence.
const _: () = assert!(MAX_SNAPSHOT_FRAMES + 2 < super::api::CLIENT_QUEUE_CAPACITY);
/// A snapshot is written after this many operations (and when the room closes).
pub const SNAPSHOT_INTERVAL: u64 = 500;
/// Most durable requests stored with one append.
pub const MAX_BATCH: usize = 64;
/// How often a batch is retried after losing a race to another instance.
const MAX_ATTEMPTS: usize = 12;
/// Upper bound of the random pause before such a retry, so that two rooms
/// racing for the same board do not keep colliding in lockstep.
const MAX_RETRY_JITTER_MS: u64 = 25;
/// A room tells other instances who is connected here this often...
const ROSTER_INTERVAL: Duration = Duration::from_secs(5);
/// ...and forgets another instance's roster it has not heard for this long
/// (that instance died, or the bus is down).
const ROSTER_TTL: Duration = Duration::from_secs(15);
/// After its subscription lagged, a room reads the store for operations it
/// may have missed at most this often (the next relayed operation or roster
/// reveals a gap anyway).
const LAG_CATCH_UP_INTERVAL: Duration = Duration::from_secs(1);
/// Most durable requests a room holds during a store outage; beyond that
/// they are refused with `storage_unavailable` (clients keep and resend them).
const MAX_HELD: usize = 10_000;
/// How often a room in a store outage tries to reload.
const OUTAGE_RETRY: Duration = Duration::from_secs(2);
/// Operations from other instances kept while the store is busy; beyond
/// that they are dropped and read from the store afterwards.
const MAX_RELAYED_WAITING: usize = 4_096;
/// Ephemeral messages of one connection kept behind its durable requests;
/// beyond that they are relayed at once, out of order.
const MAX_DEFERRED_EPHEMERAL: usize = 512;
/// A room with people in it reads the board's access tokens this often,
/// besides when told they changed: a rotation's notice lost on the bus
/// (dropped under load, or while Redis was away) reaches the room this
/// late at worst. (A resubscription or a lag reads them at once.)
const ACCESS_REFRESH: Duration = Duration::from_secs(60);
/// The people list goes out at most this often per hundred people on the
/// board: every `presence` carries the whole list, so a lecture hall filling
/// up would otherwise send everyone a growing list once per arrival.
const PRESENCE_INTERVAL: Duration = Duration::from_millis(100);
/// History reads one room runs at once (each client one at a time): more
/// are refused `rate_limited`, so that people scrubbing through a big
/// board's history cannot queue up unbounded store work.
pub const MAX_READS: usize = 4;

/// How long after one people list the next may go out.
fn presence_interval(people: usize) -> Duration {
    PRESENCE_INTERVAL * (1 + u32::try_from(people / 100).unwrap_or(u32::MAX))
}

/// One durable request: who sent it, its op id, what it asks.
pub type Submission = (ConnectionId, OpId, Request);

/// Something that happened to the room.
pub enum Event {
    Join(JoinRequest, JoinAnswer),
    Leave(ConnectionId),
    Submit(Submission),
    /// `preview`, `preview_end`, `draft`, `draft_end`, `cursor` or `profile`.
    Ephemeral(ConnectionId, ClientMessage),
    /// Something from the bus (the task resubscribes on `Closed` itself and
    /// passes `Resync` instead).
    Bus(BusEvent),
    /// The answer to the store job the room asked for last.
    Stored(StoreAnswer),
    /// Time passed (see [`RoomState::next_deadline`]).
    Tick,
    /// The encoding asked for with [`Effect::Encode`].
    Encoded(Encoded),
    /// The board's access tokens changed in the store (rotated on this
    /// instance; other instances say so on the bus).
    AccessChanged,
    /// The board's access tokens, read as [`Effect::ReadAccess`] asked.
    Access(Result<Access, StoreError>),
    /// A client asks to read history (`history`, `board_at`).
    Read(ConnectionId, ClientMessage),
    /// The answer to an [`Effect::Read`]: the frames to send that client,
    /// or the error.
    ReadDone(ConnectionId, Result<Vec<Message>, ProtocolError>),
}

/// Work for the store; at most one is in flight for a room.
#[derive(Debug, PartialEq)]
pub enum StoreJob {
    /// Store these operations (consecutive, following the stored ones).
    Append(Vec<Operation>),
    /// Load the board, and read the operations after `base_seq`.
    Reload { base_seq: u64 },
    /// Read the operations after `after`.
    OpsAfter { after: u64 },
    /// Read the board as it was after operation `seq` (for a restore).
    Version { seq: u64 },
}

/// The store's answer to a [`StoreJob`].
pub enum StoreAnswer {
    Appended(Result<(), StoreError>),
    Reloaded(Result<(Board, Vec<Operation>), StoreError>),
    OpsAfter(Result<Vec<Operation>, StoreError>),
    Version(Result<Board, StoreError>),
}

/// What the room task must do.
#[derive(Debug)]
pub enum Effect {
    /// Hand this to the bus (never waits).
    Publish(Payload),
    /// Start this store job and answer with [`Event::Stored`].
    Store(StoreJob),
    /// Save this board as the snapshot, in the background.
    SaveSnapshot(Arc<Board>),
    /// Encode this board's snapshot for welcomes, on the blocking pool
    /// ([`Encoded::new`]), and answer with [`Event::Encoded`]. A newer
    /// one replaces one still running (its answer would be stale).
    Encode {
        board: Arc<Board>,
        format: Format,
        epoch: u64,
    },
    /// Read the board's access tokens from the store, beside everything
    /// else, and answer with [`Event::Access`].
    ReadAccess,
    /// Answer this history read for client `conn`, beside everything else
    /// (`history::answer`), with [`Event::ReadDone`].
    Read {
        conn: ConnectionId,
        read: HistoryRead,
    },
}

struct Client {
    user: UserId,
    name: String,
    /// Came through a view link (its connection lets no change through).
    viewer: bool,
    /// Whose view this connection follows (`follow`), for the people list.
    following: Option<UserId>,
    /// The edit key it joined with (see [`Access::lets_edit`]).
    key: Option<String>,
    /// The protocol version it speaks: older than [`IMAGES_SINCE`], it gets
    /// image items as placeholders; older than [`HISTORY_SINCE`], restores
    /// and names as operations it knows.
    protocol: u32,
    /// Whether a history read of this client's is running.
    reading: bool,
    outbox: Outbox,
    /// Whether this client has a draft out, ended for everyone if it leaves.
    drafting: bool,
    /// Strokes this client is drawing, oldest first, with the points
    /// relayed so far; ended for everyone if it leaves. At most
    /// [`limits::MAX_OPEN_PREVIEWS`], each at most a stroke's points.
    previews: VecDeque<(StrokeId, usize)>,
    /// Ephemeral messages waiting for this client's durable requests.
    deferred: VecDeque<ClientMessage>,
}

/// Whether more points of a preview may be relayed.
enum PreviewRoom {
    Fits,
    /// The preview is past a stroke's points already: not relayed.
    Full,
    /// A new preview, for which the oldest open one made room.
    Evicts(StrokeId),
}

impl Client {
    /// Counts `points` more of the preview of `stroke`. A stroke stored as
    /// one has at most [`limits::MAX_STROKE_POINTS`]: more would only grow
    /// everyone's copy of the preview.
    fn open_preview(&mut self, stroke: &StrokeId, points: usize) -> PreviewRoom {
        if let Some((_, relayed)) = self.previews.iter_mut().find(|(open, _)| open == stroke) {
            if *relayed + points > limits::MAX_STROKE_POINTS {
                return PreviewRoom::Full;
            }
            *relayed += points;
            return PreviewRoom::Fits;
        }
        let evicted = if self.previews.len() >= limits::MAX_OPEN_PREVIEWS {
            self.previews.pop_front().map(|(oldest, _)| oldest)
        } else {
            None
        };
        self.previews.push_back((stroke.clone(), points));
        evicted.map_or(PreviewRoom::Fits, PreviewRoom::Evicts)
    }
}

/// What the store is doing for the room.
enum Work {
    Idle,
    /// An append of `staged` (resolved from `batch`) is in flight; the
    /// board already holds its operations, speculatively (`Board::speculate`).
    Appending {
        batch: Vec<Submission>,
        staged: Vec<Staged>,
        base_seq: u64,
        attempt: usize,
    },
    /// The board is being replaced by the store's; then `then`.
    Reloading {
        base_seq: u64,
        then: AfterReload,
    },
    /// Operations after `after` are being read; then `purpose`.
    Reading {
        after: u64,
        purpose: ReadPurpose,
    },
    /// The version the restore at the head of the queue brings back is
    /// being read.
    ReadingVersion {
        seq: u64,
    },
    /// A batch that lost a race waits a random moment before trying again.
    Backoff {
        batch: Vec<Submission>,
        attempt: usize,
        until: Instant,
    },
}

enum AfterReload {
    /// The store failed: hold the batch until it is back.
    Hold { batch: Vec<Submission> },
    /// The outage may be over: store what was held.
    Recover { held: Vec<Submission> },
}

enum ReadPurpose {
    /// Apply what other instances stored (a gap in what the bus relayed).
    CatchUp,
    /// Before retrying a batch: apply what the winner stored.
    Retry {
        batch: Vec<Submission>,
        attempt: usize,
    },
    /// A client coming back from further than memory reaches.
    Join {
        request: JoinRequest,
        answer: JoinAnswer,
    },
}

/// The store failed and the board could not be reloaded, so the board may
/// hold changes that are not stored. Until a reload succeeds the room keeps
/// relaying live traffic (previews, presence) but holds durable requests
/// without answering them (their clients show them as "saving…"), turns away
/// joins, and ignores stored operations from other instances; then it
/// reloads and processes what it held.
struct StoreOutage {
    /// The board's sequence number before the failed batch.
    base_seq: u64,
    held: Vec<Submission>,
    next_retry: Instant,
}

/// One request of a batch after resolution.
enum Staged {
    /// A new operation, applied speculatively, to be stored.
    Op { conn: ConnectionId, op: Operation },
    /// Already stored earlier: acknowledge again.
    Ack {
        conn: ConnectionId,
        op_id: OpId,
        seq: u64,
    },
    /// Refused: send this error.
    Refused { conn: ConnectionId, frame: Frame },
}

/// A snapshot sent in parts (version 3) as binary frames: what is between
/// the parts' headers is slices of the shared body, but a view's part is
/// many runs of bytes (a row of squares each), and many small frames cost
/// the browser more than few big ones (see [`snapshot_chunks`]), so pieces
/// are gathered into frames of [`snapshot_frame_bytes`], copied; only runs
/// of a whole frame or more go out as slices. (A join may so hold a copy
/// of the snapshot until its frames are sent, as version 1's text does.)
pub(super) fn part_frames(parts: &[PartPlan], body: &Bytes) -> Vec<Bytes> {
    let len: usize = parts.iter().map(PartPlan::len).sum();
    let size = snapshot_frame_bytes(len);
    let pieces = parts.iter().flat_map(|part| {
        std::iter::once(Bytes::copy_from_slice(&part.header))
            .chain(part.ranges.iter().map(|range| body.slice(range.clone())))
    });
    let mut frames = Vec::with_capacity(len.div_ceil(size));
    let mut gathering: Vec<u8> = Vec::new();
    for mut piece in pieces {
        if !gathering.is_empty() || piece.len() < size {
            let take = (size - gathering.len()).min(piece.len());
            gathering.extend_from_slice(&piece.split_to(take));
            if gathering.len() == size {
                frames.push(Bytes::from(std::mem::take(&mut gathering)));
            }
        }
        // Only once the gathered frame went out (it was filled up).
        while piece.len() >= size {
            frames.push(piece.split_to(size));
        }
        gathering.extend_from_slice(&piece);
    }
    if !gathering.is_empty() {
        frames.push(Bytes::from(gathering));
    }
    frames
}

/// A packed snapshot as the binary frames that carry it: slices of the
/// shared bytes (no copies). A socket's write buffer grows to the largest
/// frame written and keeps that capacity while the connection lasts, so one
/// 19 MB frame would cost every person who opened a big board 19 MB for as
/// long as they stay; frames of [`SNAPSHOT_FRAME_BYTES`] cost a megabyte.
/// (Smaller frames cost the browser more: Chromium took 0.4 s to receive
/// 10.6 MB in frames of 256 KiB, 0.25 s in frames of 1 MiB.) Boards too big
/// for [`MAX_SNAPSHOT_FRAMES`] of them get bigger frames rather than more,
/// so the client's queue always has room.
fn snapshot_chunks(packed: Bytes) -> impl Iterator<Item = Bytes> {
    let len = packed.len();
    let size = snapshot_frame_bytes(len);
    (0..len.div_ceil(size)).map(move |i| packed.slice(i * size..((i + 1) * size).min(len)))
}

/// How big the binary frames of a packed snapshot of `len` bytes are.
fn snapshot_frame_bytes(len: usize) -> usize {
    SNAPSHOT_FRAME_BYTES.max(len.div_ceil(MAX_SNAPSHOT_FRAMES))
}

/// Operations as a client speaking `protocol` reads them.
pub(crate) fn for_protocol(ops: Vec<Operation>, protocol: u32) -> Vec<Operation> {
    if protocol >= IMAGES_SINCE {
        return ops;
    }
    ops.into_iter()
        .map(|op| op.for_protocol(protocol).unwrap_or(op))
        .collect()
}

/// A `draft` frame with its image items as placeholders, if it is one
/// and has any (what clients older than [`IMAGES_SINCE`] get).
fn draft_with_placeholders(frame: &Frame) -> Option<Frame> {
    // The tag comes first (see `tag_first`): other frames are not decoded.
    if !frame.starts_with(r#"{"type":"draft""#) || !frame.contains(r#""kind":"image""#) {
        return None;
    }
    let ServerMessage::Draft { author, strokes } = ServerMessage::decode(frame).ok()? else {
        return None;
    };
    let strokes = strokes
        .iter()
        .map(|stroke| stroke.as_placeholder().into_owned())
        .collect();
    Some(encode(&ServerMessage::Draft { author, strokes }))
}

/// A restore whose version could not be read (named, so it is resent).
fn version_unread() -> ProtocolError {
    ProtocolError::new(
        ErrorCode::StorageUnavailable,
        "the version could not be read; resend the restore",
    )
}

/// A tiny xorshift generator for retry jitter; seeded per instance so that
/// instances differ.
struct Jitter(u64);

impl Jitter {
    fn next_below(&mut self, bound: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % bound.max(1)
    }
}

/// One entry per user id, sorted, so that every instance lists people alike
/// (someone with several tabs under different names is listed once).
fn distinct(people: impl Iterator<Item = Person>) -> Vec<Person> {
    let mut people: Vec<Person> = people.collect();
    people.sort();
    people.dedup_by(|later, earlier| {
        let same = later.user == earlier.user;
        // Someone following in one of their tabs is shown following.
        if same && earlier.following.is_none() {
            earlier.following = later.following.take();
        }
        same
    });
    people
}

fn encode(message: &ServerMessage) -> Frame {
    message.encode().into()
}

fn error_frame(error: &ProtocolError, op_id: Option<OpId>) -> Frame {
    encode(&ServerMessage::Error {
        code: error.code,
        message: error.message.clone(),
        op_id,
    })
}

/// The refusal of an editor whose edit link was rotated.
fn stale_edit_link() -> ProtocolError {
    ProtocolError::new(
        ErrorCode::Forbidden,
        "this edit link was replaced; ask someone on the board for the new one",
    )
}

fn presence_message(people: Vec<Person>) -> ServerMessage {
    ServerMessage::Presence {
        count: u32::try_from(people.len()).unwrap_or(u32::MAX),
        people,
    }
}

pub struct RoomState {
    id: BoardId,
    instance: InstanceId,
    board: Board,
    /// The last stored operations, for reconnects.
    recent: VecDeque<Operation>,
    clients: HashMap<ConnectionId, Client>,
    /// Clients with deferred ephemeral messages.
    deferring: HashSet<ConnectionId>,
    /// Durable requests waiting for the store.
    queued: VecDeque<Submission>,
    /// Joins waiting for the board to hold only stored operations.
    joins: VecDeque<(JoinRequest, JoinAnswer)>,
    /// Joins waiting for an encoding of the board's snapshot.
    parked: Vec<(JoinRequest, JoinAnswer)>,
    /// Connections whose joins waited for an encoding: the board may have
    /// gone on meanwhile, and they take it with the operations since.
    waited: HashSet<ConnectionId>,
    /// Operations other instances relayed while the store was busy.
    relayed: VecDeque<(Operation, Frame)>,
    /// Whether the store may hold operations this room has not applied.
    catch_up_wanted: bool,
    work: Work,
    outage: Option<StoreOutage>,
    ops_since_snapshot: u64,
    /// The board's snapshot, encoded for welcomes.
    encodings: Encodings,
    /// The people here changed: tell other instances.
    roster_dirty: bool,
    /// The people on the board may have changed: tell the clients.
    presence_dirty: bool,
    /// When the next people list (and roster) may go out.
    people_not_before: Instant,
    /// Last people list sent to clients.
    presence_sent: Vec<Person>,
    /// People connected to other instances, by instance, with when we heard.
    remote_rosters: HashMap<InstanceId, (Vec<Person>, Instant)>,
    next_roster: Instant,
    last_lag_catch_up: Option<Instant>,
    empty_since: Option<Instant>,
    idle_timeout: Duration,
    limits: BoardLimits,
    /// Who may edit: checked on every join, and every editor here is
    /// checked again when it changes.
    access: Access,
    /// When to read the access tokens again: soon after reading them
    /// failed, else after [`ACCESS_REFRESH`] (while anyone is here).
    next_access_read: Instant,
    retry_jitter: Jitter,
    /// The version a queued restore brings back, once read.
    version: Option<Arc<Board>>,
    /// History reads running.
    reads: usize,
    /// The wall clock when the room opened, in milliseconds since the Unix
    /// epoch, and the instant it was read: operations are stamped with
    /// times counted from them, so the room's clock is only ever the one
    /// passed to [`RoomState::handle`] (and never goes back).
    opened_ms: u64,
    opened: Instant,
    /// The time of the event being handled.
    now: Instant,
    effects: Vec<Effect>,
}

impl RoomState {
    /// A room for `board` as loaded from the store, opened at `now`, when
    /// the wall clock says `now_ms` (milliseconds since the Unix epoch).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        id: BoardId,
        instance: InstanceId,
        board: Board,
        idle_timeout: Duration,
        limits: BoardLimits,
        access: Access,
        now: Instant,
        now_ms: u64,
    ) -> Self {
        Self {
            id,
            instance,
            board,
            recent: VecDeque::new(),
            clients: HashMap::new(),
            deferring: HashSet::new(),
            queued: VecDeque::new(),
            joins: VecDeque::new(),
            parked: Vec::new(),
            waited: HashSet::new(),
            relayed: VecDeque::new(),
            catch_up_wanted: false,
            work: Work::Idle,
            outage: None,
            ops_since_snapshot: 0,
            encodings: Encodings::default(),
            roster_dirty: false,
            presence_dirty: false,
            people_not_before: now,
            presence_sent: Vec::new(),
            remote_rosters: HashMap::new(),
            // The first roster goes out with the first join.
            next_roster: now + ROSTER_INTERVAL,
            last_lag_catch_up: None,
            empty_since: Some(now),
            idle_timeout,
            limits,
            access,
            next_access_read: now + ACCESS_REFRESH,
            retry_jitter: Jitter(instance.0 ^ 0x9e37_79b9_7f4a_7c15),
            version: None,
            reads: 0,
            opened_ms: now_ms,
            opened: now,
            now,
            effects: Vec::new(),
        }
    }

    /// Handles one event at time `now` and returns what the task must do.
    pub fn handle(&mut self, now: Instant, event: Event) -> Vec<Effect> {
        self.now = now;
        match event {
            Event::Join(request, answer) => self.joins.push_back((request, answer)),
            Event::Leave(conn) => self.leave(conn),
            Event::Submit(submission) => self.submit(submission),
            Event::Ephemeral(conn, message) => self.ephemeral(conn, message),
            Event::Bus(event) => self.on_bus(event),
            Event::Stored(answer) => self.on_stored(answer),
            Event::Tick => self.on_tick(),
            Event::Encoded(encoded) => self.on_encoded(encoded),
            Event::AccessChanged => self.read_access(),
            Event::Access(access) => self.on_access(access),
            Event::Read(conn, message) => self.read(conn, message),
            Event::ReadDone(conn, answer) => self.on_read_done(conn, answer),
        }
        self.advance();
        self.release_deferred();
        self.flush_people();
        self.empty_since = match (self.clients.is_empty(), self.empty_since) {
            (true, None) => Some(now),
            (true, since) => since,
            (false, _) => None,
        };
        std::mem::take(&mut self.effects)
    }

    /// When the room next needs an [`Event::Tick`].
    pub fn next_deadline(&self) -> Instant {
        let mut deadline = self.next_roster;
        if let Work::Backoff { until, .. } = &self.work {
            deadline = deadline.min(*until);
        }
        if let (Some(outage), Work::Idle) = (&self.outage, &self.work) {
            deadline = deadline.min(outage.next_retry);
        }
        // With a store job in flight its answer comes first (closing waits for it).
        if let (Some(since), Work::Idle) = (self.empty_since, &self.work) {
            deadline = deadline.min(since + self.idle_timeout);
        }
        if self.roster_dirty || self.presence_dirty {
            deadline = deadline.min(self.people_not_before);
        }
        if !self.clients.is_empty() {
            deadline = deadline.min(self.next_access_read);
        }
        deadline
    }

    /// Whether the room has been empty for the idle timeout and has nothing
    /// left to do: the task then closes it.
    pub fn should_close(&self, now: Instant) -> bool {
        matches!(self.work, Work::Idle)
            && self.joins.is_empty()
            && self.parked.is_empty()
            && self.encodings.in_flight.is_none()
            && self
                .empty_since
                .is_some_and(|since| now >= since + self.idle_timeout)
    }

    /// The board to save as the closing snapshot: only if it holds exactly
    /// what is stored and something changed since the last snapshot.
    pub fn closing_snapshot(&self) -> Option<&Board> {
        let consistent = matches!(self.work, Work::Idle) && self.outage.is_none();
        (consistent && self.ops_since_snapshot > 0).then_some(&self.board)
    }

    /// Durable requests held because the store is unreachable.
    pub fn held(&self) -> usize {
        self.outage.as_ref().map_or(0, |o| o.held.len())
    }

    #[cfg(test)]
    pub fn board(&self) -> &Board {
        &self.board
    }

    pub fn id(&self) -> &BoardId {
        &self.id
    }

    // ----- connections ------------------------------------------------------

    fn submit(&mut self, submission: Submission) {
        match self.outage.as_mut() {
            Some(outage) if outage.held.len() >= MAX_HELD => self.refuse(vec![submission]),
            Some(outage) => outage.held.push(submission),
            None => self.queued.push_back(submission),
        }
    }

    fn ephemeral(&mut self, conn: ConnectionId, message: ClientMessage) {
        // An end (`draft_end`, `preview_end`) must not overtake the operation
        // it follows, or others see the item jump back until the operation
        // arrives; and nothing may overtake a deferred end. Previews of the
        // next stroke do not wait for the last one to be stored.
        let ends = matches!(
            message,
            ClientMessage::DraftEnd | ClientMessage::PreviewEnd { .. }
        );
        let wait = self.deferring.contains(&conn) || (ends && self.has_durable_in_flight(conn));
        if wait {
            let Some(client) = self.clients.get_mut(&conn) else {
                return;
            };
            client.deferred.push_back(message);
            self.deferring.insert(conn);
            if client.deferred.len() < MAX_DEFERRED_EPHEMERAL {
                return;
            }
            // The store has been slow for a long time: give up the order
            // rather than live traffic (an item may jump back until its
            // operation arrives).
            self.relay_deferred(conn);
            return;
        }
        self.relay(conn, message);
    }

    /// Whether `conn` has durable requests queued or with the store.
    fn has_durable_in_flight(&self, conn: ConnectionId) -> bool {
        let in_work = match &self.work {
            Work::Appending { batch, .. }
            | Work::Backoff { batch, .. }
            | Work::Reloading {
                then: AfterReload::Hold { batch } | AfterReload::Recover { held: batch },
                ..
            }
            | Work::Reading {
                purpose: ReadPurpose::Retry { batch, .. },
                ..
            } => batch.iter().any(|s| s.0 == conn),
            Work::Idle | Work::Reading { .. } | Work::ReadingVersion { .. } => false,
        };
        in_work || self.queued.iter().any(|s| s.0 == conn)
    }

    /// Relays deferred ephemeral messages of clients whose durable requests
    /// are answered (or held: an outage does not stop live traffic).
    fn release_deferred(&mut self) {
        if self.deferring.is_empty() {
            return;
        }
        let ready: Vec<ConnectionId> = self
            .deferring
            .iter()
            .copied()
            .filter(|&conn| !self.has_durable_in_flight(conn))
            .collect();
        for conn in ready {
            self.relay_deferred(conn);
        }
    }

    /// Relays what `conn` had deferred, in order.
    fn relay_deferred(&mut self, conn: ConnectionId) {
        self.deferring.remove(&conn);
        let deferred = self
            .clients
            .get_mut(&conn)
            .map(|c| std::mem::take(&mut c.deferred))
            .unwrap_or_default();
        for message in deferred {
            self.relay(conn, message);
        }
    }

    fn relay(&mut self, conn: ConnectionId, message: ClientMessage) {
        let Some(client) = self.clients.get_mut(&conn) else {
            return;
        };
        let author = client.user.clone();
        let outgoing = match message {
            ClientMessage::Preview {
                stroke,
                style,
                points,
            } => {
                match client.open_preview(&stroke, points.len()) {
                    PreviewRoom::Full => return,
                    PreviewRoom::Fits => {}
                    PreviewRoom::Evicts(oldest) => {
                        // Ended for everyone, so nobody keeps more than the
                        // limit of anyone's previews either.
                        let end = encode(&ServerMessage::PreviewEnd {
                            author: author.clone(),
                            stroke: oldest,
                        });
                        self.deliver(end.clone(), Some(conn), Lane::Ephemeral);
                        self.publish(Payload::Live(end));
                    }
                }
                ServerMessage::Preview {
                    author,
                    stroke,
                    color: style.color,
                    width: style.width,
                    points,
                }
            }
            ClientMessage::PreviewEnd { stroke } => {
                client.previews.retain(|(open, _)| *open != stroke);
                ServerMessage::PreviewEnd { author, stroke }
            }
            ClientMessage::Draft { strokes } => {
                client.drafting = true;
                ServerMessage::Draft { author, strokes }
            }
            ClientMessage::DraftEnd => {
                client.drafting = false;
                ServerMessage::DraftEnd { author }
            }
            ClientMessage::Cursor { x, y, laser } => ServerMessage::Cursor {
                author,
                x,
                y,
                laser,
            },
            ClientMessage::Selection { ids } => ServerMessage::Selection { author, ids },
            ClientMessage::View { area } => ServerMessage::View { author, area },
            ClientMessage::Summon => ServerMessage::Summon { author },
            ClientMessage::Profile { name } => {
                // Not relayed as such: the people list carries names.
                client.name = name;
                self.people_changed();
                return;
            }
            ClientMessage::Follow { user } => {
                // Also carried by the people list. Following oneself is
                // following nobody.
                client.following = user.filter(|leader| *leader != author);
                self.people_changed();
                return;
            }
            _ => return,
        };
        let frame = encode(&outgoing);
        self.deliver_live(&frame, Some(conn));
        self.publish(Payload::Live(frame));
    }

    /// Sends an ephemeral frame to every local client except `except`: a
    /// `draft` with image items goes to clients older than
    /// [`IMAGES_SINCE`] with placeholders instead (decoded only then).
    fn deliver_live(&mut self, frame: &Frame, except: Option<ConnectionId>) {
        let older_here = self.clients.values().any(|c| c.protocol < IMAGES_SINCE);
        let placeholders = older_here.then(|| draft_with_placeholders(frame)).flatten();
        let older: Vec<(u32, Frame)> = placeholders
            .map(|frame| (IMAGES_SINCE, frame))
            .into_iter()
            .collect();
        self.deliver_each(frame, &older, except, Lane::Ephemeral);
    }

    /// Welcomes a join: `missed` are the operations after its `last_seq`, or
    /// `None` for a snapshot.
    fn welcome(
        &mut self,
        request: JoinRequest,
        answer: JoinAnswer,
        missed: Option<Vec<Operation>>,
    ) {
        if !request.viewer && !self.access.lets_edit(request.key.as_deref()) {
            self.waited.remove(&request.conn);
            let _ = answer.send(Err(stale_edit_link()));
            return;
        }
        let mut people = self.people();
        if let Err(refusal) = self.limits.admit_person(&people, &request.user) {
            self.waited.remove(&request.conn);
            let _ = answer.send(Err(refusal));
            return;
        }
        if !people.iter().any(|p| p.user == request.user) {
            people.push(Person {
                user: request.user.clone(),
                name: request.name.clone(),
                viewer: request.viewer,
                following: None,
            });
            people.sort();
        }
        let seq = self.board.seq();
        let missed = missed.map(|ops| for_protocol(ops, request.protocol));
        // Joins wait until the board holds only stored operations, so the
        // board and its recent operations are stored ones: a snapshot
        // encoded at an earlier sequence number, with the operations since,
        // is the board now.
        let mut parts = Vec::new();
        let (snapshot, frames, ops) = match missed {
            Some(ops) => (None, None, ops),
            None => {
                let format = Format::of(request.protocol);
                let waited = self.waited.remove(&request.conn);
                let Some((since, encoding, ops)) = self.encoding(format, waited) else {
                    self.park(request, answer, format);
                    return;
                };
                let ops = for_protocol(ops, request.protocol);
                debug!(board = %self.id, since, seq, "welcome with a snapshot");
                match encoding {
                    Encoding::Grouped(grouped, body) => {
                        let plans = grouped.parts(request.view.as_ref());
                        parts = plans.iter().map(|plan| plan.len() as u64).collect();
                        (None, Some(part_frames(&plans, &body)), ops)
                    }
                    Encoding::Packed(packed) => {
                        (None, Some(snapshot_chunks(packed).collect::<Vec<_>>()), ops)
                    }
                    Encoding::Json(json) => (Some(json), None, ops),
                }
            }
        };
        let welcome = EncodedWelcome {
            protocol: request.protocol,
            // A viewer must not learn what lets people edit.
            board: (!request.viewer).then_some(&self.id),
            seq,
            snapshot: snapshot.as_deref(),
            packed_snapshot: frames
                .as_ref()
                .map(|frames| frames.iter().map(|f| f.len() as u64).sum()),
            snapshot_parts: (!parts.is_empty()).then_some(parts.as_slice()),
            ops: &ops,
            presence: u32::try_from(people.len()).unwrap_or(u32::MAX),
        }
        .encode();
        // The queue is new and empty, so this only fails if the client is gone.
        if request
            .outbox
            .try_send(Message::Text(welcome.into()))
            .is_err()
        {
            return;
        }
        for frame in frames.into_iter().flatten() {
            if request.outbox.try_send(Message::Binary(frame)).is_err() {
                return;
            }
        }
        metrics().frames_out.add(Lane::Durable, 1);
        // The names of the people already here (welcome carries only the count).
        let _ = request
            .outbox
            .try_send(Message::Text(encode(&presence_message(people))));
        self.clients.insert(
            request.conn,
            Client {
                user: request.user,
                name: request.name,
                viewer: request.viewer,
                following: None,
                key: request.key,
                protocol: request.protocol,
                reading: false,
                outbox: request.outbox,
                drafting: false,
                previews: VecDeque::new(),
                deferred: VecDeque::new(),
            },
        );
        self.people_changed();
        let _ = answer.send(Ok(()));
    }

    /// The snapshot in `format` to send, with the operations since its
    /// sequence number: one of the board as it is or, for a join that
    /// `waited` for one, made while it waited (on a busy board, waiting
    /// for one without any operation since could last forever).
    fn encoding(
        &mut self,
        format: Format,
        waited: bool,
    ) -> Option<(u64, Encoding, Vec<Operation>)> {
        let (since, encoding) = self.encodings.get(format)?;
        let behind = self.board.seq().saturating_sub(since);
        if behind > if waited { MAX_OPS_AFTER_ENCODING } else { 0 } {
            return None;
        }
        let ops = self.ops_since(Some(since))?;
        Some((since, encoding, ops))
    }

    /// A join waits for an encoding in `format`, which is asked for unless
    /// one is being made (joins that need another format ask again when it
    /// comes).
    fn park(&mut self, request: JoinRequest, answer: JoinAnswer, format: Format) {
        self.parked.push((request, answer));
        if self.encodings.in_flight.is_none() {
            let epoch = self.encodings.start(format);
            self.effects.push(Effect::Encode {
                board: Arc::new(self.board.clone()),
                format,
                epoch,
            });
        }
    }

    /// An encoding came back: the joins waiting for one go first.
    fn on_encoded(&mut self, encoded: Encoded) {
        self.encodings.finish(encoded);
        if self.encodings.in_flight.is_none() {
            for join in self.parked.drain(..).rev() {
                self.waited.insert(join.0.conn);
                self.joins.push_front(join);
            }
        }
    }

    /// The operations after `last_seq` if they are all still in memory.
    fn ops_since(&self, last_seq: Option<u64>) -> Option<Vec<Operation>> {
        let last_seq = last_seq?;
        if last_seq > self.board.seq() {
            return None; // The client knows a future we don't: start it afresh.
        }
        if last_seq == self.board.seq() {
            return Some(Vec::new());
        }
        let oldest = self.recent.front()?.seq;
        (oldest <= last_seq + 1).then(|| {
            self.recent
                .iter()
                .filter(|op| op.seq > last_seq)
                .cloned()
                .collect()
        })
    }

    /// Whether the store may answer a join coming back from `last_seq`.
    fn worth_reading_for(&self, last_seq: Option<u64>) -> Option<u64> {
        let last_seq = last_seq?;
        let behind = self.board.seq().checked_sub(last_seq)?;
        (behind <= MAX_STORE_CATCH_UP).then_some(last_seq)
    }

    fn leave(&mut self, conn: ConnectionId) {
        let Some(client) = self.clients.remove(&conn) else {
            return;
        };
        self.deferring.remove(&conn);
        self.people_changed();
        if client.drafting {
            let end = ServerMessage::DraftEnd {
                author: client.user.clone(),
            };
            self.deliver(encode(&end), None, Lane::Ephemeral);
        }
        for (stroke, _) in client.previews {
            let end = ServerMessage::PreviewEnd {
                author: client.user.clone(),
                stroke,
            };
            self.deliver(encode(&end), None, Lane::Ephemeral);
        }
    }

    /// Sends a frame to every local client except `except`, dropping clients
    /// whose queue is full or closed.
    fn deliver(&mut self, frame: Frame, except: Option<ConnectionId>, lane: Lane) {
        self.deliver_each(&frame, &[], except, lane);
    }

    /// Like [`Self::deliver`], with frames for older clients: a client
    /// speaking a version below `v` of the first `(v, frame)` of `older`
    /// that applies gets that frame instead (lowest `v` first).
    fn deliver_each(
        &mut self,
        frame: &Frame,
        older: &[(u32, Frame)],
        except: Option<ConnectionId>,
        lane: Lane,
    ) {
        let mut gone = Vec::new();
        let mut queued = 0;
        for (&conn, client) in &self.clients {
            if Some(conn) == except {
                continue;
            }
            let frame = older
                .iter()
                .find(|(below, _)| client.protocol < *below)
                .map_or(frame, |(_, older)| older);
            match client.outbox.try_send(Message::Text(frame.clone())) {
                Ok(()) => queued += 1,
                Err(error) => gone.push((conn, error)),
            }
        }
        metrics().frames_out.add(lane, queued);
        for (conn, error) in gone {
            self.drop_client(conn, &error);
        }
    }

    fn send_to(&mut self, conn: ConnectionId, frame: Frame, lane: Lane) {
        let Some(client) = self.clients.get(&conn) else {
            return;
        };
        match client.outbox.try_send(Message::Text(frame)) {
            Ok(()) => metrics().frames_out.add(lane, 1),
            Err(error) => self.drop_client(conn, &error),
        }
    }

    /// Removes a client whose queue refused a frame: full (it fell behind;
    /// dropping its queue's sender tells the connection to close with 1013)
    /// or closed (its connection ended and its `Leave` is on the way).
    fn drop_client(&mut self, conn: ConnectionId, error: &TrySendError<Message>) {
        if matches!(error, TrySendError::Full(_)) {
            info!(board = %self.id, conn, "dropping a client that fell behind");
            metrics().clients_dropped.inc();
        }
        self.leave(conn);
    }

    // ----- access -----------------------------------------------------------

    /// Asks for the board's access tokens as the store holds them; the next
    /// read is due after [`ACCESS_REFRESH`].
    fn read_access(&mut self) {
        self.next_access_read = self.now + ACCESS_REFRESH;
        self.effects.push(Effect::ReadAccess);
    }

    /// The board's access tokens as the store holds them now: editors whose
    /// key they no longer let edit are told so and let go (the edit link
    /// was rotated). Reading them failed: try again in a moment, since until
    /// then those editors stay.
    fn on_access(&mut self, access: Result<Access, StoreError>) {
        let access = match access {
            Ok(access) => access,
            Err(error) => {
                warn!(board = %self.id, %error, "could not read the board's access tokens");
                self.next_access_read = self.now + OUTAGE_RETRY;
                return;
            }
        };
        self.access = access;
        let revoked: Vec<ConnectionId> = self
            .clients
            .iter()
            .filter(|(_, c)| !c.viewer && !self.access.lets_edit(c.key.as_deref()))
            .map(|(&conn, _)| conn)
            .collect();
        for conn in revoked {
            info!(board = %self.id, conn, "letting go of an editor whose link was rotated");
            if let Some(client) = self.clients.get(&conn) {
                let refusal = error_frame(&stale_edit_link(), None);
                let close = Message::Close(Some(CloseFrame {
                    code: close_code::NO_ACCESS,
                    reason: "link replaced".into(),
                }));
                // A full queue closes the connection all the same (1013).
                let _ = client.outbox.try_send(Message::Text(refusal));
                let _ = client.outbox.try_send(close);
            }
            self.leave(conn);
        }
    }

    // ----- presence ---------------------------------------------------------

    /// People on the board across all instances (see [`distinct`]).
    fn people(&self) -> Vec<Person> {
        let remote = self.remote_rosters.values().flat_map(|(people, _)| people);
        distinct(self.local_people().into_iter().chain(remote.cloned()))
    }

    fn local_people(&self) -> Vec<Person> {
        distinct(self.clients.values().map(|c| Person {
            user: c.user.clone(),
            name: c.name.clone(),
            viewer: c.viewer,
            following: c.following.clone(),
        }))
    }

    /// Someone here joined, left or changed their name.
    fn people_changed(&mut self) {
        self.roster_dirty = true;
        self.presence_dirty = true;
    }

    /// Sends the people list and the roster if they changed and may go out.
    fn flush_people(&mut self) {
        if !(self.roster_dirty || self.presence_dirty) || self.now < self.people_not_before {
            return;
        }
        if std::mem::take(&mut self.roster_dirty) {
            self.publish_roster();
        }
        if std::mem::take(&mut self.presence_dirty) {
            self.send_presence();
        }
        self.people_not_before = self.now + presence_interval(self.presence_sent.len());
    }

    fn send_presence(&mut self) {
        let people = self.people();
        if people != self.presence_sent {
            self.presence_sent = people.clone();
            self.deliver(encode(&presence_message(people)), None, Lane::Control);
        }
    }

    fn publish_roster(&mut self) {
        // During a store outage the board may be ahead of the store: announce
        // only what is stored.
        let seq = self
            .outage
            .as_ref()
            .map_or(self.stored_seq(), |outage| outage.base_seq);
        let roster = Roster {
            people: self.local_people(),
            seq,
        };
        self.publish(Payload::Roster(roster));
        self.next_roster = self.now + ROSTER_INTERVAL;
    }

    /// The board's sequence number without operations still being stored.
    fn stored_seq(&self) -> u64 {
        match &self.work {
            Work::Appending { base_seq, .. } => *base_seq,
            _ => self.board.seq(),
        }
    }

    fn expire_rosters(&mut self) {
        let before = self.remote_rosters.len();
        let now = self.now;
        self.remote_rosters
            .retain(|_, (_, heard)| now.duration_since(*heard) < ROSTER_TTL);
        if self.remote_rosters.len() != before {
            self.presence_dirty = true;
        }
    }

    fn publish(&mut self, payload: Payload) {
        self.effects.push(Effect::Publish(payload));
    }

    // ----- the clock --------------------------------------------------------

    fn on_tick(&mut self) {
        let now = self.now;
        if now >= self.next_access_read && !self.clients.is_empty() {
            self.read_access();
        }
        if now >= self.next_roster {
            self.publish_roster();
            self.expire_rosters();
        }
        if matches!(&self.work, Work::Backoff { until, .. } if now >= *until) {
            if let Work::Backoff { batch, attempt, .. } =
                std::mem::replace(&mut self.work, Work::Idle)
            {
                // The winner's operations may be stored by now: apply them first.
                self.read_ops(ReadPurpose::Retry { batch, attempt });
            }
        }
        let retry_due = matches!(self.work, Work::Idle)
            && self.outage.as_ref().is_some_and(|o| now >= o.next_retry);
        if retry_due {
            if let Some(outage) = self.outage.as_mut() {
                outage.next_retry = now + OUTAGE_RETRY;
                let held = std::mem::take(&mut outage.held);
                let base_seq = outage.base_seq;
                self.reload(base_seq, AfterReload::Recover { held });
            }
        }
    }

    // ----- the bus ----------------------------------------------------------

    fn on_bus(&mut self, event: BusEvent) {
        let envelope = match event {
            BusEvent::Frame(envelope) if envelope.origin != self.instance => envelope,
            BusEvent::Frame(_) | BusEvent::Closed => return,
            BusEvent::Lagged(missed) => {
                // Ephemeral frames are simply gone. An operation among them
                // shows as a gap in the next relayed operation or roster;
                // until then, look in the store now and then, never once per
                // lost frame.
                metrics().bus_lagged_frames.inc_by(missed);
                let due = self
                    .last_lag_catch_up
                    .is_none_or(|last| self.now.duration_since(last) >= LAG_CATCH_UP_INTERVAL);
                if due {
                    warn!(board = %self.id, missed, "bus subscriber lagged; checking the store for missed operations");
                    self.last_lag_catch_up = Some(self.now);
                    self.catch_up_wanted = true;
                    // A rotation's notice may have been among them.
                    self.read_access();
                }
                return;
            }
            BusEvent::Resync => {
                self.catch_up_wanted = true;
                self.publish_roster();
                self.read_access();
                return;
            }
        };
        match envelope.payload {
            Payload::Roster(Roster { people, seq }) => {
                if people.is_empty() {
                    self.remote_rosters.remove(&envelope.origin);
                } else {
                    self.remote_rosters
                        .insert(envelope.origin, (people, self.now));
                }
                self.presence_dirty = true;
                if seq > self.board.seq() && self.outage.is_none() {
                    // A relayed operation never arrived: fetch it.
                    self.catch_up_wanted = true;
                }
            }
            // Ephemeral frames go to the clients as they came.
            Payload::Live(frame) => self.deliver_live(&frame, None),
            Payload::AccessChanged => self.read_access(),
            Payload::Op(frame) => match ServerMessage::decode(&frame) {
                // During a store outage the board is not the stored one; the
                // reload after it brings these operations.
                Ok(ServerMessage::Op { .. }) if self.outage.is_some() => {}
                Ok(ServerMessage::Op { op }) => {
                    if self.relayed.len() < MAX_RELAYED_WAITING {
                        self.relayed.push_back((op, frame));
                    } else {
                        self.catch_up_wanted = true;
                    }
                }
                Ok(_) => {}
                Err(error) => warn!(board = %self.id, %error, "undecodable frame on the bus"),
            },
        }
    }

    /// Applies an operation another instance stored, if it is the next one.
    fn apply_relayed(&mut self, op: Operation, frame: Frame) {
        if op.seq == self.board.seq() + 1 {
            self.board.apply(&op);
            self.deliver_stored(op, frame);
        } else if op.seq > self.board.seq() {
            // A gap: read what we missed instead of applying out of order.
            self.catch_up_wanted = true;
        }
    }

    // ----- durable work -----------------------------------------------------

    /// Starts whatever waits for the store, if the store is free.
    fn advance(&mut self) {
        while matches!(self.work, Work::Idle) {
            if self.outage.is_some() {
                self.while_out();
                return;
            }
            while let Some((op, frame)) = self.relayed.pop_front() {
                self.apply_relayed(op, frame);
            }
            if std::mem::take(&mut self.catch_up_wanted) {
                metrics().bus_gap_fills.inc();
                self.read_ops(ReadPurpose::CatchUp);
                return;
            }
            if let Some((request, answer)) = self.joins.pop_front() {
                match self.ops_since(request.last_seq) {
                    Some(ops) => self.welcome(request, answer, Some(ops)),
                    None => match self.worth_reading_for(request.last_seq) {
                        Some(after) => {
                            self.read_ops_after(after, ReadPurpose::Join { request, answer })
                        }
                        None => self.welcome(request, answer, None),
                    },
                }
                continue;
            }
            if self.queued.is_empty() {
                return;
            }
            let mut take = self.queued.len().min(MAX_BATCH);
            // A batch ends before a restore whose version is not read yet;
            // at the head, such a restore has it read first.
            let unread = self
                .queued
                .iter()
                .take(take)
                .find_map(|(_, _, request)| match request {
                    Request::Restore { seq } if self.must_read_version(*seq) => Some(*seq),
                    _ => None,
                });
            if let Some(seq) = unread {
                let at = self
                    .queued
                    .iter()
                    .position(|(_, _, r)| matches!(r, Request::Restore { seq: s } if *s == seq))
                    .unwrap_or(0);
                if at == 0 {
                    self.effects.push(Effect::Store(StoreJob::Version { seq }));
                    self.work = Work::ReadingVersion { seq };
                    return;
                }
                take = at;
            }
            let batch: Vec<Submission> = self.queued.drain(..take).collect();
            self.append(batch, 1);
        }
    }

    /// Whether a restore of `seq` needs that version read from the store:
    /// not if it was read already, and not for the empty board before
    /// everything or a version the board is not past (refused as it is).
    fn must_read_version(&self, seq: u64) -> bool {
        seq != 0 && seq < self.board.seq() && self.version.as_ref().is_none_or(|v| v.seq() != seq)
    }

    /// The version a restore of `seq` brings back, as [`Self::advance`]
    /// had it read.
    fn version_for(&self, seq: u64) -> Result<Arc<Board>, ProtocolError> {
        if seq > self.board.seq() {
            return Err(ProtocolError::invalid(format!(
                "there is no version {seq}: the board is at {}",
                self.board.seq()
            )));
        }
        if seq == 0 {
            return Ok(Arc::new(Board::new()));
        }
        if seq == self.board.seq() {
            return Ok(Arc::new(self.board.clone()));
        }
        self.version
            .clone()
            .filter(|version| version.seq() == seq)
            .ok_or_else(version_unread)
    }

    /// During an outage: nothing but holding and turning joins away.
    fn while_out(&mut self) {
        self.relayed.clear();
        self.catch_up_wanted = false;
        self.waited.clear();
        for (_, answer) in self.joins.drain(..).chain(self.parked.drain(..)) {
            let _ = answer.send(Err(ProtocolError::new(
                ErrorCode::StorageUnavailable,
                "the board cannot be saved right now; try again",
            )));
        }
        let queued: Vec<Submission> = self.queued.drain(..).collect();
        for submission in queued {
            self.submit(submission);
        }
    }

    /// Resolves a batch against the board, applies it speculatively and asks
    /// the store to append it.
    fn append(&mut self, batch: Vec<Submission>, attempt: usize) {
        let base_seq = self.board.seq();
        self.board.speculate();
        let staged = self.stage(&batch);
        let ops: Vec<Operation> = staged
            .iter()
            .filter_map(|s| match s {
                Staged::Op { op, .. } => Some(op.clone()),
                _ => None,
            })
            .collect();
        if ops.is_empty() {
            // Only resends and refusals: nothing to store.
            self.board.confirm();
            self.finish(staged);
            return;
        }
        self.effects.push(Effect::Store(StoreJob::Append(ops)));
        self.work = Work::Appending {
            batch,
            staged,
            base_seq,
            attempt,
        };
    }

    fn reload(&mut self, base_seq: u64, then: AfterReload) {
        self.effects
            .push(Effect::Store(StoreJob::Reload { base_seq }));
        self.work = Work::Reloading { base_seq, then };
    }

    /// Reads the stored operations after the board's.
    fn read_ops(&mut self, purpose: ReadPurpose) {
        self.read_ops_after(self.board.seq(), purpose);
    }

    fn read_ops_after(&mut self, after: u64, purpose: ReadPurpose) {
        self.effects
            .push(Effect::Store(StoreJob::OpsAfter { after }));
        self.work = Work::Reading { after, purpose };
    }

    fn enter_outage(&mut self, base_seq: u64, held: Vec<Submission>) {
        warn!(board = %self.id, "store unavailable; holding durable requests until it is back");
        self.outage = Some(StoreOutage {
            base_seq,
            held,
            next_retry: self.now + OUTAGE_RETRY,
        });
    }

    fn on_stored(&mut self, answer: StoreAnswer) {
        match (std::mem::replace(&mut self.work, Work::Idle), answer) {
            (Work::Appending { staged, .. }, StoreAnswer::Appended(Ok(()))) => {
                self.board.confirm();
                self.finish(staged);
            }
            (
                Work::Appending { batch, attempt, .. },
                StoreAnswer::Appended(Err(StoreError::SequenceConflict { .. })),
            ) => {
                // Another instance stored operations under these numbers
                // first. Take the batch back in memory; after a random pause
                // the winner's operations are read and the batch tried again.
                debug!(board = %self.id, attempt, "lost a race for a sequence number; retrying");
                metrics().store_append_conflicts.inc();
                self.take_back_speculation();
                let jitter = self.retry_jitter.next_below(MAX_RETRY_JITTER_MS + 1);
                self.work = Work::Backoff {
                    batch,
                    attempt,
                    until: self.now + Duration::from_millis(jitter),
                };
            }
            (
                Work::Appending {
                    batch, base_seq, ..
                },
                StoreAnswer::Appended(Err(error)),
            ) => {
                // The store failed (it may hold a prefix of the batch): hold
                // the requests, with the board as the store has it.
                warn!(board = %self.id, %error, "could not store operations");
                self.take_back_speculation();
                self.reload(base_seq, AfterReload::Hold { batch });
            }
            (Work::Reloading { then, .. }, StoreAnswer::Reloaded(Ok((board, missed)))) => {
                self.replace_board(board, missed);
                match then {
                    // The store failed (not a lost race): hold the requests
                    // and retry them when it answers again, instead of refusing.
                    AfterReload::Hold { batch } => self.enter_outage(self.board.seq(), batch),
                    AfterReload::Recover { held } => {
                        let outage = self.outage.take();
                        info!(board = %self.id, held = held.len(), "store is back; saving held requests");
                        // What was held comes first, then what arrived since.
                        let later = outage.map(|o| o.held).unwrap_or_default();
                        let queued = std::mem::take(&mut self.queued);
                        self.queued = held.into_iter().chain(later).chain(queued).collect();
                    }
                }
            }
            (Work::Reloading { base_seq, then }, StoreAnswer::Reloaded(Err(error))) => {
                warn!(board = %self.id, %error, "could not reload the board");
                match then {
                    AfterReload::Hold { batch } => self.enter_outage(base_seq, batch),
                    AfterReload::Recover { mut held } => {
                        if let Some(outage) = self.outage.as_mut() {
                            held.append(&mut outage.held);
                            outage.held = held;
                        }
                    }
                }
            }
            (Work::Reading { purpose, after }, StoreAnswer::OpsAfter(read)) => {
                self.on_read(after, purpose, read)
            }
            (Work::ReadingVersion { seq }, StoreAnswer::Version(read)) => match read {
                Ok(version) if version.seq() == seq => self.version = Some(Arc::new(version)),
                failed => {
                    // The restore at the head cannot be resolved: refused,
                    // named, so its client may send it again (unless the
                    // version is no longer kept).
                    let refusal = match failed {
                        Err(StoreError::Forgotten) => ProtocolError::invalid(FORGOTTEN),
                        Err(error) => {
                            warn!(board = %self.id, %error, seq, "could not read a version");
                            version_unread()
                        }
                        Ok(version) => {
                            warn!(
                                board = %self.id, seq, read = version.seq(),
                                "the store's version is not the one asked for"
                            );
                            version_unread()
                        }
                    };
                    if let Some((conn, op_id, _)) = self.queued.pop_front() {
                        self.send_to(conn, error_frame(&refusal, Some(op_id)), Lane::Control);
                    }
                }
            },
            (work, _) => {
                // Never happens: the task answers the job asked for.
                warn!(board = %self.id, "store answer does not match the job in flight; ignored");
                self.work = work;
            }
        }
    }

    fn on_read(
        &mut self,
        after: u64,
        purpose: ReadPurpose,
        read: Result<Vec<Operation>, StoreError>,
    ) {
        match (purpose, read) {
            (ReadPurpose::CatchUp, Ok(ops)) => self.apply_stored(ops),
            (ReadPurpose::CatchUp, Err(error)) => {
                warn!(board = %self.id, %error, "could not catch up from the store")
            }
            (ReadPurpose::Retry { batch, attempt }, Ok(ops)) => {
                // The winner's operations first: a stored prefix of the batch
                // is among them, and is acknowledged rather than refused.
                self.apply_stored(ops);
                if attempt >= MAX_ATTEMPTS {
                    self.refuse(batch);
                } else {
                    self.append(batch, attempt + 1);
                }
            }
            (ReadPurpose::Retry { batch, .. }, Err(error)) => {
                warn!(board = %self.id, %error, "could not read the store before a retry");
                self.enter_outage(self.board.seq(), batch);
            }
            (ReadPurpose::Join { request, answer }, read) => {
                // Complete and gap-free up to our board, or a snapshot.
                let ops = read.ok().and_then(|ops| {
                    let ops: Vec<Operation> = ops
                        .into_iter()
                        .take_while(|op| op.seq <= self.board.seq())
                        .collect();
                    let behind = self.board.seq() - after;
                    let complete = ops.len() as u64 == behind
                        && ops.iter().zip(after + 1..).all(|(op, seq)| op.seq == seq);
                    complete.then_some(ops)
                });
                self.welcome(request, answer, ops);
            }
        }
    }

    /// Applies stored operations that follow the board, delivering them.
    fn apply_stored(&mut self, ops: Vec<Operation>) {
        for op in ops {
            if op.seq != self.board.seq() + 1 {
                continue;
            }
            self.board.apply(&op);
            let frame = encode(&ServerMessage::Op { op: op.clone() });
            self.deliver_stored(op, frame);
        }
    }

    /// Replaces the board with the store's and delivers the stored
    /// operations after the old base to local clients.
    fn replace_board(&mut self, board: Board, missed: Vec<Operation>) {
        self.board = board;
        self.encodings.forget();
        for op in missed {
            if op.seq <= self.board.seq() {
                let frame = encode(&ServerMessage::Op { op: op.clone() });
                self.deliver_stored(op, frame);
            }
        }
    }

    /// Takes a failed append's operations back out of the board.
    fn take_back_speculation(&mut self) {
        self.board.roll_back();
        self.encodings.forget();
    }

    /// Answers requests that could not be stored. Requests that did get in
    /// (a stored prefix of a failed batch) are recognised by their op ids and
    /// acknowledged instead.
    fn refuse(&mut self, batch: Vec<Submission>) {
        self.version = None;
        let refusal = ProtocolError::new(
            ErrorCode::StorageUnavailable,
            "the operation could not be saved; resend it",
        );
        for (conn, op_id, _) in batch {
            let Some(author) = self.clients.get(&conn).map(|c| c.user.clone()) else {
                continue;
            };
            let frame = match self.board.applied_seq(&author, &op_id) {
                Some(seq) => encode(&ServerMessage::Ack { op_id, seq }),
                None => error_frame(&refusal, Some(op_id)),
            };
            self.send_to(conn, frame, Lane::Durable);
        }
    }

    /// Resolves each request against the board and applies it speculatively.
    fn stage(&mut self, batch: &[Submission]) -> Vec<Staged> {
        let mut staged = Vec::with_capacity(batch.len());
        let at = self.wall_ms();
        for (conn, op_id, request) in batch {
            let Some((author, name)) = self
                .clients
                .get(conn)
                .map(|c| (c.user.clone(), c.name.clone()))
            else {
                continue;
            };
            if let Some(seq) = self.board.applied_seq(&author, op_id) {
                // A resend of something already stored: acknowledge it again.
                staged.push(Staged::Ack {
                    conn: *conn,
                    op_id: op_id.clone(),
                    seq,
                });
                continue;
            }
            let admitted = self.limits.admit(&self.board, request);
            let committed = admitted.and_then(|()| match request {
                Request::Restore { seq } => {
                    let version = self.version_for(*seq)?;
                    self.board.commit_restore(&author, op_id, &version)
                }
                _ => self.board.commit(&author, op_id, request.clone()),
            });
            match committed {
                Ok(mut op) => {
                    op.at = at;
                    op.name = (!name.is_empty()).then_some(name);
                    staged.push(Staged::Op { conn: *conn, op });
                }
                Err(error) => staged.push(Staged::Refused {
                    conn: *conn,
                    frame: error_frame(&error, Some(op_id.clone())),
                }),
            }
        }
        staged
    }

    /// After a successful append: deliver, publish and acknowledge, in order.
    fn finish(&mut self, staged: Vec<Staged>) {
        for entry in staged {
            match entry {
                Staged::Op { conn, op } => {
                    if let Change::AddStroke { stroke } = &op.change {
                        if let Some(client) = self.clients.get_mut(&conn) {
                            client.previews.retain(|(open, _)| *open != stroke.id);
                        }
                    }
                    let ack = encode(&ServerMessage::Ack {
                        op_id: op.op_id.clone(),
                        seq: op.seq,
                    });
                    let frame = encode(&ServerMessage::Op { op: op.clone() });
                    self.deliver_stored(op, frame.clone());
                    self.publish(Payload::Op(frame));
                    self.send_to(conn, ack, Lane::Durable);
                    self.ops_since_snapshot += 1;
                }
                Staged::Ack { conn, op_id, seq } => self.send_to(
                    conn,
                    encode(&ServerMessage::Ack { op_id, seq }),
                    Lane::Durable,
                ),
                Staged::Refused { conn, frame } => self.send_to(conn, frame, Lane::Control),
            }
        }
        // Restores of the version read are resolved; it is not kept.
        self.version = None;
        if self.ops_since_snapshot >= SNAPSHOT_INTERVAL {
            self.ops_since_snapshot = 0;
            self.effects
                .push(Effect::SaveSnapshot(Arc::new(self.board.clone())));
        }
    }

    /// Keeps a stored operation for reconnects and sends it (`frame`) to
    /// every local client.
    fn deliver_stored(&mut self, op: Operation, frame: Frame) {
        // What clients of each older version here read, where it differs.
        let older: Vec<(u32, Frame)> = [HISTORY_SINCE, IMAGES_SINCE]
            .into_iter()
            .filter(|below| self.clients.values().any(|c| c.protocol < *below))
            .filter_map(|below| {
                let op = op.for_protocol(below - 1)?;
                Some((below, encode(&ServerMessage::Op { op })))
            })
            .collect();
        self.recent.push_back(op);
        if self.recent.len() > RECENT_OPS {
            self.recent.pop_front();
        }
        self.deliver_each(&frame, &older, None, Lane::Durable);
    }

    /// Milliseconds since the Unix epoch now, by the room's clock.
    fn wall_ms(&self) -> u64 {
        let since = self.now.saturating_duration_since(self.opened);
        self.opened_ms
            .saturating_add(u64::try_from(since.as_millis()).unwrap_or(u64::MAX))
    }

    // ----- history reads ----------------------------------------------------

    /// A client asks to read history: bounded by what is stored, and run
    /// beside everything else unless this client or the room reads already.
    fn read(&mut self, conn: ConnectionId, message: ClientMessage) {
        let Some(client) = self.clients.get(&conn) else {
            return;
        };
        let refusal = if client.protocol < HISTORY_SINCE {
            Some(ProtocolError::new(
                ErrorCode::UnexpectedMessage,
                format!("history reads need protocol {HISTORY_SINCE}"),
            ))
        } else if client.reading || self.reads >= MAX_READS {
            Some(ProtocolError::new(
                ErrorCode::RateLimited,
                "one history read at a time; wait for the answer",
            ))
        } else {
            None
        };
        let stored = self.stored_seq();
        let read = match message {
            ClientMessage::History { before, limit } => {
                let upto = before.map_or(stored, |before| before.saturating_sub(1).min(stored));
                HistoryRead::Page {
                    after: upto.saturating_sub(u64::from(limit)),
                    upto,
                }
            }
            ClientMessage::Ops { after, limit } => HistoryRead::Ops {
                after,
                upto: after.saturating_add(u64::from(limit)).min(stored),
                protocol: client.protocol,
            },
            ClientMessage::BoardAt { seq } if seq <= stored => HistoryRead::BoardAt {
                seq,
                protocol: client.protocol,
            },
            ClientMessage::BoardAt { seq } => {
                let error = ProtocolError::invalid(format!(
                    "there is no version {seq}: the board is at {stored}"
                ));
                self.send_to(conn, error_frame(&error, None), Lane::Control);
                return;
            }
            _ => return,
        };
        if let Some(refusal) = refusal {
            self.send_to(conn, error_frame(&refusal, None), Lane::Control);
            return;
        }
        if let Some(client) = self.clients.get_mut(&conn) {
            client.reading = true;
        }
        self.reads += 1;
        self.effects.push(Effect::Read { conn, read });
    }

    /// A history read's frames, for its client if it is still here and
    /// its queue has room for all of them (else it is told to ask again).
    fn on_read_done(&mut self, conn: ConnectionId, answer: Result<Vec<Message>, ProtocolError>) {
        self.reads = self.reads.saturating_sub(1);
        let Some(client) = self.clients.get_mut(&conn) else {
            return;
        };
        client.reading = false;
        let frames = match answer {
            Ok(frames) if frames.len() < client.outbox.capacity() => frames,
            Ok(_) => {
                let busy = ProtocolError::new(
                    ErrorCode::RateLimited,
                    "too much is on its way to you to add this answer; ask again",
                );
                self.send_to(conn, error_frame(&busy, None), Lane::Control);
                return;
            }
            Err(error) => {
                self.send_to(conn, error_frame(&error, None), Lane::Control);
                return;
            }
        };
        metrics().frames_out.add(Lane::Control, 1);
        for frame in frames {
            if let Err(error) = client.outbox.try_send(frame) {
                self.drop_client(conn, &error);
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests;
