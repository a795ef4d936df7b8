//! One board's room: the task that owns the board while people are on it.
//!
//! Every durable request for a board passes through its room's single task,
//! which gives the board one total order: it resolves the request against the
//! board, numbers it with the next sequence number and applies it to the
//! room's board, stores it, and only then delivers it to every local client,
//! publishes it on the bus and acknowledges it. Nobody sees an operation that
//! is not stored: if storing fails, the room replaces its board with the
//! store's before doing anything else, and if even that fails it holds
//! durable requests until the store is back ([`StoreOutage`]).
//!
//! Clients are reached through bounded queues filled with `try_send`: a client
//! whose queue is full is dropped (it reconnects and catches up) instead of
//! slowing the room down for everyone else.
//!
//! With several instances, each has its own room for the board and the store
//! is the single authority on sequence numbers: an append that loses a race
//! fails with a sequence conflict, the room reloads what the store holds
//! (delivering the winner's operations to its clients) and resolves its
//! requests again. Requests queued together are stored with one append
//! (group commit).

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use super::bus::{Bus, BusEvent, Envelope, InstanceId, Payload, Roster, Subscription};
use super::hub::HubShared;
use super::store::{Store, StoreError};
use crate::board::Board;
use crate::protocol::{
    BoardId, ClientMessage, ErrorCode, OpId, Operation, Person, ProtocolError, Request,
    ServerMessage, StrokeId, UserId, PROTOCOL_VERSION,
};

/// Frames queued for one client before it counts as stuck and is dropped.
pub const CLIENT_QUEUE_CAPACITY: usize = 512;
/// Commands queued for a room before senders wait.
pub const ROOM_COMMAND_CAPACITY: usize = 1024;
/// Operations kept in memory to answer reconnects without a snapshot.
pub const RECENT_OPS: usize = 2_000;
/// A reconnect this many operations behind or less is answered with the
/// operations from the store; further behind, with a snapshot.
pub const MAX_STORE_CATCH_UP: u64 = 5_000;
/// A snapshot is written after this many operations (and when the room closes).
pub const SNAPSHOT_INTERVAL: u64 = 500;
/// How long an empty room stays open for people who come back, by default
/// (`--room-idle-secs`).
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(30);
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

/// Identifies one WebSocket connection within this process.
pub type ConnectionId = u64;

/// A connection's queue of encoded frames.
pub type Outbox = mpsc::Sender<Arc<str>>;

/// A connection asking to be part of the room.
#[derive(Clone)]
pub struct JoinRequest {
    pub conn: ConnectionId,
    pub user: UserId,
    /// The display name from `hello` (empty if none was given).
    pub name: String,
    pub last_seq: Option<u64>,
    pub outbox: Outbox,
}

pub enum RoomCommand {
    Join {
        request: JoinRequest,
        accepted: oneshot::Sender<Result<(), ProtocolError>>,
    },
    Leave {
        conn: ConnectionId,
    },
    Submit {
        conn: ConnectionId,
        op_id: OpId,
        request: Request,
    },
    /// `preview`, `preview_end`, `draft`, `draft_end`, `cursor` or `profile`.
    Ephemeral {
        conn: ConnectionId,
        message: ClientMessage,
    },
}

/// The sending side of a room, held by connections.
#[derive(Clone)]
pub struct RoomHandle {
    pub(super) commands: mpsc::Sender<RoomCommand>,
}

impl RoomHandle {
    /// Sends a command; `false` if the room has closed.
    pub async fn send(&self, command: RoomCommand) -> bool {
        self.commands.send(command).await.is_ok()
    }
}

struct Client {
    user: UserId,
    name: String,
    outbox: Outbox,
    /// Whether this client has a draft out, ended for everyone if it leaves.
    drafting: bool,
    /// Strokes this client is drawing, ended for everyone if it leaves.
    previews: HashSet<StrokeId>,
}

pub(super) struct Room {
    id: BoardId,
    board: Board,
    recent: VecDeque<Operation>,
    clients: HashMap<ConnectionId, Client>,
    ops_since_snapshot: u64,
    presence_dirty: bool,
    /// Last people list sent to clients.
    presence_sent: Vec<Person>,
    /// People connected to other instances, by instance, with when we heard.
    remote_rosters: HashMap<InstanceId, (Vec<Person>, Instant)>,
    /// Set while the store is unreachable (see [`StoreOutage`]).
    outage: Option<StoreOutage>,
    retry_jitter: Jitter,
    store: Arc<dyn Store>,
    bus: Arc<dyn Bus>,
    instance: InstanceId,
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

/// The store failed and the board could not be reloaded, so the board may
/// hold changes that are not stored. Until a reload succeeds the room keeps
/// relaying live traffic (previews, presence) but holds durable requests
/// without answering them (their clients show them as "saving…"), turns away
/// joins, and ignores stored operations from other instances; then it
/// reloads and processes what it held.
struct StoreOutage {
    /// The board's sequence number before the failed batch.
    base_seq: u64,
    held: Vec<(ConnectionId, OpId, Request)>,
}

/// Most durable requests a room holds during a store outage; beyond that
/// they are refused with `storage_unavailable` (clients keep and resend them).
const MAX_HELD: usize = 10_000;
/// How often a room in a store outage tries to reload.
const OUTAGE_RETRY: Duration = Duration::from_secs(2);

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
    Refused { conn: ConnectionId, frame: Arc<str> },
}

/// One entry per user id, sorted, so that every instance lists people alike
/// (someone with several tabs under different names is listed once).
fn distinct(people: impl Iterator<Item = Person>) -> Vec<Person> {
    let mut people: Vec<Person> = people.collect();
    people.sort();
    people.dedup_by(|later, earlier| later.user == earlier.user);
    people
}

fn encode(message: &ServerMessage) -> Arc<str> {
    message.encode().into()
}

fn error_frame(error: &ProtocolError, op_id: Option<OpId>) -> Arc<str> {
    encode(&ServerMessage::Error {
        code: error.code,
        message: error.message.clone(),
        op_id,
    })
}

impl Room {
    /// Loads the board and serves it until it is idle or the server stops.
    pub(super) async fn run(
        id: BoardId,
        mut commands: mpsc::Receiver<RoomCommand>,
        hub: Arc<HubShared>,
        generation: u64,
        shutdown: CancellationToken,
    ) {
        // Subscribe before loading, so nothing published in between is missed.
        let loaded = async {
            let subscription = hub.bus.subscribe(&id).await.map_err(|e| e.to_string())?;
            let board = hub
                .store
                .load(&id)
                .await
                .map_err(|e| e.to_string())?
                .into_board();
            Ok::<_, String>((subscription, board))
        }
        .await;
        let (subscription, board) = match loaded {
            Ok(loaded) => loaded,
            Err(error) => {
                warn!(board = %id, %error, "could not open board");
                hub.retire(&id, generation);
                let refusal = ProtocolError::new(
                    ErrorCode::StorageUnavailable,
                    "the board could not be loaded; try again",
                );
                commands.close();
                while let Some(command) = commands.recv().await {
                    if let RoomCommand::Join { accepted, .. } = command {
                        let _ = accepted.send(Err(refusal.clone()));
                    }
                }
                return;
            }
        };
        debug!(board = %id, seq = board.seq(), strokes = board.stroke_count(), "room opened");
        let mut room = Room {
            id,
            board,
            recent: VecDeque::new(),
            clients: HashMap::new(),
            ops_since_snapshot: 0,
            presence_dirty: false,
            presence_sent: Vec::new(),
            remote_rosters: HashMap::new(),
            outage: None,
            retry_jitter: Jitter(hub.instance.0 ^ 0x9e37_79b9_7f4a_7c15),
            store: Arc::clone(&hub.store),
            bus: Arc::clone(&hub.bus),
            instance: hub.instance,
        };
        room.serve(&mut commands, subscription, &hub, generation, &shutdown)
            .await;
        if room.outage.is_some() {
            // The board is not what the store holds: write no snapshot.
            hub.retire(&room.id, generation);
            return;
        }
        room.save_snapshot().await;
        debug!(board = %room.id, "room closed");
    }

    async fn serve(
        &mut self,
        commands: &mut mpsc::Receiver<RoomCommand>,
        mut subscription: Subscription,
        hub: &HubShared,
        generation: u64,
        shutdown: &CancellationToken,
    ) {
        let mut roster_timer = tokio::time::interval(ROSTER_INTERVAL);
        let mut outage_retry = tokio::time::interval(OUTAGE_RETRY);
        // When the room became empty; other events must not postpone closing.
        let mut empty_since: Option<Instant> = None;
        loop {
            empty_since = match (self.clients.is_empty(), empty_since) {
                (true, None) => Some(Instant::now()),
                (true, since) => since,
                (false, _) => None,
            };
            let close_at = empty_since.map(|since| since + hub.idle_timeout);
            tokio::select! {
                _ = shutdown.cancelled() => return,
                command = commands.recv() => match command {
                    Some(RoomCommand::Submit { conn, op_id, request }) => {
                        // Group commit: take the requests already queued too.
                        let mut batch = vec![(conn, op_id, request)];
                        let mut interrupted_by = None;
                        while batch.len() < MAX_BATCH {
                            match commands.try_recv() {
                                Ok(RoomCommand::Submit { conn, op_id, request }) => batch.push((conn, op_id, request)),
                                Ok(other) => {
                                    interrupted_by = Some(other);
                                    break;
                                }
                                Err(_) => break,
                            }
                        }
                        self.submit_batch(batch).await;
                        if let Some(command) = interrupted_by {
                            self.handle(command).await;
                        }
                    }
                    Some(command) => self.handle(command).await,
                    None => return,
                },
                event = subscription.next() => {
                    if matches!(event, BusEvent::Closed) {
                        // The bus dropped us: subscribe again and catch up.
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        match self.bus.subscribe(&self.id).await {
                            Ok(fresh) => subscription = fresh,
                            Err(error) => warn!(board = %self.id, %error, "could not resubscribe"),
                        }
                        self.catch_up_from_store().await;
                    } else {
                        self.handle_bus(event).await;
                    }
                }
                _ = roster_timer.tick() => {
                    self.publish_roster().await;
                    self.expire_rosters();
                }
                _ = outage_retry.tick(), if self.outage.is_some() => self.recover().await,
                _ = tokio::time::sleep_until(close_at.unwrap_or_else(Instant::now)), if close_at.is_some() => {
                    // Unlist the room first so no new joins reach it, then turn
                    // away joins that were already queued: they retry and get a
                    // fresh room, which loads everything from the store.
                    hub.retire(&self.id, generation);
                    commands.close();
                    while let Some(command) = commands.recv().await {
                        if let RoomCommand::Join { request, accepted } = command {
                            drop(accepted);
                            debug!(conn = request.conn, "join raced with room close; client retries");
                        }
                    }
                    return;
                }
            }
            if self.presence_dirty {
                self.presence_dirty = false;
                self.publish_roster().await;
                self.send_presence();
            }
        }
    }

    /// People on the board across all instances (see [`distinct`]).
    fn people(&self) -> Vec<Person> {
        let remote = self.remote_rosters.values().flat_map(|(people, _)| people);
        distinct(self.local_people().into_iter().chain(remote.cloned()))
    }

    fn local_people(&self) -> Vec<Person> {
        distinct(self.clients.values().map(|c| Person {
            user: c.user.clone(),
            name: c.name.clone(),
        }))
    }

    fn presence_message(people: Vec<Person>) -> ServerMessage {
        ServerMessage::Presence {
            count: u32::try_from(people.len()).unwrap_or(u32::MAX),
            people,
        }
    }

    fn send_presence(&mut self) {
        let people = self.people();
        if people != self.presence_sent {
            self.presence_sent = people.clone();
            self.deliver(encode(&Self::presence_message(people)), None);
        }
    }

    async fn publish_roster(&self) {
        // During a store outage the board may be ahead of the store: announce
        // only what is stored.
        let seq = self
            .outage
            .as_ref()
            .map_or(self.board.seq(), |outage| outage.base_seq);
        let roster = Roster {
            people: self.local_people(),
            seq,
        };
        self.publish(Payload::Roster(roster)).await;
    }

    fn expire_rosters(&mut self) {
        let before = self.remote_rosters.len();
        self.remote_rosters
            .retain(|_, (_, heard)| heard.elapsed() < ROSTER_TTL);
        if self.remote_rosters.len() != before {
            self.send_presence();
        }
    }

    async fn handle(&mut self, command: RoomCommand) {
        match command {
            RoomCommand::Join { accepted, .. } if self.outage.is_some() => {
                let _ = accepted.send(Err(ProtocolError::new(
                    ErrorCode::StorageUnavailable,
                    "the board cannot be saved right now; try again",
                )));
            }
            RoomCommand::Join { request, accepted } => {
                self.join(request).await;
                let _ = accepted.send(Ok(()));
            }
            RoomCommand::Leave { conn } => self.leave(conn),
            RoomCommand::Submit {
                conn,
                op_id,
                request,
            } => self.submit_batch(vec![(conn, op_id, request)]).await,
            RoomCommand::Ephemeral { conn, message } => self.relay(conn, message).await,
        }
    }

    async fn join(&mut self, request: JoinRequest) {
        let mut people = self.people();
        if !people.iter().any(|p| p.user == request.user) {
            people.push(Person {
                user: request.user.clone(),
                name: request.name.clone(),
            });
            people.sort();
        }
        let missed = match self.ops_since(request.last_seq) {
            Some(ops) => Some(ops),
            None => self.stored_ops_since(request.last_seq).await,
        };
        let (snapshot, ops) = match missed {
            Some(ops) => (None, ops),
            None => (Some(self.board.snapshot()), Vec::new()),
        };
        let welcome = ServerMessage::Welcome {
            protocol: PROTOCOL_VERSION,
            board: self.id.clone(),
            seq: self.board.seq(),
            snapshot,
            ops,
            presence: u32::try_from(people.len()).unwrap_or(u32::MAX),
        };
        // The queue is new and empty, so this only fails if the client is gone.
        if request.outbox.try_send(encode(&welcome)).is_err() {
            return;
        }
        // The names of the people already here (welcome carries only the count).
        let _ = request
            .outbox
            .try_send(encode(&Self::presence_message(people)));
        self.clients.insert(
            request.conn,
            Client {
                user: request.user,
                name: request.name,
                outbox: request.outbox,
                drafting: false,
                previews: HashSet::new(),
            },
        );
        self.presence_dirty = true;
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

    /// The operations after `last_seq` from the store, when there are not too
    /// many (a client coming from another instance, or back after a while).
    async fn stored_ops_since(&self, last_seq: Option<u64>) -> Option<Vec<Operation>> {
        let last_seq = last_seq?;
        let behind = self.board.seq().checked_sub(last_seq)?;
        if behind > MAX_STORE_CATCH_UP {
            return None;
        }
        let ops = self.store.ops_after(&self.id, last_seq).await.ok()?;
        let ops: Vec<Operation> = ops
            .into_iter()
            .take_while(|op| op.seq <= self.board.seq())
            .collect();
        let complete = ops.len() as u64 == behind
            && ops
                .iter()
                .zip(last_seq + 1..)
                .all(|(op, seq)| op.seq == seq);
        complete.then_some(ops)
    }

    fn leave(&mut self, conn: ConnectionId) {
        if let Some(client) = self.clients.remove(&conn) {
            self.presence_dirty = true;
            if client.drafting {
                let end = ServerMessage::DraftEnd {
                    author: client.user.clone(),
                };
                self.deliver(encode(&end), None);
            }
            for stroke in client.previews {
                let end = ServerMessage::PreviewEnd {
                    author: client.user.clone(),
                    stroke,
                };
                self.deliver(encode(&end), None);
            }
        }
    }

    /// Sends a frame to every local client except `except`, dropping clients
    /// whose queue is full or closed.
    fn deliver(&mut self, frame: Arc<str>, except: Option<ConnectionId>) {
        let mut dropped = Vec::new();
        for (&conn, client) in &self.clients {
            if Some(conn) == except {
                continue;
            }
            if client.outbox.try_send(Arc::clone(&frame)).is_err() {
                dropped.push(conn);
            }
        }
        for conn in dropped {
            info!(board = %self.id, conn, "dropping a client that fell behind");
            // Dropping its queue's sender tells the connection to close.
            self.leave(conn);
        }
    }

    fn send_to(&mut self, conn: ConnectionId, frame: Arc<str>) {
        let full = self
            .clients
            .get(&conn)
            .is_some_and(|client| client.outbox.try_send(frame).is_err());
        if full {
            self.leave(conn);
        }
    }

    async fn publish(&self, payload: Payload) {
        let envelope = Envelope {
            origin: self.instance,
            payload,
        };
        if let Err(error) = self.bus.publish(&self.id, envelope).await {
            debug!(board = %self.id, %error, "could not publish to the bus");
        }
    }

    /// Resolves, stores and delivers a batch of durable requests.
    async fn submit_batch(&mut self, mut batch: Vec<(ConnectionId, OpId, Request)>) {
        if let Some(outage) = self.outage.as_mut() {
            let space = MAX_HELD.saturating_sub(outage.held.len());
            let overflow = batch.split_off(space.min(batch.len()));
            outage.held.extend(batch);
            self.refuse(overflow);
            return;
        }
        for attempt in 1..=MAX_ATTEMPTS {
            let base_seq = self.board.seq();
            let staged = self.stage(&batch);
            let ops: Vec<Operation> = staged
                .iter()
                .filter_map(|s| match s {
                    Staged::Op { op, .. } => Some(op.clone()),
                    _ => None,
                })
                .collect();
            let error = match self.store.append(&self.id, &ops).await {
                Ok(()) => {
                    self.finish(staged).await;
                    return;
                }
                Err(error) => error,
            };
            let raced = matches!(error, StoreError::SequenceConflict { .. });
            if raced {
                debug!(board = %self.id, attempt, "lost a race for a sequence number; reloading");
            } else {
                warn!(board = %self.id, %error, "could not store operations");
            }
            // The board holds the batch speculatively: replace it with what
            // the store really has (which may include a prefix of the batch,
            // or another instance's operations).
            let reloaded = self.reload(base_seq).await;
            if !raced || !reloaded {
                // The store failed (not a lost race): hold the requests and
                // retry them when it answers again, instead of refusing.
                warn!(board = %self.id, "store unavailable; holding durable requests until it is back");
                let base_seq = if reloaded { self.board.seq() } else { base_seq };
                self.outage = Some(StoreOutage {
                    base_seq,
                    held: batch,
                });
                return;
            }
            if attempt == MAX_ATTEMPTS {
                break;
            }
            let jitter = self.retry_jitter.next_below(MAX_RETRY_JITTER_MS + 1);
            tokio::time::sleep(Duration::from_millis(jitter)).await;
            if !self.reload_if_behind().await {
                self.outage = Some(StoreOutage {
                    base_seq: self.board.seq(),
                    held: batch,
                });
                return;
            }
        }
        self.refuse(batch);
    }

    /// Answers requests that could not be stored. Requests that did get in
    /// (a stored prefix of a failed batch) are recognised by their op ids and
    /// acknowledged instead.
    fn refuse(&mut self, batch: Vec<(ConnectionId, OpId, Request)>) {
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
            self.send_to(conn, frame);
        }
    }

    /// Resolves each request against the board and applies it speculatively.
    fn stage(&mut self, batch: &[(ConnectionId, OpId, Request)]) -> Vec<Staged> {
        let mut staged = Vec::with_capacity(batch.len());
        for (conn, op_id, request) in batch {
            let Some(author) = self.clients.get(conn).map(|c| c.user.clone()) else {
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
            match self.board.resolve(&author, request.clone()) {
                Ok(change) => {
                    let op = Operation {
                        seq: self.board.seq() + 1,
                        author,
                        op_id: op_id.clone(),
                        change,
                    };
                    self.board.apply(&op);
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
    async fn finish(&mut self, staged: Vec<Staged>) {
        for entry in staged {
            match entry {
                Staged::Op { conn, op } => {
                    if let crate::protocol::Change::AddStroke { stroke } = &op.change {
                        if let Some(client) = self.clients.get_mut(&conn) {
                            client.previews.remove(&stroke.id);
                        }
                    }
                    let ack = encode(&ServerMessage::Ack {
                        op_id: op.op_id.clone(),
                        seq: op.seq,
                    });
                    let frame = encode(&ServerMessage::Op { op: op.clone() });
                    self.remember(op);
                    self.deliver(Arc::clone(&frame), None);
                    self.publish(Payload::Relay(frame)).await;
                    self.send_to(conn, ack);
                    self.ops_since_snapshot += 1;
                }
                Staged::Ack { conn, op_id, seq } => {
                    self.send_to(conn, encode(&ServerMessage::Ack { op_id, seq }))
                }
                Staged::Refused { conn, frame } => self.send_to(conn, frame),
            }
        }
        if self.ops_since_snapshot >= SNAPSHOT_INTERVAL {
            self.save_snapshot().await;
        }
    }

    /// During a store outage: reload, and if that works, process what was held.
    async fn recover(&mut self) {
        let Some(outage) = self.outage.take() else {
            return;
        };
        if !self.reload(outage.base_seq).await {
            self.outage = Some(outage);
            return;
        }
        info!(board = %self.id, held = outage.held.len(), "store is back; saving held requests");
        let mut held = outage.held;
        while !held.is_empty() && self.outage.is_none() {
            let rest = held.split_off(held.len().min(MAX_BATCH));
            self.submit_batch(held).await;
            held = rest;
        }
        if let Some(outage) = self.outage.as_mut() {
            outage.held.extend(held);
        }
    }

    /// After a pause, other instances may have stored more: catch up.
    async fn reload_if_behind(&mut self) -> bool {
        let base_seq = self.board.seq();
        match self.store.ops_after(&self.id, base_seq).await {
            Ok(ops) if ops.is_empty() => true,
            Ok(_) => self.reload(base_seq).await,
            Err(_) => self.reload(base_seq).await,
        }
    }

    /// Replaces the board with the store's and delivers the stored
    /// operations after `base_seq` to local clients. `false` if the store
    /// cannot be read.
    async fn reload(&mut self, base_seq: u64) -> bool {
        let stored = match self.store.load(&self.id).await {
            Ok(stored) => stored,
            Err(error) => {
                warn!(board = %self.id, %error, "could not reload the board");
                return false;
            }
        };
        let missed = match self.store.ops_after(&self.id, base_seq).await {
            Ok(missed) => missed,
            Err(error) => {
                warn!(board = %self.id, %error, "could not reload the board");
                return false;
            }
        };
        self.board = stored.into_board();
        for op in missed {
            if op.seq <= self.board.seq() {
                let frame = encode(&ServerMessage::Op { op: op.clone() });
                self.remember(op);
                self.deliver(frame, None);
            }
        }
        true
    }

    fn remember(&mut self, op: Operation) {
        self.recent.push_back(op);
        if self.recent.len() > RECENT_OPS {
            self.recent.pop_front();
        }
    }

    async fn save_snapshot(&mut self) {
        if self.ops_since_snapshot == 0 || self.outage.is_some() {
            return;
        }
        match self.store.save_snapshot(&self.id, &self.board).await {
            Ok(()) => self.ops_since_snapshot = 0,
            Err(error) => warn!(board = %self.id, %error, "could not save a snapshot"),
        }
    }

    async fn relay(&mut self, conn: ConnectionId, message: ClientMessage) {
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
                client.previews.insert(stroke.clone());
                ServerMessage::Preview {
                    author,
                    stroke,
                    style,
                    points,
                }
            }
            ClientMessage::PreviewEnd { stroke } => {
                client.previews.remove(&stroke);
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
            ClientMessage::Cursor { x, y } => ServerMessage::Cursor { author, x, y },
            ClientMessage::Profile { name } => {
                // Not relayed as such: the people list carries names.
                client.name = name;
                self.presence_dirty = true;
                return;
            }
            _ => return,
        };
        let frame = encode(&outgoing);
        self.deliver(Arc::clone(&frame), Some(conn));
        self.publish(Payload::Relay(frame)).await;
    }

    /// Something another instance published for this board.
    async fn handle_bus(&mut self, event: BusEvent) {
        let envelope = match event {
            BusEvent::Frame(envelope) if envelope.origin != self.instance => envelope,
            BusEvent::Frame(_) | BusEvent::Closed => return,
            BusEvent::Lagged(missed) => {
                warn!(board = %self.id, missed, "bus subscriber lagged; catching up from the store");
                self.catch_up_from_store().await;
                return;
            }
            BusEvent::Resync => {
                self.catch_up_from_store().await;
                self.publish_roster().await;
                return;
            }
        };
        match envelope.payload {
            Payload::Roster(Roster { people, seq }) => {
                if people.is_empty() {
                    self.remote_rosters.remove(&envelope.origin);
                } else {
                    self.remote_rosters
                        .insert(envelope.origin, (people, Instant::now()));
                }
                self.send_presence();
                if seq > self.board.seq() && self.outage.is_none() {
                    // A relayed operation never arrived: fetch it.
                    self.catch_up_from_store().await;
                }
            }
            Payload::Relay(frame) => match ServerMessage::decode(&frame) {
                // During a store outage the board is not the stored one; the
                // reload after it brings these operations.
                Ok(ServerMessage::Op { .. }) if self.outage.is_some() => {}
                Ok(ServerMessage::Op { op }) => {
                    if op.seq == self.board.seq() + 1 {
                        self.board.apply(&op);
                        self.remember(op);
                        self.deliver(frame, None);
                    } else if op.seq > self.board.seq() {
                        // A gap: fetch what we missed instead of applying out of order.
                        self.catch_up_from_store().await;
                    }
                }
                Ok(
                    ServerMessage::Preview { .. }
                    | ServerMessage::PreviewEnd { .. }
                    | ServerMessage::Draft { .. }
                    | ServerMessage::DraftEnd { .. }
                    | ServerMessage::Cursor { .. },
                ) => {
                    self.deliver(frame, None);
                }
                Ok(_) => {}
                Err(error) => warn!(board = %self.id, %error, "undecodable frame on the bus"),
            },
        }
    }

    /// Applies whatever the store holds beyond our sequence number.
    async fn catch_up_from_store(&mut self) {
        if self.outage.is_some() {
            return; // The reload after the outage does this.
        }
        match self.store.ops_after(&self.id, self.board.seq()).await {
            Ok(ops) => {
                for op in ops {
                    if op.seq != self.board.seq() + 1 {
                        break;
                    }
                    self.board.apply(&op);
                    let frame = encode(&ServerMessage::Op { op: op.clone() });
                    self.remember(op);
                    self.deliver(frame, None);
                }
            }
            Err(error) => warn!(board = %self.id, %error, "could not catch up from the store"),
        }
    }
}
